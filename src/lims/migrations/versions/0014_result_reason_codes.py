"""results keep the judgement's reason code and parameters

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
