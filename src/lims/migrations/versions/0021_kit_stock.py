"""kit lots as stock: acceptance on receipt, opening, units per test, and every movement of stock

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02

A district's holding of a kit lot (`kit_stock`) records its acceptance on receipt, the day it was opened and
the units it has left; every change of units is appended to `stock_movement` (received, consumed by a result,
quality control, broken, spoiled, other); `stock_alert` holds the low-stock and near-expiry conditions raised
once for the district's administrators. A test item says what one test uses up (`stock_unit`,
`units_per_test`, `stock_source`); a kit lot says how it is stored and how long it keeps once opened.

Backfill: the kit lots already in the database get no holding. A lot that a district holds no stock of is
not stock-tracked: its results are judged as before (an expired lot gives an invalid result) and take no
units, since nobody counted how many cards were bought. Stock tracking of a lot starts when the district
receives it (`lims stock receive`, `POST /api/v1/kit-lots/{id}/receive`); from then on the lot must be
accepted before its first use and every result takes its units.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('test_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stock_unit', S(length=24), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('units_per_test', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('stock_source', S(length=300), nullable=False, server_default=''))
    with op.batch_alter_table('kit_lot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_condition', S(length=80), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('shelf_life_after_opening_days', sa.Integer(), nullable=True))
    op.create_table(
        'kit_stock',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('kit_lot_id', sa.Integer(), nullable=False),
        sa.Column('remaining', sa.Integer(), nullable=False),
        sa.Column('min_units', sa.Integer(), nullable=True),
        sa.Column('acceptance', S(length=16), nullable=False),
        sa.Column('accepted_by_id', sa.Integer(), nullable=True),
        sa.Column('accepted_at', T(), nullable=True),
        sa.Column('acceptance_note', S(length=500), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=True),
        sa.Column('received_on', sa.Date(), nullable=True),
        sa.Column('created_at', T(), nullable=False),
        sa.ForeignKeyConstraint(['accepted_by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['kit_lot_id'], ['kit_lot.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('district_id', 'kit_lot_id', name='uq_kit_stock_district_lot'),
    )
    with op.batch_alter_table('kit_stock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_stock_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_kit_stock_kit_lot_id'), ['kit_lot_id'], unique=False)
    op.create_table(
        'stock_movement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('kit_stock_id', sa.Integer(), nullable=False),
        sa.Column('kind', S(length=16), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('balance_after', sa.Integer(), nullable=False),
        sa.Column('result_id', sa.Integer(), nullable=True),
        sa.Column('reason', S(length=500), nullable=False),
        sa.Column('by_id', sa.Integer(), nullable=True),
        sa.Column('at', T(), nullable=False),
        sa.ForeignKeyConstraint(['by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['kit_stock_id'], ['kit_stock.id']),
        sa.ForeignKeyConstraint(['result_id'], ['test_result.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('result_id', name='uq_stock_movement_result'),
    )
    with op.batch_alter_table('stock_movement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_movement_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movement_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_movement_kit_stock_id'), ['kit_stock_id'], unique=False)
    op.create_table(
        'stock_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('kit_stock_id', sa.Integer(), nullable=False),
        sa.Column('condition', S(length=16), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('raised_at', T(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['kit_stock_id'], ['kit_stock.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kit_stock_id', 'condition', name='uq_stock_alert_condition'),
    )
    with op.batch_alter_table('stock_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_alert_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alert_kit_stock_id'), ['kit_stock_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alert_raised_at'), ['raised_at'], unique=False)


def downgrade() -> None:
    op.drop_table('stock_alert')
    op.drop_table('stock_movement')
    op.drop_table('kit_stock')
    with op.batch_alter_table('kit_lot', schema=None) as batch_op:
        batch_op.drop_column('shelf_life_after_opening_days')
        batch_op.drop_column('storage_condition')
    with op.batch_alter_table('test_item', schema=None) as batch_op:
        batch_op.drop_column('stock_source')
        batch_op.drop_column('units_per_test')
        batch_op.drop_column('stock_unit')
