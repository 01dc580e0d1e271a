"""reports and complaints that consumers send from a product page, queued for the station as leads

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'consumer_lead',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('kind', S(length=12), nullable=False),
        sa.Column('code', S(length=64), nullable=False),
        sa.Column('gtin', S(length=14), nullable=True),
        sa.Column('sample_label_id', S(length=16), nullable=True),
        sa.Column('what_happened', S(length=1000), nullable=False),
        sa.Column('where_bought', S(length=200), nullable=False),
        sa.Column('contact', S(length=100), nullable=False),
        sa.Column('photo_sha256', S(length=64), nullable=True),
        sa.Column('photo_type', S(length=40), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('status', S(length=12), nullable=False),
        sa.Column('handled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.Column('handled_note', S(length=500), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['handled_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_consumer_lead_district_id'), 'consumer_lead', ['district_id'], unique=False)
    op.create_index(op.f('ix_consumer_lead_status'), 'consumer_lead', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_consumer_lead_status'), table_name='consumer_lead')
    op.drop_index(op.f('ix_consumer_lead_district_id'), table_name='consumer_lead')
    op.drop_table('consumer_lead')
