"""legal procedure after a screening positive

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

A food category says whether it is an edible agricultural product (Food Safety Law art. 88: retest within
four hours of receiving the result) or a processed food (art. 112 → 87: inspection by a qualified lab); a
sample carries the seal number of its retained part; a case records its procedure, the results notice and
its receipt (the four hours run from then, so the deadline is unknown until it is received), the suspension
of sale, the lab's verdict with its report, and the disposal; files attached to a case are stored once by
their SHA-256. Existing categories are marked edible agricultural products (the default procedure of every
case opened so far); `lims reference load` sets the shipped values.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, S(length=length), nullable=False, server_default='')


def upgrade() -> None:
    with op.batch_alter_table('food_category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edible_agricultural', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(_text('source', 300))
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.add_column(_text('seal_number', 32))
    op.create_table(
        'case_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('district_id', sa.Integer(), nullable=False),
        sa.Column('purpose', S(length=24), nullable=False),
        sa.Column('content_type', S(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', S(length=64), nullable=False),
        sa.Column('uploaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['positive_case.id']),
        sa.ForeignKeyConstraint(['district_id'], ['district.id']),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_file_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_file_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_file_sha256'), ['sha256'], unique=False)
    op.create_table(
        'file_content',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', S(length=64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sha256'),
    )
    with op.batch_alter_table('positive_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('procedure', S(length=24), nullable=False, server_default='art88_retest'))
        batch_op.alter_column('notified_at', existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        batch_op.alter_column('retest_deadline', existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        batch_op.add_column(sa.Column('notice_delivery', S(length=24), nullable=True))
        batch_op.add_column(_text('notice_recipient', 100))
        batch_op.add_column(_text('notice_recipient_role', 100))
        batch_op.add_column(sa.Column('notice_late', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('notice_recorded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sale_suspended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(_text('sale_suspension_confirmed_by', 100))
        batch_op.add_column(sa.Column('sale_suspension_recorded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('referred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(_text('retest_seal_number', 32))
        batch_op.add_column(_text('verdict_lab', 200))
        batch_op.add_column(_text('verdict_cma', 12))
        batch_op.add_column(_text('verdict_report_number', 64))
        batch_op.add_column(_text('verdict_method', 200))
        batch_op.add_column(_text('verdict_analyte', 100))
        batch_op.add_column(sa.Column('verdict_value', sa.Float(), nullable=True))
        batch_op.add_column(_text('verdict_unit', 16))
        batch_op.add_column(_text('verdict_limit', 100))
        batch_op.add_column(_text('verdict_clause', 200))
        batch_op.add_column(sa.Column('verdict_report_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('verdict_recorded_by_id', sa.Integer(), nullable=True))
        batch_op.alter_column('disposal_action', existing_type=S(), type_=S(length=24), existing_nullable=True)
        batch_op.add_column(_text('disposal_note', 500))
        batch_op.add_column(_text('disposal_officer', 100))
        batch_op.add_column(_text('disposal_witness', 100))
        batch_op.add_column(_text('disposal_acknowledged_by', 100))
        batch_op.add_column(_text('disposal_supplier', 200))
        batch_op.add_column(_text('disposal_purchase_record', 200))
        batch_op.create_foreign_key(
            'fk_positive_case_notice_recorded_by_id_app_user', 'app_user', ['notice_recorded_by_id'], ['id']
        )
        batch_op.create_foreign_key(
            'fk_positive_case_sale_suspension_recorded_by_id_app_user',
            'app_user',
            ['sale_suspension_recorded_by_id'],
            ['id'],
        )
        batch_op.create_foreign_key(
            'fk_positive_case_verdict_recorded_by_id_app_user', 'app_user', ['verdict_recorded_by_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('positive_case', schema=None) as batch_op:
        for name in ('verdict_recorded_by_id', 'sale_suspension_recorded_by_id', 'notice_recorded_by_id'):
            batch_op.drop_constraint(f'fk_positive_case_{name}_app_user', type_='foreignkey')
        for name in (
            'procedure', 'notice_delivery', 'notice_recipient', 'notice_recipient_role', 'notice_late',
            'notice_recorded_by_id', 'sale_suspended_at', 'sale_suspension_confirmed_by',
            'sale_suspension_recorded_by_id', 'referred_at', 'retest_seal_number', 'verdict_lab', 'verdict_cma',
            'verdict_report_number', 'verdict_method', 'verdict_analyte', 'verdict_value', 'verdict_unit',
            'verdict_limit', 'verdict_clause', 'verdict_report_id', 'verdict_recorded_by_id', 'disposal_note',
            'disposal_officer', 'disposal_witness', 'disposal_acknowledged_by', 'disposal_supplier',
            'disposal_purchase_record',
        ):
            batch_op.drop_column(name)
        batch_op.alter_column('disposal_action', existing_type=S(length=24), type_=S(), existing_nullable=True)
    op.drop_table('file_content')
    with op.batch_alter_table('case_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_file_sha256'))
        batch_op.drop_index(batch_op.f('ix_case_file_district_id'))
        batch_op.drop_index(batch_op.f('ix_case_file_case_id'))
    op.drop_table('case_file')
    with op.batch_alter_table('sample', schema=None) as batch_op:
        batch_op.drop_column('seal_number')
    with op.batch_alter_table('food_category', schema=None) as batch_op:
        batch_op.drop_column('source')
        batch_op.drop_column('edible_agricultural')
