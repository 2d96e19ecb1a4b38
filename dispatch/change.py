"""One ticket change in progress, as action handlers and hooks receive it.

``TicketService`` opens a ``Change`` for every accepted intake and every
action: the open session, who acts, the ticket, the action's parameters and
the moment.  Handlers and hooks write through it instead of around the
service: ``record`` adds an event (on this ticket or another one, e.g. the
lead of a merge), ``notices`` are sent to rooms after commit, ``timers``
are the SLA clocks to time after commit, ``after_commit`` holds the steps
that run once the transaction committed (enqueue a delivery …).

``on(other)`` is the same change seen from another ticket (a hook runs for
every event the change wrote, with ``c.t`` the event's ticket).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from sqlalchemy.orm import Session

from dispatch import events, rooms
from dispatch.access import Actor
from dispatch.errors import Invalid
from dispatch.ticket_json import event_summary, summary
from models import SlaClock, Ticket, TicketEvent

log = logging.getLogger(__name__)

# Runs inside the transaction for every event a change writes (the
# composition root's HOOKS); ``c.t`` is the event's ticket.
Hook = Callable[["Change", TicketEvent], None]


class Change:
    def __init__(self, s: Session, actor: Actor, t: Ticket, p: dict, now: dt.datetime,
                 _shared: "Change | None" = None):
        self.s, self.actor, self.t, self.p, self.now = s, actor, t, p, now
        if _shared is None:
            self.timers: list[SlaClock] = []
            self.notices: list[tuple[str, dict, set[str]]] = []
            self.events: list[tuple[Ticket, TicketEvent]] = []
            self.after_commit: list[Callable[[], None]] = []
        else:
            self.timers, self.notices = _shared.timers, _shared.notices
            self.events, self.after_commit = _shared.events, _shared.after_commit

    def on(self, t: Ticket) -> "Change":
        """This change as seen from ``t`` (same session, actor, moment and lists)."""
        return self if t is self.t else Change(self.s, self.actor, t, {}, self.now, _shared=self)

    def record(self, t: Ticket, action: str, reason: str, payload: dict, label: str | None = None) -> TicketEvent:
        """An event on ``t`` that does not move it (``label``: written by
        the system under that name instead of the acting user)."""
        ev = TicketEvent(ticket_id=t.id, at=self.now, actor_id=None if label else self.actor.user_id,
                         actor_label=label or self.actor.display_name, action=action, from_status=t.status,
                         to_status=t.status, reason=reason, payload=jsonable(payload),
                         unit_id=holder(t), charged_unit_id=holder(t))
        self.s.add(ev)
        self.events.append((t, ev))
        return ev

    def int_param(self, name: str) -> int:
        try:
            return int(self.p[name])
        except (KeyError, TypeError, ValueError):
            raise Invalid(f"{name} 应为整数", {name: "integer required"})

    def text_param(self, name: str, limit: int = 5000) -> str:
        value = str(self.p.get(name) or "").strip()
        if not value or len(value) > limit:
            raise Invalid(f"{name} 应为 1–{limit} 字", {name: f"1..{limit} characters"})
        return value


def write_event(s: Session, t: Ticket, actor: Actor, action: str, from_status: str | None, to_status: str,
                now: dt.datetime, reason: str = "", payload: dict | None = None,
                charged: int | None = None) -> TicketEvent:
    """An event with the unit holding ``t`` now and the unit it is charged
    to (the holder before the change; the holder itself by default)."""
    ev = TicketEvent(ticket_id=t.id, at=now, actor_id=actor.user_id, actor_label=actor.display_name,
                     action=action, from_status=from_status, to_status=to_status, reason=reason,
                     payload=jsonable(payload or {}), unit_id=holder(t),
                     charged_unit_id=charged if charged is not None else holder(t))
    s.add(ev)
    return ev


def ticket_notices(t: Ticket, evs: list[TicketEvent]) -> list[tuple[str, dict, set[str]]]:
    """The live notices of ``t``'s events, built inside the transaction, sent after commit."""
    followers = rooms.for_ticket(t)
    out = []
    for ev in evs:
        r = set(followers)
        if ev.payload.get("previous_unit_id"):
            r.add(rooms.unit(ev.payload["previous_unit_id"]))
        if ev.payload.get("from_platform_id"):
            r.add(rooms.unit(ev.payload["from_platform_id"]))
        out.append(("ticket.changed", {"ticket": summary(t), "event": event_summary(ev)}, r))
    return out


def publish_after_commit(notices, callbacks) -> None:
    """Publish the notices, then run the after-commit steps."""
    for name, payload, to in notices:
        events.publish(name, payload, to)
    for fn in callbacks:
        try:
            fn()
        except Exception:
            # Committed work is safe; the periodic sweeps redo what a
            # failed after-commit step (e.g. an enqueue) left undone.
            log.exception("after-commit step %r failed", fn)


def holder(t: Ticket) -> int | None:
    """The unit holding a ticket: its responsible unit, or its platform while it has none."""
    return t.responsible_unit_id or t.platform_id


def state_of(t: Ticket) -> dict:
    """What a refused change reports as the ticket's current state."""
    return {"id": t.id, "status": t.status, "version": t.version,
            "responsible_unit_id": t.responsible_unit_id}


def iso(v):
    return v.isoformat() if v else None


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v
