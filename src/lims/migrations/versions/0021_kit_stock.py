"""kit lots as stock: acceptance on receipt, opening, units per test, and every movement of stock

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
