"""What the 110 and 综治 adapters share: system actors, the ``Linkage`` rows
the coordinators' board shows, and recording a peer's message on a ticket.

A peer's message changes a ticket only through ``TicketService`` (the
``linkage_update`` action, or the ordinary actions with a system actor).
``inbound`` lets the adapter put its own rows into that same transaction
(the service's ``with_change``): the ``InboundMessage`` that makes a replay
impossible, the linkage state and the structured payload of the event, so
the ticket change, the linkage and the replay record commit together or not
at all.
"""
from __future__ import annotations

import logging
import os
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from dispatch import events, rooms
from dispatch.access import Actor
from dispatch.change import Change
from dispatch.ticket_json import brief
from models import Category, Database, InboundMessage, Linkage, Ticket, TicketEvent, Unit, utcnow

log = logging.getLogger(__name__)
SYSTEM_ROLE = "system"
LABELS = {"police110": "110联动平台", "governance": "综治平台", "telephony": "话务平台", "open311": "Open311"}


def system_actor(peer: str) -> Actor:
    """The peer itself, recording its news on a ticket (role ``system``)."""
    return Actor(None, peer, SYSTEM_ROLE, None, "province_platform", "/", LABELS.get(peer, peer))


def platform_actor(s: Session, peer: str) -> Actor:
    """The city platform that accepts what a peer pushes to 12345
    (``HOTLINE_LINKAGE_PLATFORM``: a unit code; default the first city
    platform)."""
    code = os.environ.get("HOTLINE_LINKAGE_PLATFORM", "").strip()
    q = select(Unit).where(Unit.active.is_(True))
    q = q.where(Unit.code == code) if code else q.where(Unit.kind == "city_platform").order_by(Unit.id)
    unit = s.scalar(q.limit(1))
    if unit is None:
        raise LookupError(f"no platform for {peer}: set HOTLINE_LINKAGE_PLATFORM to a platform's unit code")
    return Actor(None, peer, "agent", unit.id, unit.kind, unit.path, LABELS.get(peer, peer))


def unit_actor(unit: Unit, peer: str, role: str = "department") -> Actor:
    """The peer acting for a unit (e.g. 综治 closing a ticket on behalf of
    the unit responsible for it)."""
    return Actor(None, peer, role, unit.id, unit.kind, unit.path, f"{LABELS.get(peer, peer)}（代{unit.name}）")


# ------------------------------------------------------------------ in-transaction extras
Apply = Callable[[Session, Ticket, TicketEvent, list], None]


def inbound(peer: str, message_id: str | None, payload: dict | None = None, apply: Apply | None = None,
            result: dict | None = None) -> Callable[[Change, TicketEvent], None]:
    """What a peer's message adds to the change it causes, passed as
    ``with_change`` to ``TicketService.act`` or ``create_ticket``: the
    change's event gets ``payload`` merged in, ``apply`` runs in its
    transaction, and the inbound message id is recorded there (a replay
    then fails on the unique constraint)."""
    def add(c: Change, ev: TicketEvent) -> None:
        s, t = c.s, c.t
        if payload:
            ev.payload = {**(ev.payload or {}), **payload}
        if apply:
            apply(s, t, ev, c.after_commit)
        if message_id:
            s.add(InboundMessage(peer=peer, message_id=message_id, ticket_id=t.id,
                                 result={**(result or {}), "ticket_id": t.id, "ticket_number": t.number}))
            s.flush()

    return add


def seen(db: Database, peer: str, message_id: str) -> InboundMessage | None:
    with db.session() as s:
        return s.scalar(select(InboundMessage).where(InboundMessage.peer == peer,
                                                     InboundMessage.message_id == message_id))


def record_inbound(db: Database, peer: str, message_id: str, ticket_id: int | None, result: dict) -> None:
    """A message that changes no ticket (e.g. a duplicate ack) is still
    remembered, so it is not processed twice."""
    with db.session() as s:
        s.add(InboundMessage(peer=peer, message_id=message_id, ticket_id=ticket_id, result=result))


def category_name(t: Ticket) -> str | None:
    s = object_session(t)
    c = s.get(Category, t.category_id) if (s is not None and t.category_id) else None
    return c.full_name if c else None


# ------------------------------------------------------------------ linkage rows
def find(s: Session, ticket_id: int, peer: str, direction: str) -> Linkage | None:
    return s.scalar(select(Linkage).where(Linkage.ticket_id == ticket_id, Linkage.peer == peer,
                                          Linkage.direction == direction))


def touch(s: Session, t: Ticket, peer: str, direction: str, after_commit: list | None, **fields) -> Linkage:
    """Create or update the linkage of ``t`` with ``peer`` and tell the board
    after commit."""
    row = find(s, t.id, peer, direction)
    now = utcnow()
    if row is None:
        row = Linkage(ticket_id=t.id, peer=peer, direction=direction, created_at=now, detail={})
        s.add(row)
    for k, v in fields.items():
        if k == "detail":
            row.detail = {**(row.detail or {}), **v}
        else:
            setattr(row, k, v)
    row.updated_at = now
    s.flush()
    if after_commit is not None:
        snapshot = linkage_json(row, t)
        to = [rooms.unit(t.platform_id), rooms.ALL_PLATFORMS]
        after_commit.append(lambda: events.publish("linkage.changed", snapshot, to))
    return row


def touch_by_id(db: Database, ticket_id: int, peer: str, direction: str,
                only_in: tuple[str, ...] | None = None, **fields) -> None:
    """Update a linkage outside a ticket change (delivery results); with
    ``only_in``, only a linkage in one of those states (read under a row
    lock, so a peer's news committed meanwhile is not overwritten)."""
    after: list = []
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        if t is None:
            return
        if only_in is not None:
            row = s.scalar(select(Linkage).where(Linkage.ticket_id == ticket_id, Linkage.peer == peer,
                                                 Linkage.direction == direction).with_for_update())
            if row is None or row.state not in only_in:
                return
        touch(s, t, peer, direction, after, **fields)
    for fn in after:
        fn()


def delivery_tracking(peer: str, direction: str, failed_note: str, redriven_note: str,
                      redriven_state: str = "pending", fail_only_in: tuple[str, ...] | None = ("pending", "sent")):
    """The outbox follow-ups (dead, re-driven) that keep a linkage in step
    with the delivery of its messages: ``failed`` when one is dead-lettered
    (unless the peer's news arrived meanwhile: ``fail_only_in``), back to
    ``redriven_state`` when the peer answers again and it is re-driven."""
    from runtime import jobs

    def dead(msg: dict, info: dict) -> None:
        touch_by_id(jobs.database(), msg["ticket_id"], peer, direction, only_in=fail_only_in, state="failed",
                    last_note=f"{failed_note}：{info.get('error', '')[:200]}")

    def redriven(msg: dict, info: dict) -> None:
        touch_by_id(jobs.database(), msg["ticket_id"], peer, direction, only_in=("failed",),
                    state=redriven_state, last_note=redriven_note)

    return dead, redriven


def linkage_json(row: Linkage, t: Ticket | None = None) -> dict:
    return {
        "id": row.id, "ticket_id": row.ticket_id, "peer": row.peer, "peer_label": LABELS.get(row.peer, row.peer),
        "direction": row.direction, "state": row.state, "trigger": row.trigger,
        "external_id": row.external_id, "last_note": row.last_note, "detail": row.detail or {},
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "seen": row.seen_at is not None,
        "ticket": brief(t) if t is not None else None,
    }
