"""judgement rules: kit lots per matrix, reported values, repeats of a positive

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

* `kit_lot.matrices` (JSON, the leaflet's figures per food category), `kit_lot.detection_limit` and
  `kit_lot.detection_limit_unit` (lot-wide): a card's cut-off belongs to its lot and the matrix.
* `test_result.reported_value`: the value rounded by the method (GB/T 8170-2008), beside the full `value`.
* `test_result.repeats_required`, `repeat_runs`, `repeat_state`, `repeat_of_id`: a positive the method asks to
  repeat waits for its repeats, which are attached to it, and is consolidated with them.
Existing rows: no matrices (the lot-wide figures apply to any matrix), no reported value, no repeat asked.
"""

from alembic import op
import sqlalchemy as sa
from sqlmodel.sql.sqltypes import AutoString


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kit_lot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('matrices', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('detection_limit', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('detection_limit_unit', AutoString(length=16), nullable=False, server_default=''))
    with op.batch_alter_table('kit_lot', schema=None) as batch_op:
        batch_op.alter_column('matrices', existing_type=sa.JSON(), server_default=None)
        batch_op.alter_column('detection_limit_unit', existing_type=AutoString(length=16), server_default=None)

    with op.batch_alter_table('test_result', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_value', AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('repeats_required', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('repeat_runs', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('repeat_state', AutoString(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('repeat_of_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_test_result_repeat_of_id'), ['repeat_of_id'], unique=False)
        batch_op.create_foreign_key('fk_test_result_repeat_of_id', 'test_result', ['repeat_of_id'], ['id'])
    with op.batch_alter_table('test_result', schema=None) as batch_op:
        batch_op.alter_column('repeats_required', existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column('repeat_runs', existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column('repeat_state', existing_type=AutoString(length=16), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('test_result', schema=None) as batch_op:
        batch_op.drop_constraint('fk_test_result_repeat_of_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_test_result_repeat_of_id'))
        batch_op.drop_column('repeat_of_id')
        batch_op.drop_column('repeat_state')
        batch_op.drop_column('repeat_runs')
        batch_op.drop_column('repeats_required')
        batch_op.drop_column('reported_value')
    with op.batch_alter_table('kit_lot', schema=None) as batch_op:
        batch_op.drop_column('detection_limit_unit')
        batch_op.drop_column('detection_limit')
        batch_op.drop_column('matrices')
