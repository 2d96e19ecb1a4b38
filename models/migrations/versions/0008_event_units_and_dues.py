"""events carry their units; dues can be pending or provisional; imported calendar years

- ticket_events.unit_id / charged_unit_id: the unit holding the ticket after
  the event and the unit the event is charged to (the holder just before it).
  The service writes both; the figures count from them alone.  Events written
  before this revision get a best-effort backfill (the rule the old ledger
  used: an upheld return for the unit it was taken from, returns and
  extension requests for the person's unit, anything else for the ticket's
  holder now), and the figure_events ledger is emptied so that it is rebuilt
  from the events on the next report.
- tickets.due_state, sla_clocks.due_state / missing_year: "" | provisional |
  pending (a calendar year not shipped: no due until it is imported).
- calendar_years: years loaded with `python -m hotline calendar import FILE`.
- ix_tickets_open_due now covers awaiting_citizen too: an overdue ticket stays
  overdue while it waits for the citizen (docs/sla.md).

Revision ID: 0008_event_units
Revises: 0007_lexicon
Create Date: 2026-11-30 01:45:00
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0008_event_units'
down_revision = '0007_lexicon'
branch_labels = None
depends_on = None

OLD_RUNNING = ("dispatched", "handling", "returned")
RUNNING = ("awaiting_citizen", "dispatched", "handling", "returned")


def _in(column: str, values) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(v) for v in values)})")


def _open_due(statuses) -> None:
    op.create_index('ix_tickets_open_due', 'tickets', ['due_at', 'id'],
                    postgresql_include=['platform_id', 'responsible_unit_id'],
                    postgresql_where=_in("status", statuses), sqlite_where=_in("status", statuses))


def upgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as b:
        b.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        b.add_column(sa.Column('charged_unit_id', sa.Integer(), nullable=True))
        b.create_foreign_key(b.f('fk_ticket_events_unit_id_units'), 'units', ['unit_id'], ['id'])
        b.create_foreign_key(b.f('fk_ticket_events_charged_unit_id_units'), 'units', ['charged_unit_id'], ['id'])
    with op.batch_alter_table('tickets', schema=None) as b:
        b.add_column(sa.Column('due_state', sa.String(length=12), nullable=False, server_default=''))
    with op.batch_alter_table('sla_clocks', schema=None) as b:
        b.add_column(sa.Column('due_state', sa.String(length=12), nullable=False, server_default=''))
        b.add_column(sa.Column('missing_year', sa.Integer(), nullable=True))
    op.create_table(
        'calendar_years',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('provisional', sa.Boolean(), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('imported_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('imported_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years')),
    )
    # Best-effort units for the history written before this revision.
    holder = "(SELECT coalesce(t.responsible_unit_id, t.platform_id) FROM tickets t WHERE t.id = ticket_events.ticket_id)"
    actor_unit = ("(SELECT u.unit_id FROM users u JOIN units un ON un.id = u.unit_id "
                  "WHERE u.id = ticket_events.actor_id AND un.kind NOT IN ('province_platform', 'city_platform'))")
    if op.get_bind().dialect.name == "postgresql":
        previous = "(payload->>'previous_unit_id')::integer"
    else:
        previous = "CAST(json_extract(payload, '$.previous_unit_id') AS INTEGER)"
    op.execute(f"UPDATE ticket_events SET unit_id = {holder}, charged_unit_id = CASE "
               f"WHEN action IN ('uphold_return', 'reassign') THEN {previous} "
               f"WHEN action IN ('return', 'request_extension') THEN coalesce({actor_unit}, {holder}) "
               f"ELSE {holder} END")
    op.execute("DELETE FROM figure_events")
    op.drop_index('ix_tickets_open_due', table_name='tickets')
    _open_due(RUNNING)


def downgrade() -> None:
    op.drop_index('ix_tickets_open_due', table_name='tickets')
    _open_due(OLD_RUNNING)
    op.drop_table('calendar_years')
    with op.batch_alter_table('sla_clocks', schema=None) as b:
        b.drop_column('missing_year')
        b.drop_column('due_state')
    with op.batch_alter_table('tickets', schema=None) as b:
        b.drop_column('due_state')
    with op.batch_alter_table('ticket_events', schema=None) as b:
        b.drop_constraint(b.f('fk_ticket_events_charged_unit_id_units'), type_='foreignkey')
        b.drop_constraint(b.f('fk_ticket_events_unit_id_units'), type_='foreignkey')
        b.drop_column('charged_unit_id')
        b.drop_column('unit_id')
    op.execute("DELETE FROM figure_events")
