"""reference citations: the quick-test method run and the confirmatory standard per item; retired items and limits

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Each test item records the quick-test method actually run (SAMR KJ method or national rapid method) and the
laboratory reference standard separately. Items and limits that leave the reference files are marked retired
(kept for the results that name them) instead of being deleted, so their audit trail stays whole.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('test_item', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('quick_method', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='')
        )
        batch_op.add_column(
            sa.Column('reference_method', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='')
        )
        batch_op.add_column(sa.Column('retired', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('item_limit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired', sa.Boolean(), nullable=False, server_default=sa.false()))
    # what was the only method field becomes the quick method until the reference files are loaded again
    op.execute("UPDATE test_item SET quick_method = method_standard")


def downgrade() -> None:
    with op.batch_alter_table('item_limit', schema=None) as batch_op:
        batch_op.drop_column('retired')
    with op.batch_alter_table('test_item', schema=None) as batch_op:
        batch_op.drop_column('retired')
        batch_op.drop_column('reference_method')
        batch_op.drop_column('quick_method')
