"""figure_events: the figures' ledger of returns, extensions and callbacks

One row per event the figures count, with what it counts as, the unit it
counts for and the creation time of its ticket, filled incrementally from the append-only
ticket_events by dispatch.figures.refresh_ledger.  The monthly figures then
read one narrow index instead of joining every callback of the month to its
ticket and parsing its JSON payload (bench/queries.py, docs/figures.md).
A derived table: it can be emptied and rebuilt from ticket_events.

It replaces the partial events index of 0003, which the figures no longer read.

Revision ID: 0005_figure_events
Revises: 0004_dispatch
Create Date: 2026-11-27 09:30:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0005_figure_events'
down_revision = '0004_dispatch'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'figure_events',
        sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('ticket_created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        # What the event counts as (dispatch.figures.LEDGER_KINDS).
        sa.Column('kind', sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_figure_events')),
    )
    op.create_index('ix_figure_events_period', 'figure_events',
                    ['ticket_created_at', 'unit_id', 'kind'])
    op.drop_index('ix_ticket_events_figures', table_name='ticket_events')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        actions = ("return", "uphold_return", "reject_return", "request_extension", "approve_extension",
                   "callback", "redo", "direct_answer")
        op.create_index('ix_ticket_events_figures', 'ticket_events', ['ticket_id'],
                        postgresql_include=['action', 'actor_id', 'payload'],
                        postgresql_where=sa.text(f"action IN ({', '.join(repr(a) for a in actions)})"))
    else:
        op.create_index('ix_ticket_events_figures', 'ticket_events', ['action', 'ticket_id'])
    op.drop_index('ix_figure_events_period', table_name='figure_events')
    op.drop_table('figure_events')
