"""The social-governance (综治) grid platform bridge.

Tickets in grid-management categories (矛盾纠纷 disputes, 安全隐患 safety
hazards, 特殊人群 special groups … after GB/T 31000-2015; the list is
``HOTLINE_GOVERNANCE_CATEGORIES``, comma-separated category paths) are pushed
to the platform as events when they are dispatched (or by a dispatcher's
``push_to_governance``).  The platform answers with its event id and later
sends ``status`` webhooks, recorded on the ticket as ``linkage_update``
events.  When the event closes, the 12345 ticket closes with the event's
result as its reply: the platform acts as the responsible unit (sign for if
needed, resume if waiting for the citizen, reply, close) through
``TicketService``; a ticket nobody has dispatched yet is closed by a direct
answer.
"""
from __future__ import annotations

import logging
import os

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime import jobs
from dispatch.change import Change
from dispatch.errors import Conflict, Invalid, NotFound, validate
from integrations import linkage, outbox
from models import Database, Ticket, TicketEvent, Unit, utcnow

log = logging.getLogger(__name__)
PEER = "governance"
DEFAULT_CATEGORIES = (
    "城乡建设/安全生产/安全隐患", "经济管理/安全生产/安全隐患", "政法/社会治安/消防安全",
    "政法/仲裁与调解", "国土资源/土地资源管理/土地权属纠纷", "农村农业/土地承包经营/宅基地纠纷",
    "农村农业/水利水电/水事纠纷", "民政/区划地名/边界纠纷", "环境保护/环保管理/污染损害纠纷调解",
    "政法/刑罚执行/社区矫正",
)
# The platform's event states → what the hotline shows.
STATUS_LABELS = {"received": "已受理", "assigned": "已分派网格员", "handling": "处置中",
                 "resolved": "已化解", "closed": "已办结", "rejected": "不予受理"}
CLOSING = {"resolved", "closed"}


def grid_categories() -> tuple[str, ...]:
    raw = os.environ.get("HOTLINE_GOVERNANCE_CATEGORIES")
    if raw is None:
        return DEFAULT_CATEGORIES
    return tuple(x.strip() for x in raw.split(",") if x.strip())


def is_grid_category(full_name: str | None) -> bool:
    return bool(full_name) and any(full_name == c or full_name.startswith(c + "/") for c in grid_categories())


def _event_payload(t: Ticket, reason: str) -> dict:
    return {
        "ticket": {"id": t.id, "number": t.number, "urgency": t.urgency, "category": linkage.category_name(t),
                   "due_at": t.due_at.isoformat() if t.due_at else None},
        # 保密: the platform gets the matter, not a whistle-blower's identity.
        "caller": ({"name": "", "phone": ""} if t.confidential else {"name": t.caller_name, "phone": t.caller_phone}),
        "place": {"address": t.address, "division_code": t.division_code},
        "subject": t.subject, "description": t.description, "reason": reason,
    }


def push(s: Session, t: Ticket, trigger: str, reason: str, after_commit: list) -> None:
    if linkage.find(s, t.id, PEER, "outbound") is not None:
        raise Conflict("该工单已推送综治平台", code="already_pushed")
    outbox.add(s, PEER, "event.create", _event_payload(t, reason), ticket_id=t.id,
               key=f"governance.event.{t.id}", after_commit=after_commit)
    linkage.touch(s, t, PEER, "outbound", after_commit, state="pending", trigger=trigger, last_note=reason)


def push_to_governance(c) -> dict:
    """The ``push_to_governance`` action: the event and its outbox row are
    written together."""
    push(c.s, c.t, "dispatcher", str(c.p.get("reason") or ""), c.after_commit)
    return {}


def on_ticket_event(c: Change, ev: TicketEvent) -> None:
    """Hook: a ticket in a grid category is pushed when it is dispatched."""
    s, t, after_commit = c.s, c.t, c.after_commit
    if ev.action in ("dispatch", "reassign", "uphold_return") and is_grid_category(linkage.category_name(t)) \
            and linkage.find(s, t.id, PEER, "outbound") is None:
        push(s, t, "category", f"网格化管理事项（{linkage.category_name(t)}）", after_commit)


def _delivered(msg: dict, resp: dict) -> None:
    db = jobs.database()
    event_id = str(resp.get("event_id") or "").strip()[:64]
    if not event_id:
        linkage.touch_by_id(db, msg["ticket_id"], PEER, "outbound", only_in=("pending", "failed"), state="sent",
                            last_note="已送达综治平台")
        return
    with db.session() as s:
        row = linkage.find(s, msg["ticket_id"], PEER, "outbound")
        if row is not None and (row.detail or {}).get("acknowledged_at"):
            return

    def apply(s, t, ev, after):
        # A status webhook may have overtaken the answer: keep its state.
        row = linkage.find(s, t.id, PEER, "outbound")
        later = row is not None and row.state in ("feedback", "closed")
        linkage.touch(s, t, PEER, "outbound", after, external_id=event_id,
                      detail={"acknowledged_at": utcnow().isoformat()},
                      **({} if later else {"state": "acknowledged",
                                           "last_note": f"综治平台已受理，事件编号 {event_id}"}))

    news = linkage.inbound(PEER, None, payload={"peer": PEER, "event_id": event_id, "kind": "ack"}, apply=apply)
    jobs.tickets().act(linkage.system_actor(PEER), msg["ticket_id"], "linkage_update",
                       {"reason": f"综治平台已受理，事件编号 {event_id}"}, with_change=news)


