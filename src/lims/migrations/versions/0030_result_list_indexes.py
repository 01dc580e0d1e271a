"""indexes for result lists read a page at a time and for reports over spans of days

Revision ID: 0030
Revises: 0028
Create Date: 2026-12-03
"""

from alembic import op


revision = '0030'
down_revision = '0028'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_test_result_status_id': ['status', 'id'],
    'ix_test_result_item_id_id': ['item_id', 'id'],
    'ix_test_result_judgement_id': ['judgement', 'id'],
    'ix_test_result_district_tested_at': ['district_id', 'tested_at'],
    'ix_test_result_district_id_id': ['district_id', 'id'],
    'ix_test_result_status_tested_at': ['status', 'tested_at'],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'test_result', columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='test_result')
