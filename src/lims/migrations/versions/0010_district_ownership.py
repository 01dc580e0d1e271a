"""district ownership of points, stations and tasks

Every sampling point gets the district of its station (`sampling_point.district_id`), and station and
point codes become unique per district instead of across the database, so that a province can hold
several districts whose reference data reuse codes such as ST00 or P01.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sampling_point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('district_id', sa.Integer(), nullable=True))
    # Existing points belong to the district of their station.
    op.execute(
        'UPDATE sampling_point SET district_id = '
        '(SELECT station.district_id FROM station WHERE station.id = sampling_point.station_id)'
    )
    with op.batch_alter_table('sampling_point', schema=None) as batch_op:
        batch_op.alter_column('district_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_sampling_point_district_id_district', 'district', ['district_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_sampling_point_district_id'), ['district_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_sampling_point_code'))
        batch_op.create_unique_constraint('uq_sampling_point_district_code', ['district_id', 'code'])

    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_station_code'))
        batch_op.create_unique_constraint('uq_station_district_code', ['district_id', 'code'])


def downgrade() -> None:
    # Fails, as it should, when two districts use the same station or point code.
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.drop_constraint('uq_station_district_code', type_='unique')
        batch_op.create_index(batch_op.f('ix_station_code'), ['code'], unique=True)

    with op.batch_alter_table('sampling_point', schema=None) as batch_op:
        batch_op.drop_constraint('uq_sampling_point_district_code', type_='unique')
        batch_op.create_index(batch_op.f('ix_sampling_point_code'), ['code'], unique=True)
        batch_op.drop_index(batch_op.f('ix_sampling_point_district_id'))
        batch_op.drop_constraint('fk_sampling_point_district_id_district', type_='foreignkey')
        batch_op.drop_column('district_id')
