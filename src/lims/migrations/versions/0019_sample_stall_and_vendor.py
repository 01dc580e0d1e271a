"""the seller a sample was taken from (被检单位 and 摊位), so a positive can be followed up at the right stall

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sample") as batch:
        batch.add_column(sa.Column("vendor", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("stall", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("sample") as batch:
        batch.drop_column("stall")
        batch.drop_column("vendor")
