"""Extension points inside the ticket transaction.

Subsystems that must act *in the same transaction* as a ticket change (the
outbox of the 110 and 综治 adapters, SLA timers, correction records) register
a hook here instead of editing the service layer.  A hook receives the open
session, the ticket, the event just written and a list to which it may append
callables that run after commit (e.g. enqueueing a delivery job).  A hook that
raises aborts the whole change: nothing half-done is committed.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from models import Ticket, TicketEvent

Hook = Callable[[Session, Ticket, TicketEvent, list], None]
_hooks: list[Hook] = []


def on_ticket_event(fn: Hook) -> Hook:
    """Decorator: register ``fn`` to run for every ticket event."""
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


def run(session: Session, ticket: Ticket, event: TicketEvent, after_commit: list) -> None:
    for fn in list(_hooks):
        fn(session, ticket, event, after_commit)


def registered() -> list[Hook]:
    return list(_hooks)
