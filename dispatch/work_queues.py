"""Read models for the work queues: the dispatcher's review queue (returns
in dispute, low-confidence tickets, pending extensions), the coordinators'
督办 board, the agents' callback queue and a unit's 协办 (assisting) list.

Each function takes an open session and the actor, and returns plain dicts
limited to what the actor may see (a platform sees its own subtree, the
province sees all).  Resolving a board item is the one write here: it
touches no ticket.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.access import Actor, visible_clause
from dispatch.capabilities import require
from dispatch.errors import Forbidden, NotFound
from dispatch.ticket_json import queue_row, ticket_json
from dispatch.workflow import THIRD_RETURN
from models import (SUPERVISION_KINDS, Assignment, CallbackTask, ExtensionRequest, SupervisionItem, Ticket,
                    TicketEvent, Unit, utcnow)

LIMIT = 200


def _platforms(actor: Actor):
    return select(Unit.id).where(Unit.path.startswith(actor.unit_path))


def _need_platform(actor: Actor) -> None:
    if not actor.on_platform:
        raise Forbidden("仅热线平台可用", code="platform_only")


def review_queue(s: Session, actor: Actor) -> dict:
    """Returns awaiting review (with the unit's reason and view of who is
    responsible), tickets the classifier was unsure of, pending extensions."""
    _need_platform(actor)
    vis = visible_clause(actor)
    returned = s.scalars(select(Ticket).where(vis, Ticket.status == "returned")
                         .order_by(Ticket.updated_at).limit(LIMIT)).all()
    out_returns = []
    for t in returned:
        ev = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "return")
                      .order_by(TicketEvent.id.desc()).limit(1))
        out_returns.append(queue_row(t) | {
            "returned_by": ev.actor_label if ev else "", "returned_at": ev.at.isoformat() if ev else None,
            "reason": ev.reason if ev else "", "suggested_unit": (ev.payload or {}).get("suggested_unit", "") if ev else "",
            "needs_coordinator": t.return_count >= THIRD_RETURN})
    low = s.scalars(select(Ticket).where(vis, Ticket.status == "accepted", Ticket.needs_review.is_(True))
                    .order_by(Ticket.created_at).limit(LIMIT)).all()
    # Emergencies top the queue (stable: oldest first within each group).
    low = sorted(low, key=lambda t: not (t.extra or {}).get("emergency"))
    ext = s.execute(select(ExtensionRequest, Ticket).join(Ticket, Ticket.id == ExtensionRequest.ticket_id)
                    .where(vis, ExtensionRequest.state == "pending").order_by(ExtensionRequest.requested_at)
                    .limit(LIMIT)).all()
    return {
        "returns": out_returns,
        "low_confidence": [queue_row(t) for t in low],
        "extensions": [queue_row(t) | {"extension_id": r.id, "days": r.days, "reason": r.reason,
                                     "requested_at": r.requested_at.isoformat()} for r, t in ext],
    }


def supervision_board(s: Session, actor: Actor, include_resolved: bool = False) -> list[dict]:
    _need_platform(actor)
    q = select(SupervisionItem)
    if not actor.is_province:
        q = q.where(SupervisionItem.platform_id.in_(_platforms(actor)))
    if not include_resolved:
        q = q.where(SupervisionItem.resolved_at.is_(None))
    items = s.scalars(q.order_by(SupervisionItem.created_at.desc()).limit(LIMIT)).all()
    tickets = {t.id: t for t in s.scalars(select(Ticket).where(Ticket.id.in_([i.ticket_id for i in items if i.ticket_id])))}
    return [item_json(i, tickets.get(i.ticket_id)) for i in items]


def item_json(i: SupervisionItem, t: Ticket | None) -> dict:
    return {"id": i.id, "kind": i.kind, "kind_label": SUPERVISION_KINDS.get(i.kind, i.kind), "reason": i.reason,
            "detail": i.detail, "platform_id": i.platform_id, "created_at": i.created_at.isoformat(),
            "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
            "ticket": queue_row(t) if t is not None else None}


def resolve_item(s: Session, actor: Actor, item_id: int) -> dict:
    require(actor, "supervision.resolve")
    if not actor.on_platform:
        raise Forbidden("仅协调员或派单员可处理督办事项", code="role_not_allowed")
    item = s.get(SupervisionItem, item_id)
    if item is None or not (actor.is_province or s.get(Unit, item.platform_id).path.startswith(actor.unit_path)):
        raise NotFound("督办事项不存在")
    if item.resolved_at is None:
        item.resolved_at, item.resolved_by_id = utcnow(), actor.user_id
    return item_json(item, s.get(Ticket, item.ticket_id) if item.ticket_id else None)


def callback_queue(s: Session, actor: Actor) -> list[dict]:
    """Open callback tasks, the most overdue first; agents see the caller
    (they are the ones to call)."""
    _need_platform(actor)
    q = (select(CallbackTask, Ticket).join(Ticket, Ticket.id == CallbackTask.ticket_id)
         .where(CallbackTask.state == "open", Ticket.status == "closed", visible_clause(actor))
         .order_by(CallbackTask.due_at).limit(LIMIT))
    return [queue_row(t) | {"task_id": c.id, "callback_due_at": c.due_at.isoformat(), "attempts": c.attempts,
                          "round": c.round, "caller_name": t.caller_name, "caller_phone": t.caller_phone,
                          "reply_text": t.reply_text}
            for c, t in s.execute(q).all()]


def assisting(s: Session, actor: Actor, limit: int) -> list[dict]:
    """A unit's 协办 tickets, with its own part (pending / given / timed out)."""
    rows = s.execute(select(Ticket, Assignment).join(Assignment, Assignment.ticket_id == Ticket.id)
                     .where(Assignment.unit_id == actor.unit_id, Assignment.role == "assist")
                     .order_by(Ticket.created_at.desc()).limit(limit)).all()
    return [ticket_json(t, actor) | {"assist": {"state": a.state, "due_at": a.due_at.isoformat() if a.due_at else None}}
            for t, a in rows]
