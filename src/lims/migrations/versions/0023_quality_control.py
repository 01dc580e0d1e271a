"""quality-control runs per kit lot and batch, the results they hold, and blind proficiency samples

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
