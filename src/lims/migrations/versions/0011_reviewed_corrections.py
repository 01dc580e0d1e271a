"""reviewed corrections of published samples

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

A sample row keeps the data in effect (what the public sees); a correction of a sample with published
results waits in `sample_version` as a pending version until a reviewer approves or rejects it. Every
existing version took effect when it was recorded, so existing samples' current versions are the
published ones. Label ids are numbered from a per-district, per-day counter, started from the labels
already issued.
"""

from collections import defaultdict
from datetime import date

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _issued_label_counters() -> list[dict[str, object]]:
    """The highest daily sequence of each district's existing label ids, per label date."""
    last: dict[tuple[int, date], int] = defaultdict(int)
    rows = op.get_bind().execute(sa.text("SELECT district_id, label_id FROM sample"))
    for district_id, label_id in rows:
        try:
            day = date(2000 + int(label_id[2:4]), int(label_id[4:6]), int(label_id[6:8]))
            sequence = int(label_id[8:11])
        except ValueError:
            continue  # not a label this system issued: it takes no number from the counter
        key = (int(district_id), day)
        last[key] = max(last[key], sequence)
    return [{"district_id": d, "day": day, "last": n} for (d, day), n in sorted(last.items())]


def upgrade() -> None:
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_version', sa.Integer(), nullable=True))

    with op.batch_alter_table('sample_version', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='recorded')
        )
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column('review_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False, server_default='')
        )
        batch_op.create_index(batch_op.f('ix_sample_version_state'), ['state'], unique=False)
        batch_op.create_foreign_key(
            'fk_sample_version_reviewed_by_id_app_user', 'app_user', ['reviewed_by_id'], ['id']
        )

    counter = op.create_table('label_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['district.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('district_id', 'day')
    )
    issued = _issued_label_counters()
    if issued:
        op.bulk_insert(counter, issued)


def downgrade() -> None:
    op.drop_table('label_counter')
    with op.batch_alter_table('sample_version', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sample_version_reviewed_by_id_app_user', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sample_version_state'))
        batch_op.drop_column('review_reason')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('reviewed_by_id')
        batch_op.drop_column('state')

    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.drop_column('pending_version')
