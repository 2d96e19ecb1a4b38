"""model versions: kind (topic model or unit router)

Revision ID: 0010_model_kind
Revises: 0009_outbox_faults
Create Date: 2026-11-30 02:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_model_kind'
down_revision = '0009_outbox_faults'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='topic', nullable=False))
        batch_op.create_index(batch_op.f('ix_model_versions_kind'), ['kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_kind'))
        batch_op.drop_column('kind')
