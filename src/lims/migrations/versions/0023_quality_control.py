"""quality-control runs per kit lot and batch, the results they hold, and blind proficiency samples

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02

A control run (negative or positive card, blank, spiked control, standard) of an item and kit lot on a
district's local day, judged against its acceptance rule and, for quantitative controls, the Westgard rules;
results of a lot and day whose controls failed or are missing are held from review (computed from these rows,
nothing is stored on the results). A blind sample keeps the true outcome and value of a proficiency sample,
seen by administrators only, and the score of the tester's result.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'qc_control_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('kit_lot_id', sa.Integer(), nullable=True),
        sa.Column('kind', S(length=16), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('raw', sa.JSON(), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('expected', sa.Float(), nullable=True),
        sa.Column('recovery_pct', sa.Float(), nullable=True),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('reason_code', S(length=48), nullable=False),
        sa.Column('reason_params', sa.JSON(), nullable=False),
        sa.Column('westgard', sa.JSON(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=True),
        sa.Column('instrument_sequence', sa.BigInteger(), nullable=True),
        sa.Column('tester_id', sa.Integer(), nullable=False),
        sa.Column('tested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id']),
        sa.ForeignKeyConstraint(['item_id'], ['test_item.id']),
        sa.ForeignKeyConstraint(['kit_lot_id'], ['kit_lot.id']),
        sa.ForeignKeyConstraint(['tester_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instrument_id', 'instrument_sequence', name='uq_qc_control_run_reading'),
    )
    with op.batch_alter_table('qc_control_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qc_control_run_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_qc_control_run_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qc_control_run_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qc_control_run_kit_lot_id'), ['kit_lot_id'], unique=False)
    op.create_table(
        'qc_blind_sample',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('sample_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('true_outcome', S(length=16), nullable=False),
        sa.Column('true_value', sa.Float(), nullable=True),
        sa.Column('true_sd', sa.Float(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('result_id', sa.Integer(), nullable=True),
        sa.Column('score', S(length=16), nullable=False),
        sa.Column('z_score', sa.Float(), nullable=True),
        sa.Column('scored_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['item_id'], ['test_item.id']),
        sa.ForeignKeyConstraint(['result_id'], ['test_result.id']),
        sa.ForeignKeyConstraint(['sample_id'], ['sample.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sample_id', 'item_id', name='uq_qc_blind_sample_item'),
    )
    with op.batch_alter_table('qc_blind_sample', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qc_blind_sample_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_qc_blind_sample_sample_id'), ['sample_id'], unique=False)


def downgrade() -> None:
    op.drop_table('qc_blind_sample')
    op.drop_table('qc_control_run')
