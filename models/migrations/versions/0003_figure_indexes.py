"""indexes for the figures, the overdue list and a department's inbox

Measured with bench/queries.py on 1,000,000 tickets (docs/figures.md):

- ix_tickets_created_cover: the monthly figures aggregate the tickets
  accepted in a period; on PostgreSQL the index carries every column they
  read, so the scan never touches the wide ticket rows.
- ix_ticket_events_figures: the figures read only returns, extensions,
  callbacks, redos and direct answers of the period's tickets; on PostgreSQL
  a partial index over those actions, keyed by ticket id and carrying what
  is read, answers that from the index alone.  Its action list must include
  dispatch.figures.EVENT_ACTIONS (otherwise slower, never wrong).
- ix_tickets_open_due: the overdue (督办) list walks the tickets whose
  close clock runs in deadline order and stops at a page; partial over
  dispatch.figures.RUNNING.
- ix_tickets_unit_created: a department's inbox over all statuses pages
  newest-first without sorting all of its tickets.

Revision ID: 0003_figures
Revises: 0002_integrations
Create Date: 2026-11-27 09:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_figures'
down_revision = '0002_integrations'
branch_labels = None
depends_on = None

FIGURE_ACTIONS = ("return", "uphold_return", "reject_return", "request_extension", "approve_extension",
                  "callback", "redo", "direct_answer")
# Statuses whose close clock runs (dispatch.figures.RUNNING).
RUNNING = ("dispatched", "handling", "returned")


def _in(column: str, values) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(v) for v in values)})")


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_index('ix_tickets_unit_created', 'tickets', ['responsible_unit_id', 'created_at', 'id'])
    op.create_index('ix_tickets_open_due', 'tickets', ['due_at', 'id'],
                    postgresql_include=['platform_id', 'responsible_unit_id'],
                    postgresql_where=_in("status", RUNNING), sqlite_where=_in("status", RUNNING))
    if pg:
        op.create_index('ix_tickets_created_cover', 'tickets', ['created_at'],
                        postgresql_include=['id', 'responsible_unit_id', 'platform_id', 'status', 'sign_due_at',
                                            'due_at', 'dispatched_at', 'signed_at', 'replied_at', 'closed_at'])
        op.create_index('ix_ticket_events_figures', 'ticket_events', ['ticket_id'],
                        postgresql_include=['action', 'actor_id', 'payload'],
                        postgresql_where=_in("action", FIGURE_ACTIONS))
    else:
        op.create_index('ix_ticket_events_figures', 'ticket_events', ['action', 'ticket_id'])


def downgrade() -> None:
    op.drop_index('ix_ticket_events_figures', table_name='ticket_events')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_tickets_created_cover', table_name='tickets')
    op.drop_index('ix_tickets_open_due', table_name='tickets')
    op.drop_index('ix_tickets_unit_created', table_name='tickets')
