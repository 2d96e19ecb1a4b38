"""outbox: unanswered attempts, first failure, why dead, claim time

Revision ID: 0009_outbox_faults
Revises: 0008_event_units
Create Date: 2026-11-30 01:45:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0009_outbox_faults'
down_revision = '0008_event_units'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timeouts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('first_failed_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dead_reason', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('claimed_at', models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('timeouts', server_default=None)
        batch_op.alter_column('dead_reason', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('dead_reason')
        batch_op.drop_column('first_failed_at')
        batch_op.drop_column('timeouts')
