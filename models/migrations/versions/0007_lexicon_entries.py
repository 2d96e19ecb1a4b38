"""lexicon entries (通俗化词条)

Revision ID: 0007_lexicon
Revises: 0006_audit
Create Date: 2026-11-30 01:45:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0007_lexicon'
down_revision = '0006_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lexicon_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phrase', sa.String(length=100), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_lexicon_entries_category_id_categories')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_lexicon_entries_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lexicon_entries')),
    sa.UniqueConstraint('phrase', name=op.f('uq_lexicon_entries_phrase'))
    )
    with op.batch_alter_table('lexicon_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lexicon_entries_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lexicon_entries_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lexicon_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lexicon_entries_updated_at'))
        batch_op.drop_index(batch_op.f('ix_lexicon_entries_category_id'))
    op.drop_table('lexicon_entries')
