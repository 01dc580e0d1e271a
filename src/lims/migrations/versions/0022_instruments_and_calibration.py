"""instruments with location, calibration and maintenance records, and saved column mappings for exported files

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
