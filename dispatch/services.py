"""The only writer of tickets.

Every change goes through ``TicketService``: it locks the ticket row (and
checks the optimistic version), validates the transition against
``dispatch.workflow``, writes the ticket and its event in one transaction,
and publishes the change after commit.  Nothing here reads Flask's request.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch import clocks, events, hooks, routing
from dispatch.access import Actor, can_see
from dispatch.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.workflow import SATISFACTION, transition
from models import Category, Database, LabelCorrection, Ticket, TicketEvent, Unit, utcnow

log = logging.getLogger(__name__)


@dataclass
class IntakeData:
    channel: str
    description: str
    caller_name: str = ""
    caller_phone: str = ""
    address: str = ""
    subject: str = ""
    urgency: str = "general"
    request_type: str = "complaint"
    confidential: bool = False
    # An agent's choice, overriding the classifier (a full_name or a code).
    category: str | None = None
    # An agent's choice of unit, overriding the routing catalogue.
    unit_id: int | None = None
    call_id: str | None = None
    transcript: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Suggestion:
    """What the classifier and the routing catalogue would do with a text."""
    category: Category | None
    confidence: float | None
    abstain: bool
    top: list[tuple[str, float]]
    explain: list[tuple[str, float]]
    unit: Unit
    fallback: bool
    division_code: str
    model_version: str


def _predictor():
    from classifier import get_predictor

    return get_predictor()


class TicketService:
    def __init__(self, db: Database, predictor: Callable[[], Any] = _predictor,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.predictor = predictor
        self.clock = clock

    # ------------------------------------------------------------ intake
    def suggest(self, session: Session, platform: Unit, description: str, subject: str = "",
                address: str = "", category: str | None = None) -> Suggestion:
        pred = None
        try:
            pred = self.predictor().predict(description, subject)
        except Exception:
            # A broken model must not lose the ticket: it goes to a person.
            log.exception("classifier failed; the ticket goes to manual review")
        cat = find_category(session, category) if category else None
        if category and cat is None:
            raise Invalid("未知的分类", {"category": f"unknown category {category!r}"})
        if cat is None and pred is not None:
            cat = session.scalar(select(Category).where(Category.level == 1, Category.name == pred.label))
        division = clocks.division_of(address, platform.division_code)
        r = routing.route(session, platform, cat, division)
        return Suggestion(
            category=cat,
            confidence=float(pred.confidence) if pred else None,
            abstain=(pred is None or pred.abstain) and not category,
            top=list(pred.top) if pred else [],
            explain=list(pred.explain) if pred else [],
            unit=r.unit, fallback=r.fallback or r.unit.is_platform,
            division_code=division,
            model_version=getattr(pred, "model_version", "") if pred else "",
        )

    def create_ticket(self, actor: Actor, data: IntakeData, idempotency_key: str | None = None
                      ) -> tuple[Ticket, bool]:
        """Accept a ticket and, when the route is sure, dispatch it.

        Returns (ticket, created).  A repeated Idempotency-Key returns the
        first ticket with created=False."""
        intake_key = f"{actor.user_id or actor.username}:{idempotency_key}" if idempotency_key else None
        if intake_key:
            existing = self._by_intake_key(intake_key)
            if existing is not None:
                return existing, False
        now = self.clock()
        try:
            with self.db.session() as s:
                platform = s.get(Unit, actor.unit_id) if actor.on_platform else None
                if platform is None:
                    raise Forbidden("只有热线平台可以受理工单", code="not_a_platform")
                sug = self.suggest(s, platform, data.description, data.subject, data.address, data.category)
                unit = sug.unit
                if data.unit_id is not None:
                    unit = self._dispatchable_unit(s, actor, data.unit_id)
                t = Ticket(
                    channel=data.channel, request_type=data.request_type,
                    caller_name=data.caller_name, caller_phone=data.caller_phone,
                    confidential=data.confidential, subject=data.subject,
                    description=data.description, address=data.address,
                    division_code=sug.division_code, category_id=sug.category.id if sug.category else None,
                    category_confidence=sug.confidence, urgency=data.urgency,
                    platform_id=platform.id, status="accepted", call_id=data.call_id,
                    transcript=data.transcript, extra=dict(data.extra), created_by_id=actor.user_id,
                    intake_key=intake_key, created_at=now, updated_at=now,
                )
                t.category, t.platform = sug.category, platform
                predicted_name = sug.top[0][0] if sug.top else ""
                predicted = sug.category if sug.category is not None and sug.category.level == 1 \
                    and sug.category.name == predicted_name else \
                    s.scalar(select(Category).where(Category.level == 1, Category.name == predicted_name))
                t.suggested_category_id = predicted.id if predicted else None
                s.add(t)
                s.flush()
                t.number = ticket_number(now, t.id)
                accept = self._event(s, t, actor, "accept", None, "accepted", now, payload={
                    "suggested": predicted.full_name if predicted else None,
                    "confidence": sug.confidence, "top": sug.top, "model_version": sug.model_version,
                    "category": sug.category.full_name if sug.category else None,
                })
                new_events = [accept]
                if data.category and predicted is not None and sug.category is not None \
                        and top_level(s, sug.category).id != predicted.id:
                    s.add(LabelCorrection(ticket_id=t.id, text=_text(t), predicted_label=predicted.name,
                                          label=top_level(s, sug.category).name, source="intake_override",
                                          created_by_id=actor.user_id, created_at=now))
                auto = not sug.abstain and not unit.is_platform
                chosen = data.unit_id is not None and not unit.is_platform
                if auto or chosen:
                    self._assign(t, unit, now)
                    t.status = "dispatched"
                    new_events.append(self._event(s, t, actor, "dispatch", "accepted", "dispatched", now,
                                                  reason="人工指定" if chosen else "按派单目录自动派单",
                                                  payload={"unit": unit.code, "auto": not chosen}))
                else:
                    t.needs_review = True
                s.flush()
                after_commit: list = []
                for ev in new_events:
                    hooks.run(s, t, ev, after_commit)
                notices = self._notices(t, new_events)
            self._after_commit(notices, after_commit)
            return t, True
        except IntegrityError:
            # Two requests with one Idempotency-Key raced; the other one won.
            if intake_key:
                existing = self._by_intake_key(intake_key)
                if existing is not None:
                    return existing, False
            raise

    # ------------------------------------------------------------ actions
    def act(self, actor: Actor, ticket_id: int, action: str, params: dict | None = None,
            expected_version: int | None = None) -> Ticket:
        tr = transition(action)
        if tr is None:
            raise NotFound(f"未知操作 {action}", {"action": "unknown action"}, code="unknown_action")
        params = dict(params or {})
        now = self.clock()
        try:
            with self.db.session() as s:
                t = s.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket))
                if t is None or not can_see(actor, t):
                    raise NotFound("工单不存在或无权查看")
                if actor.role not in tr.roles:
                    raise Forbidden(f"角色 {actor.role} 不能执行 {tr.label}", code="role_not_allowed")
                if expected_version is not None and t.version != expected_version:
                    raise Conflict("工单已被他人修改，请刷新", code="stale_version", current=_state(t))
                if t.status not in tr.sources:
                    raise Conflict(f"当前状态“{t.status}”不能执行“{tr.label}”", code="transition_refused",
                                   current=_state(t))
                missing = {f: "必填 / required" for f in tr.required if params.get(f) in (None, "")}
                if missing:
                    raise Invalid("缺少必填字段", missing, code="missing_fields")
                from_status = t.status
                handler = getattr(self, f"_on_{action}", None)
                payload = handler(s, actor, t, params, now) if handler else {}
                if tr.target:
                    t.status = tr.target
                t.updated_at = now
                ev = self._event(s, t, actor, action, from_status, t.status, now,
                                 reason=str(params.get("reason") or ""), payload=payload or {})
                s.flush()
                after_commit = []
                hooks.run(s, t, ev, after_commit)
                notices = self._notices(t, [ev])
            self._after_commit(notices, after_commit)
            return t
        except StaleDataError:
            with self.db.session() as s:
                t = s.get(Ticket, ticket_id)
                raise Conflict("工单已被他人修改，请刷新", code="stale_version", current=_state(t) if t else None)

    # Side effects per action.  Each returns the event payload.
    def _on_dispatch(self, s, actor, t, p, now):
        unit = self._dispatchable_unit(s, actor, _int(p, "unit_id"))
        self._assign(t, unit, now)
        t.needs_review = False
        return {"unit": unit.code}

    def _on_sign_for(self, s, actor, t, p, now):
        t.signed_at = now
        return {"on_time": t.sign_due_at is None or now <= t.sign_due_at}

    def _on_reply(self, s, actor, t, p, now):
        t.reply_text = _text_field(p, "reply_text")
        t.replied_at = now
        return {"reply_text": t.reply_text}

    def _on_close(self, s, actor, t, p, now):
        t.closed_at = now
        return {"on_time": t.due_at is None or now <= t.due_at}

    def _on_return(self, s, actor, t, p, now):
        t.return_count += 1
        return {"return_count": t.return_count, "suggested_unit": p.get("suggested_unit", "")}

    def _on_uphold_return(self, s, actor, t, p, now):
        return self._on_reassign(s, actor, t, p, now)

    def _on_reject_return(self, s, actor, t, p, now):
        t.signed_at = t.signed_at or now
        return {}

    def _on_reassign(self, s, actor, t, p, now):
        previous = t.responsible_unit_id
        payload = self._on_dispatch(s, actor, t, p, now)
        return payload | {"previous_unit_id": previous}

    def _on_callback(self, s, actor, t, p, now):
        result = p["satisfaction"]
        if result not in SATISFACTION or result == "unsatisfied":
            raise Invalid("回访结果无效（不满意请用重办）", {"satisfaction": f"one of satisfied, "
                          f"basically_satisfied, unreachable; not {result!r}"})
        return {"satisfaction": result, "note": str(p.get("note") or "")}

    def _on_redo(self, s, actor, t, p, now):
        self._assign(t, t.responsible_unit, now)
        t.signed_at = t.replied_at = t.closed_at = None
        return {"satisfaction": "unsatisfied"}

    def _on_direct_answer(self, s, actor, t, p, now):
        t.reply_text = _text_field(p, "reply_text")
        t.replied_at = t.closed_at = now
        t.needs_review = False
        return {"reply_text": t.reply_text}

    def _on_merge(self, s, actor, t, p, now):
        into = s.get(Ticket, _int(p, "into_ticket_id"))
        if into is None or into.id == t.id or not can_see(actor, into) or into.status in ("merged", "cancelled"):
            raise Invalid("并入的工单无效", {"into_ticket_id": "no such open ticket"})
        t.merged_into_id = into.id
        return {"into": into.number}

    def _on_request_extension(self, s, actor, t, p, now):
        days = _int(p, "days")
        if not 1 <= days <= 30:
            raise Invalid("延期天数应为 1–30", {"days": "1..30"})
        return {"days": days}

    # ------------------------------------------------------------ helpers
    def _dispatchable_unit(self, s: Session, actor: Actor, unit_id: int) -> Unit:
        unit = s.get(Unit, unit_id)
        if unit is None or not unit.active:
            raise Invalid("承办单位不存在", {"unit_id": f"no active unit {unit_id}"})
        if not (actor.is_province or unit.path.startswith(actor.unit_path)):
            raise Invalid("只能派给本平台下属单位", {"unit_id": "outside your platform"})
        if unit.id == actor.unit_id:
            raise Invalid("不能派给本平台自身", {"unit_id": "is your own platform"})
        return unit

    def _assign(self, t: Ticket, unit: Unit, now: dt.datetime) -> None:
        t.responsible_unit_id = unit.id
        t.responsible_unit = unit
        t.dispatched_at = now
        t.signed_at = None
        t.sign_due_at, t.due_at = clocks.deadlines(now, t.urgency)
        if unit.is_platform:
            # Province → city platform: the city now runs the ticket.
            t.platform_id = unit.id
            t.platform = unit

    def _event(self, s, t, actor, action, from_status, to_status, now, reason="", payload=None) -> TicketEvent:
        ev = TicketEvent(ticket_id=t.id, at=now, actor_id=actor.user_id, actor_label=actor.display_name,
                         action=action, from_status=from_status, to_status=to_status, reason=reason,
                         payload=_jsonable(payload or {}))
        s.add(ev)
        return ev

    def _by_intake_key(self, key: str) -> Ticket | None:
        with self.db.session() as s:
            return s.scalar(select(Ticket).where(Ticket.intake_key == key))

    def _notices(self, t: Ticket, evs: list[TicketEvent]) -> list[tuple[str, dict, set[str]]]:
        """Built inside the transaction, sent after commit."""
        rooms = {f"unit:{t.platform_id}", "platform:all"}
        if t.responsible_unit_id:
            rooms.add(f"unit:{t.responsible_unit_id}")
        out = []
        for ev in evs:
            r = set(rooms)
            if ev.payload.get("previous_unit_id"):
                r.add(f"unit:{ev.payload['previous_unit_id']}")
            out.append(("ticket.changed", {
                "ticket": summary(t), "event": {"action": ev.action, "from": ev.from_status,
                                                "to": ev.to_status, "by": ev.actor_label,
                                                "at": ev.at.isoformat(), "reason": ev.reason},
            }, r))
        return out

    @staticmethod
    def _after_commit(notices, callbacks) -> None:
        for name, payload, rooms in notices:
            events.publish(name, payload, rooms)
        for fn in callbacks:
            try:
                fn()
            except Exception:
                # Committed work is safe; the periodic sweeps redo what a
                # failed after-commit step (e.g. an enqueue) left undone.
                log.exception("after-commit step %r failed", fn)


def summary(t: Ticket) -> dict:
    """What live notices carry: no caller identity."""
    return {
        "id": t.id, "number": t.number, "status": t.status, "version": t.version,
        "subject": t.subject or t.description[:40], "urgency": t.urgency,
        "category": t.category.full_name if t.category else None,
        "responsible_unit": t.responsible_unit.name if t.responsible_unit else None,
        "responsible_unit_id": t.responsible_unit_id, "platform_id": t.platform_id,
        "due_at": t.due_at.isoformat() if t.due_at else None,
        "sign_due_at": t.sign_due_at.isoformat() if t.sign_due_at else None,
        "needs_review": t.needs_review,
    }


def ticket_number(now: dt.datetime, ticket_id: int) -> str:
    local = now.astimezone(clocks.LOCAL_TZ)
    return f"{local:%Y%m%d}{ticket_id:06d}"


def find_category(s: Session, key: str) -> Category | None:
    return s.scalar(select(Category).where((Category.code == key) | (Category.full_name == key)
                                           | ((Category.level == 1) & (Category.name == key))))


def top_level(s: Session, c: Category) -> Category:
    while c.parent_id is not None:
        c = s.get(Category, c.parent_id)
    return c


def _state(t: Ticket) -> dict:
    return {"id": t.id, "status": t.status, "version": t.version,
            "responsible_unit_id": t.responsible_unit_id}


def _text(t: Ticket) -> str:
    return f"{t.subject} {t.description}".strip()


def _int(p: dict, name: str) -> int:
    try:
        return int(p[name])
    except (KeyError, TypeError, ValueError):
        raise Invalid(f"{name} 应为整数", {name: "integer required"})


def _text_field(p: dict, name: str, limit: int = 5000) -> str:
    value = str(p.get(name) or "").strip()
    if not value or len(value) > limit:
        raise Invalid(f"{name} 应为 1–{limit} 字", {name: f"1..{limit} characters"})
    return value


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v
