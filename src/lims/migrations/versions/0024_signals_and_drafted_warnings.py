"""signals from the hotspot analysis and warnings drafted from them

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'warning_counter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('district_id', 'year'),
    )
    # Warnings published before drafts existed stay published and unnumbered.
    with op.batch_alter_table('public_warning', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product', S(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('finding', S(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('source', S(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('advice', S(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('state', S(length=16), nullable=False, server_default='published'))
        batch_op.add_column(sa.Column('year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('drafted_at', T(), nullable=True))
        batch_op.add_column(sa.Column('drafted_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('point_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signal', sa.JSON(), nullable=True))
        batch_op.alter_column('published_at', existing_type=T(), nullable=True)
        batch_op.alter_column('published_by_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_public_warning_state'), ['state'], unique=False)
        batch_op.create_unique_constraint('uq_public_warning_district_year_sequence', ['district_id', 'year', 'sequence'])
        batch_op.create_foreign_key('fk_public_warning_drafted_by', 'app_user', ['drafted_by_id'], ['id'])
        batch_op.create_foreign_key('fk_public_warning_point', 'sampling_point', ['point_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('public_warning', schema=None) as batch_op:
        batch_op.drop_constraint('fk_public_warning_point', type_='foreignkey')
        batch_op.drop_constraint('fk_public_warning_drafted_by', type_='foreignkey')
        batch_op.drop_constraint('uq_public_warning_district_year_sequence', type_='unique')
        batch_op.drop_index(batch_op.f('ix_public_warning_state'))
        batch_op.alter_column('published_by_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('published_at', existing_type=T(), nullable=False)
        for name in ('signal', 'point_id', 'drafted_by_id', 'drafted_at', 'revision', 'sequence', 'year', 'state',
                     'advice', 'source', 'finding', 'product'):
            batch_op.drop_column(name)
    op.drop_table('warning_counter')
