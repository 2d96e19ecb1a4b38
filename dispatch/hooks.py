"""Extension points inside the ticket transaction.

Subsystems that must act *in the same transaction* as a ticket change (the
outbox of the 110 and 综治 adapters, linking a call, recording a peer's
message) are hooks.  A hook receives the change in progress
(dispatch.change.Change: the open session ``c.s``, the event's ticket
``c.t``, ``c.record`` for an event of its own, ``c.after_commit`` for steps
that run after commit, e.g. enqueueing a delivery job) and the event just
written.  A hook that raises aborts the whole change: nothing half-done is
committed.

Hooks do not register themselves: the composition root (hotline/wiring.py,
``HOOKS``) hands the list to the one ``TicketService`` of the process, so a
web process, a worker and a CLI command run the same hooks.
"""
from __future__ import annotations

from dispatch.change import Hook

__all__ = ["Hook", "on_ticket_event"]


def on_ticket_event(fn: Hook) -> Hook:
    """Gone: registering by import side effect is how a process ended up
    without its hooks.  Add the hook to ``HOOKS`` in hotline/wiring.py."""
    raise RuntimeError(f"{fn.__module__}.{fn.__qualname__}: register hooks in hotline/wiring.py (HOOKS), "
                       "not with @hooks.on_ticket_event")
