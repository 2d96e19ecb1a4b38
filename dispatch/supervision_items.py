"""督办 items raised inside a ticket change: one on the board of the
ticket's platform, announced live to its coordinators after commit."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch import rooms
from dispatch.change import Change, iso, jsonable
from dispatch.ticket_json import summary
from models import SupervisionItem
from models.dispatching import SUPERVISION_KINDS


def raise_item(c: Change, kind: str, reason: str, detail: dict | None = None,
               dedupe: str | None = None) -> SupervisionItem:
    """A 督办 item for ``c.t`` (with ``dedupe``, at most one per key)."""
    if dedupe:
        found = c.s.scalar(select(SupervisionItem).where(SupervisionItem.dedupe_key == dedupe))
        if found is not None:
            return found
    item = SupervisionItem(ticket_id=c.t.id, platform_id=c.t.platform_id, kind=kind, reason=reason,
                           detail=jsonable(detail or {}), dedupe_key=dedupe, created_at=c.now,
                           created_by_id=c.actor.user_id)
    if dedupe:
        # Two tickets of one burst may race to raise the same item: the
        # loser keeps the winner's, and its own ticket is not lost.
        try:
            with c.s.begin_nested():
                c.s.add(item)
                c.s.flush()
        except IntegrityError:
            return c.s.scalar(select(SupervisionItem).where(SupervisionItem.dedupe_key == dedupe))
    else:
        c.s.add(item)
        c.s.flush()
    c.notices.append(("supervision.new", {
        "id": item.id, "kind": kind, "kind_label": SUPERVISION_KINDS.get(kind, kind), "reason": reason,
        "platform_id": item.platform_id, "created_at": iso(c.now), "ticket": summary(c.t),
    }, rooms.coordinators_of(c.t)))
    return item


def resolve_items(c: Change, kind: str) -> None:
    """Every open item of ``kind`` on ``c.t`` is resolved by the acting user."""
    for item in c.s.scalars(select(SupervisionItem).where(SupervisionItem.ticket_id == c.t.id,
                                                          SupervisionItem.kind == kind,
                                                          SupervisionItem.resolved_at.is_(None))):
        item.resolved_at, item.resolved_by_id = c.now, c.actor.user_id
