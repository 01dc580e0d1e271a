"""one name per raw figure from the wire to the judgement

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

The pesticide analyzer's readings named their figures `delta_a_control` and `delta_a_sample`; they are
now `control_dA` and `sample_dA`, the names the judgement reads. Renamed inside the stored readings of
the holding queue (`held_reading.reading` → raw) and inside the instrument's own figures that results
keep (`test_result.raw` → instrument), so that held readings stored before stay assignable. The
upgrade records the rewritten rows in the audit trail (`lims.migrations.data_rewrites`).
"""

from collections.abc import Callable, Mapping
from typing import Any

from alembic import op
import sqlalchemy as sa

from lims.migrations.data_rewrites import RAW_FIGURE_RENAMES, held_reading_raw, result_raw


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BATCH = 500


def _rewrite(table: str, column: str, change: Callable[[Any, Mapping[str, str]], Any], names: Mapping[str, str]) -> None:
    """Apply `change` to `column` of every row that mentions one of the old names (portable: JSON read and
    written by SQLAlchemy, the text search on the column cast to text)."""
    rows = sa.table(table, sa.column('id', sa.Integer), sa.column(column, sa.JSON))
    value = rows.c[column]
    mentions = sa.or_(*(sa.cast(value, sa.Text).like(f'%{old}%') for old in names))
    bind = op.get_bind()
    last = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, value).where(rows.c.id > last, mentions).order_by(rows.c.id).limit(BATCH)
        ).all()
        if not batch:
            return
        for row_id, data in batch:
            new = change(data, names)
            if new != data:
                bind.execute(rows.update().where(rows.c.id == row_id).values({column: new}))
        last = int(batch[-1][0])


def upgrade() -> None:
    _rewrite('held_reading', 'reading', held_reading_raw, RAW_FIGURE_RENAMES)
    _rewrite('test_result', 'raw', result_raw, RAW_FIGURE_RENAMES)


def downgrade() -> None:
    back = {new: old for old, new in RAW_FIGURE_RENAMES.items()}
    _rewrite('held_reading', 'reading', held_reading_raw, back)
    _rewrite('test_result', 'raw', result_raw, back)