_dead, _redriven = linkage.delivery_tracking(PEER, "outbound", "推送综治平台失败", "综治平台恢复应答，自动重新推送")


# Outbox follow-ups by message kind (installed by hotline/wiring.py).
DELIVERED = {"event.create": _delivered}
DEAD = {"event.create": _dead}
REDRIVEN = {"event.create": _redriven}


# ------------------------------------------------------------------ status webhooks
class Status(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    type: str = Field(pattern=r"^status$")
    event_id: str = Field(min_length=1, max_length=64)
    ticket_number: str = Field(min_length=1, max_length=32)
    status: str = Field(pattern="^(" + "|".join(STATUS_LABELS) + ")$")
    note: str = Field("", max_length=2000)
    result: str = Field("", max_length=5000)


def parse(data: dict) -> Status:
    if data.get("type") != "status":
        raise Invalid("未知的消息类型", {"type": "status"}, code="unknown_type")
    msg = validate(Status, data)
    if msg.status in CLOSING and not msg.result:
        raise Invalid("办结须附处置结果", {"result": "required when the event closes"}, code="validation_failed")
    return msg


def handle_webhook(db: Database, data: dict, message_id: str, service=None) -> tuple[int, dict]:
    msg = parse(data)
    service = service or jobs.tickets()
    with db.session() as s:
        t = s.scalar(select(Ticket).where(Ticket.number == msg.ticket_number))
        if t is None:
            raise NotFound(f"工单 {msg.ticket_number} 不存在", {"ticket_number": "unknown"}, code="unknown_ticket")
        tid, status, unit = t.id, t.status, (s.get(Unit, t.responsible_unit_id) if t.responsible_unit_id else None)
    label = STATUS_LABELS[msg.status]
    note = f"综治事件{msg.event_id}：{label}" + (f"（{msg.note}）" if msg.note else "")
    state = "closed" if msg.status in CLOSING else "feedback"
    event_payload = {"peer": PEER, "event_id": msg.event_id, "status": msg.status, "note": msg.note,
                     "result": msg.result}

    def apply(s, t, ev, after):
        # The platform reports on the event: it has our push, whatever the
        # last delivery attempt saw.
        outbox.acknowledged(s, PEER, t.id, ("event.create",), after)
        linkage.touch(s, t, PEER, "outbound", after, state=state, external_id=msg.event_id, last_note=note,
                      detail={"status": msg.status, "status_at": utcnow().isoformat()})

    if msg.status not in CLOSING or status in ("closed", "archived", "merged", "cancelled"):
        news = linkage.inbound(PEER, message_id, payload=event_payload, apply=apply)
        service.act(linkage.system_actor(PEER), tid, "linkage_update", {"reason": note}, with_change=news)
        return 200, {"ok": True, "ticket_number": msg.ticket_number, "ticket_status": status}

    # The event is closed: close the ticket with its result.  Each step is
    # its own transaction; the message id is recorded with the last one, so
    # a retried message resumes where a failure stopped it.
    if status == "accepted" or unit is None:
        news = linkage.inbound(PEER, message_id, payload=event_payload, apply=apply)
        t = service.act(linkage.unit_actor(_platform(db, tid), PEER, "dispatcher"), tid, "direct_answer",
                        {"reply_text": msg.result}, with_change=news)
        return 200, {"ok": True, "ticket_number": msg.ticket_number, "ticket_status": t.status}
    actor = linkage.unit_actor(unit, PEER)
    if status == "dispatched":
        t = service.act(actor, tid, "sign_for", {})
        status = t.status
    if status == "awaiting_citizen":
        t = service.act(actor, tid, "resume", {"reason": f"综治事件{msg.event_id}已办结"})
        status = t.status
    if status == "handling":
        t = service.act(actor, tid, "reply", {"reply_text": msg.result})
        status = t.status
    if status != "replied":
        # e.g. returned and under review: a person decides; the news is kept.
        news = linkage.inbound(PEER, message_id, payload=event_payload, apply=apply)
        service.act(linkage.system_actor(PEER), tid, "linkage_update", {"reason": note + "；工单待人工办结"},
                    with_change=news)
        return 200, {"ok": True, "ticket_number": msg.ticket_number, "ticket_status": status}
    news = linkage.inbound(PEER, message_id, payload=event_payload, apply=apply)
    t = service.act(actor, tid, "close", {"reason": note}, with_change=news)
    return 200, {"ok": True, "ticket_number": msg.ticket_number, "ticket_status": t.status}


def _platform(db: Database, ticket_id: int) -> Unit:
    with db.session() as s:
        t = s.get(Ticket, ticket_id)
        return s.get(Unit, t.platform_id)
