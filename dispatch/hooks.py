"""Extension points inside the ticket transaction.

Subsystems that must act *in the same transaction* as a ticket change (the
outbox of the 110 and 综治 adapters, linking a call, recording a peer's
message) are hooks.  A hook receives the open session, the ticket, the event
just written and a list to which it may append callables that run after
commit (e.g. enqueueing a delivery job).  A hook that raises aborts the whole
change: nothing half-done is committed.

Hooks do not register themselves: the composition root (hotline/wiring.py,
``HOOKS``) hands the list to the one ``TicketService`` of the process, so a
web process, a worker and a CLI command run the same hooks.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy.orm import Session

from models import Ticket, TicketEvent

Hook = Callable[[Session, Ticket, TicketEvent, list], None]


def on_ticket_event(fn: Hook) -> Hook:
    """Gone: registering by import side effect is how a process ended up
    without its hooks.  Add the hook to ``HOOKS`` in hotline/wiring.py."""
    raise RuntimeError(f"{fn.__module__}.{fn.__qualname__}: register hooks in hotline/wiring.py (HOOKS), "
                       "not with @hooks.on_ticket_event")
