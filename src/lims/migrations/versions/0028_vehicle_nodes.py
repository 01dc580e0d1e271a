"""vehicle nodes and their sync with the centre

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03

At the centre: the vehicles (one-time enrolment code and credential as hashes, last contact, backlog, refused
pushes), the accepted head of each vehicle's audit chains, the idempotency keys of applied records and which
centre row each vehicle row became. On a node: its identity, the outbox written with each node-owned change,
and its cursors. Both kinds of tables exist in every database; a LIMS uses the ones of its role.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chain', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('pulled', sa.BigInteger(), nullable=False),
    sa.Column('acked', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('chain')
    )
    op.create_table('sync_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('row_key', sa.Integer(), nullable=False),
    sa.Column('operation', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('acked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('sync_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_outbox_acked_at'), ['acked_at'], unique=False)

    op.create_table('node_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vehicle', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('centre_url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('enrolled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_push', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_pull', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('offline_since', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['district.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vehicle')
    )
    op.create_table('vehicle',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrol_code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('enrol_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('credential_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('key_nonce', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('enrolled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_contact', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('backlog', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['district.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('vehicle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicle_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_vehicle_credential_hash'), ['credential_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicle_district_id'), ['district_id'], unique=False)

    op.create_table('sync_applied',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('applied_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicle.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vehicle_id', 'idempotency_key', name='uq_sync_applied_key')
    )
    with op.batch_alter_table('sync_applied', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_applied_vehicle_id'), ['vehicle_id'], unique=False)

    op.create_table('sync_row_map',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicle.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vehicle_id', 'table_name', 'node_id', name='uq_sync_row_map_node')
    )
    with op.batch_alter_table('sync_row_map', schema=None) as batch_op:
        batch_op.create_index('ix_sync_row_map_centre', ['table_name', 'centre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_row_map_vehicle_id'), ['vehicle_id'], unique=False)

    op.create_table('vehicle_chain',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('chain', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicle.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vehicle_id', 'chain', name='uq_vehicle_chain')
    )
    with op.batch_alter_table('vehicle_chain', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicle_chain_vehicle_id'), ['vehicle_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('vehicle_chain', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicle_chain_vehicle_id'))

    op.drop_table('vehicle_chain')
    with op.batch_alter_table('sync_row_map', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_row_map_vehicle_id'))
        batch_op.drop_index('ix_sync_row_map_centre')

    op.drop_table('sync_row_map')
    with op.batch_alter_table('sync_applied', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_applied_vehicle_id'))

    op.drop_table('sync_applied')
    with op.batch_alter_table('vehicle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicle_district_id'))
        batch_op.drop_index(batch_op.f('ix_vehicle_credential_hash'))
        batch_op.drop_index(batch_op.f('ix_vehicle_code'))

    op.drop_table('vehicle')
    op.drop_table('node_identity')
    with op.batch_alter_table('sync_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_outbox_acked_at'))

    op.drop_table('sync_outbox')
    op.drop_table('sync_cursor')
