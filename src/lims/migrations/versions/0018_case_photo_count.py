"""a case counts its photos, so the cap on photos holds when two uploads arrive at once

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("positive_case") as batch:
        batch.add_column(sa.Column("photo_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE positive_case SET photo_count = (SELECT count(*) FROM case_file"
        " WHERE case_file.case_id = positive_case.id AND case_file.purpose = 'disposal_photo')"
    )


def downgrade() -> None:
    with op.batch_alter_table("positive_case") as batch:
        batch.drop_column("photo_count")
