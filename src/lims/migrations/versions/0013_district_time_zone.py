"""the district's time zone as reference data

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

Every district's days (label-id dates, the vehicle's day sheet, date filters, expiry) are counted in its
own IANA time zone. Existing districts are in China: they get Asia/Shanghai, the zone their dates were
meant in.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('district', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'time_zone',
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default='Asia/Shanghai',
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('district', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
