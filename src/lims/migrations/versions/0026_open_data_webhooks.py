"""webhook subscriptions and their delivery log

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03

A district's administrators subscribe receivers (a provincial platform) to its events: results published,
positives confirmed or cleared, warnings published or withdrawn. Each event is written to the outbox in the
transaction of the change it reports, with the exact body that is signed and sent; a delivery per subscription
holds its state and next try, and every try is logged (status code, latency, error, a short excerpt).
The open-data export needs no table: it reads the published results.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'webhook_subscription',
        sa.Column('url', S(length=2048), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('description', S(length=200), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('secret', S(length=100), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('disabled_reason', S(length=300), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', T(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_subscription_district_id'), ['district_id'], unique=False)
    op.create_table(
        'webhook_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('msg_id', S(length=40), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('type', S(length=32), nullable=False),
        sa.Column('subject', S(length=64), nullable=False),
        sa.Column('occurred_at', T(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('msg_id'),
    )
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_event_district_id'), ['district_id'], unique=False)
    op.create_table(
        'webhook_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('state', S(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', T(), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('delivered_at', T(), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['webhook_event.id']),
        sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscription.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id', 'subscription_id', name='uq_webhook_delivery_event_subscription'),
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_subscription_id'), ['subscription_id'], unique=False)
    op.create_table(
        'webhook_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('at', T(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.Column('error', S(length=300), nullable=False),
        sa.Column('response_excerpt', S(length=300), nullable=False),
        sa.Column('next_attempt_at', T(), nullable=True),
        sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempt_delivery_id'), ['delivery_id'], unique=False)


def downgrade() -> None:
    op.drop_table('webhook_attempt')
    op.drop_table('webhook_delivery')
    op.drop_table('webhook_event')
    op.drop_table('webhook_subscription')
