"""suggested next-month plans weighted by risk

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'plan_suggestion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', S(length=7), nullable=False),
        sa.Column('base_version_id', sa.Integer(), nullable=True),
        sa.Column('follows_number', sa.Integer(), nullable=False),
        sa.Column('name', S(), nullable=False),
        sa.Column('digest', S(length=64), nullable=False),
        sa.Column('plan', sa.JSON(), nullable=False),
        sa.Column('minimums', sa.JSON(), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('capacity', sa.JSON(), nullable=False),
        sa.Column('status', S(length=12), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('accepted_version_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['base_version_id'], ['plan_version.id']),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['accepted_version_id'], ['plan_version.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_plan_suggestion_district_id'), 'plan_suggestion', ['district_id'], unique=False)
    op.create_index(op.f('ix_plan_suggestion_month'), 'plan_suggestion', ['month'], unique=False)
    op.create_index(op.f('ix_plan_suggestion_status'), 'plan_suggestion', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_plan_suggestion_status'), table_name='plan_suggestion')
    op.drop_index(op.f('ix_plan_suggestion_month'), table_name='plan_suggestion')
    op.drop_index(op.f('ix_plan_suggestion_district_id'), table_name='plan_suggestion')
    op.drop_table('plan_suggestion')
