"""reports and complaints that consumers send from a product page, queued for the station as leads

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
