"""instruments with location, calibration and maintenance records, and saved column mappings for exported files

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
UTC = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('instrument') as batch:
        batch.add_column(sa.Column('location', S(length=100), nullable=False, server_default=''))
    op.create_table(
        'instrument_calibration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('calibrated_on', sa.Date(), nullable=False),
        sa.Column('performed_by', S(length=100), nullable=False),
        sa.Column('certificate_number', S(length=64), nullable=False),
        sa.Column('next_due', sa.Date(), nullable=False),
        sa.Column('note', S(length=500), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('previous_due', sa.Date(), nullable=False),
        sa.Column('certificate_sha256', S(length=64), nullable=False),
        sa.Column('certificate_type', S(length=32), nullable=False),
        sa.Column('certificate_size', sa.Integer(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', UTC(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('instrument_calibration') as batch:
        batch.create_index(batch.f('ix_instrument_calibration_district_id'), ['district_id'], unique=False)
        batch.create_index(batch.f('ix_instrument_calibration_instrument_id'), ['instrument_id'], unique=False)
    op.create_table(
        'instrument_maintenance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('performed_on', sa.Date(), nullable=False),
        sa.Column('performed_by', S(length=100), nullable=False),
        sa.Column('work', S(length=500), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', UTC(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('instrument_maintenance') as batch:
        batch.create_index(batch.f('ix_instrument_maintenance_district_id'), ['district_id'], unique=False)
        batch.create_index(batch.f('ix_instrument_maintenance_instrument_id'), ['instrument_id'], unique=False)
    op.create_table(
        'reading_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('instrument_id', sa.Integer(), nullable=False),
        sa.Column('sha256', S(length=64), nullable=False),
        sa.Column('file_name', S(length=200), nullable=False),
        sa.Column('mapping', S(length=64), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('stored', sa.Integer(), nullable=False),
        sa.Column('held', sa.Integer(), nullable=False),
        sa.Column('rejected', sa.Integer(), nullable=False),
        sa.Column('imported_by_id', sa.Integer(), nullable=False),
        sa.Column('imported_at', UTC(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['imported_by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('instrument_id', 'sha256', name='uq_reading_import_instrument_file'),
    )
    with op.batch_alter_table('reading_import') as batch:
        batch.create_index(batch.f('ix_reading_import_district_id'), ['district_id'], unique=False)
        batch.create_index(batch.f('ix_reading_import_instrument_id'), ['instrument_id'], unique=False)


def downgrade() -> None:
    op.drop_table('reading_import')
    op.drop_table('instrument_maintenance')
    op.drop_table('instrument_calibration')
    with op.batch_alter_table('instrument') as batch:
        batch.drop_column('location')
