"""The only writer of tickets.

Every change goes through ``TicketService``: it locks the ticket row (and
checks the optimistic version), validates the transition against
``dispatch.workflow``, writes the ticket, its event and whatever the change
implies (SLA clocks, co-handling assignments, extension requests, 督办 items,
callback tasks, messages to the citizen) in one transaction, and publishes
the change after commit.  Nothing here reads Flask's request.

SLA clocks (models.SlaClock): every dispatch, re-dispatch and redo starts a
sign-for clock and a close clock for the unit; signing for stops the first,
the unit's reply stops the second, each recording ``met`` or ``late``.  An
approved extension pauses the close clock for its working days; awaiting the
citizen pauses it until the unit resumes.  Warnings (at 80 %) and overdue
notices are enqueued for the exact moments after commit (dispatch.sweeps),
with the periodic sweep as the safety net.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch import clocks, duplicates, events, knowledge, rooms, routing
from dispatch.access import Actor, can_see
from dispatch.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from dispatch.hooks import Hook
from dispatch import search  # noqa: F401  (its mapper events keep every ticket's search words in step)
from dispatch.ticket_json import event_summary, summary  # noqa: F401  (kept importable as dispatch.services.summary)
from dispatch.workflow import CALLBACK_TRIES, OPEN, SATISFACTION, THIRD_RETURN, THIRD_RETURN_REVIEWERS, transition
from models import (Assignment, CallbackTask, Category, Database, ExtensionRequest, LabelCorrection, RoutingRule,
                    SlaClock,
                    SupervisionItem, Ticket, TicketEvent, Unit, utcnow)
from models.dispatching import SUPERVISION_KINDS

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
    # Keep the ticket with the agent (no automatic dispatch): it is about
    # to be answered directly (直办) from the knowledge base.
    hold: bool = False


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
    # Unit routing (issue 9): the unit's calibrated confidence, the three
    # best units with theirs, and why (lexicon entries and words).
    unit_confidence: float | None = None
    unit_top: list[tuple[Unit, float]] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)
    unit_model_version: str = ""
    # every unit label's probability (a unit code, or "district")
    unit_scores: dict[str, float] = field(default_factory=dict)

    def routing_payload(self) -> dict:
        """What the accept event keeps of the suggestion: the dispatcher's
        form and the retraining job read it back."""
        if self.unit_confidence is None:
            return {}
        return {"unit": unit_label(self.unit) if not self.unit.is_platform else None,
                "confidence": round(self.unit_confidence, 4),
                "matter": self.category.full_name if self.category else None,
                "top": [[unit_label(u), round(p, 4)] for u, p in self.unit_top],
                "scores": self.unit_scores, "reasons": self.reasons[:8],
                "model_version": self.unit_model_version}


def unit_label(unit: Unit) -> str:
    """A unit as the router names it: its code, or ``district``."""
    return "district" if unit.kind == "district" else unit.code


def _predictor():
    from classifier import get_predictor

    return get_predictor()


def _unit_router():
    from classifier import units

    return units.get_router()


class NotWired(DomainError):
    """An action whose handler this process was not given (e.g. 转110 in a
    process built without the 110 adapter): refused, never silently recorded."""
    status, code = 503, "action_not_wired"


class TicketService:
    """Built once per process by the composition root (hotline/wiring.py),
    which hands it every hook and every action handler the adapters carry
    out (``handlers``: action name → handler taking the change)."""

    def __init__(self, db: Database, predictor: Callable[[], Any] = _predictor,
                 clock: Callable[[], dt.datetime] = utcnow, hooks: Iterable[Hook] = (),
                 handlers: Mapping[str, Callable] | None = None,
                 unit_router: Callable[[], Any] | None | str = "auto"):
        self.db = db
        self.predictor = predictor
        self.clock = clock
        self.hooks: tuple[Hook, ...] = tuple(hooks)
        self.handlers: dict[str, Callable] = dict(handlers or {})
        # The unit router decides the unit; a service built with its own
        # topic predictor (tests) routes by topic and catalogue only unless
        # given a router too.
        if unit_router == "auto":
            unit_router = _unit_router if predictor is _predictor else None
        self.unit_router = unit_router

    def handler_for(self, action: str) -> Callable | None:
        return self.handlers.get(action) or getattr(self, f"_on_{action}", None)

    def _run_hooks(self, s: Session, t: Ticket, ev: TicketEvent, after_commit: list) -> None:
        for fn in self.hooks:
            fn(s, t, ev, after_commit)

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
        division = clocks.division_of(address, platform.division_code)
        if cat is None and self.unit_router is not None:
            routed = self._route_unit(session, platform, description, subject, division, pred)
            if routed is not None:
                return routed
        if cat is None and pred is not None:
            cat = session.scalar(select(Category).where(Category.level == 1, Category.name == pred.label))
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

    def _route_unit(self, session: Session, platform: Unit, description: str, subject: str, division: str,
                    pred) -> Suggestion | None:
        """The unit router's decision turned into units of this platform:
        the matter is the strongest lexicon entry that agrees with the
        chosen unit (else the broadest category the catalogue gives that
        unit); the catalogue then places it (a place-specific rule, such as
        a district's own 城管执法, wins); ``district`` without a known place
        is left to a person."""
        from dispatch import lexicon as dlex

        try:
            rt = dlex.current(session, platform)
            up = self.unit_router().predict(description, rt.lexicon, subject)
        except Exception:
            log.exception("unit router failed; routing by topic and catalogue")
            return None
        matter = None
        name = up.matter()
        if name and name in rt.category_ids:
            matter = session.get(Category, rt.category_ids[name])
        if matter is None and pred is not None and rt.labels.get(rt.category_ids.get(pred.label)) == up.unit:
            matter = session.get(Category, rt.category_ids[pred.label])   # a level-1 full name is its name
        if matter is None and up.unit in rt.home:
            matter = session.get(Category, rt.home[up.unit])
        def unit_for(label: str) -> Unit | None:
            uid = rt.district_of(division) if label == "district" else rt.unit_ids.get(label)
            return session.get(Unit, uid) if uid is not None else None

        r = routing.route(session, platform, matter, division)
        chosen = r.unit
        rule = session.get(RoutingRule, r.rule_id) if r.rule_id else None
        if chosen.is_platform or (unit_label(chosen) != up.unit and not (rule and rule.division_code)):
            chosen = unit_for(up.unit) or platform
        top = []
        # the three best units this platform can name (``district`` needs a place)
        ranked = sorted((getattr(up, "scores", None) or dict(up.top)).items(), key=lambda kv: -kv[1])
        for label, p in ranked:
            if len(top) >= 3:
                break
            u = unit_for(label)
            if u is not None and all(u.id != x.id for x, _ in top):
                top.append((u, float(p)))
        if not chosen.is_platform and all(chosen.id != u.id for u, _ in top):
            top.insert(0, (chosen, float(up.confidence)))
        return Suggestion(
            category=matter,
            confidence=float(pred.confidence) if pred else None,
            abstain=bool(up.abstain) or chosen.is_platform,
            top=list(pred.top) if pred else [],
            explain=list(pred.explain) if pred else [],
            unit=chosen, fallback=chosen.is_platform,
            division_code=division,
            model_version=getattr(pred, "model_version", "") if pred else "",
            unit_confidence=float(up.confidence), unit_top=top[:3], reasons=up.reasons(),
            unit_model_version=up.model_version, unit_scores=dict(getattr(up, "scores", {}) or {}),
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
                clocks.sync(s)
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
                dups = duplicates.candidates(s, t, now)
                accept = self._event(s, t, actor, "accept", None, "accepted", now, payload={
                    "urgency": t.urgency, "suggested": predicted.full_name if predicted else None,
                    "confidence": sug.confidence, "top": sug.top, "model_version": sug.model_version,
                    "category": sug.category.full_name if sug.category else None,
                    "duplicates": [d.as_json() for d in dups],
                    "routing": sug.routing_payload(),
                })
                c = _Change(s, actor, t, {}, now)
                new_events = [accept]
                if data.category and predicted is not None and sug.category is not None \
                        and top_level(s, sug.category).id != predicted.id:
                    s.add(LabelCorrection(ticket_id=t.id, text=_text(t), predicted_label=predicted.name,
                                          label=top_level(s, sug.category).name, source="intake_override",
                                          created_by_id=actor.user_id, created_at=now))
                chosen = data.unit_id is not None
                if chosen and sug.unit_confidence is not None and unit.id != sug.unit.id and not unit.is_platform:
                    # The agent's choice of unit is a correction of the router.
                    s.add(LabelCorrection(ticket_id=t.id, text=_text(t),
                                          predicted_label=unit_label(sug.unit) if not sug.unit.is_platform else "",
                                          label=unit_label(unit), source="unit_override",
                                          created_by_id=actor.user_id, created_at=now))
                if unit.is_platform and unit.id != platform.id:
                    # Province → city platform (两级平台): the city runs the
                    # ticket and its catalogue picks the unit.
                    t.platform_id, t.platform = unit.id, unit
                    new_events.append(self._event(s, t, actor, "forward", "accepted", "accepted", now,
                                                  reason="人工指定转下级平台" if chosen else "按派单目录转下级平台",
                                                  payload={"unit": unit.code, "from_platform_id": platform.id},
                                                  charged=platform.id))
                    unit, chosen = routing.route(s, unit, sug.category, sug.division_code).unit, False
                auto = not sug.abstain and not unit.is_platform and not data.hold
                chosen = chosen and not unit.is_platform
                if auto or chosen:
                    before = holder(t)
                    self._assign(c, unit)
                    t.status = "dispatched"
                    new_events.append(self._event(s, t, actor, "dispatch", "accepted", "dispatched", now,
                                                  reason="人工指定" if chosen else "按派单目录自动派单",
                                                  payload={"unit": unit.code, "auto": not chosen, "assist_units": []},
                                                  charged=before))
                else:
                    t.needs_review = True
                hot = duplicates.hot_event(s, t, now)
                if hot is not None:
                    self._raise_item(c, "hot_event", hot["reason"], detail=hot, dedupe=hot["key"])
                s.flush()
                after_commit = c.after_commit
                for ev in new_events:
                    self._run_hooks(s, t, ev, after_commit)
                notices = self._notices(t, new_events) + c.notices
                after_commit += self._timers(c)
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
        handler = self.handler_for(action)
        if handler is None and not tr.record_only:
            raise NotWired(f"“{tr.label}”在本进程未接入，操作未执行", {"action": "no handler wired"})
        params = dict(params or {})
        now = self.clock()
        try:
            with self.db.session() as s:
                clocks.sync(s)
                t = s.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket))
                if t is None or not (can_see(actor, t) or self._assists(s, actor, t)):
                    raise NotFound("工单不存在或无权查看")
                if actor.role not in tr.roles:
                    raise Forbidden(f"角色 {actor.role} 不能执行 {tr.label}", code="role_not_allowed")
                if tr.unit_scoped and not actor.on_platform and t.responsible_unit_id != actor.unit_id:
                    raise Forbidden("协办单位只能提交协办意见", code="not_the_lead_unit")
                if expected_version is not None and t.version != expected_version:
                    raise Conflict("工单已被他人修改，请刷新", code="stale_version", current=_state(t))
                if t.status not in tr.sources:
                    raise Conflict(f"当前状态“{t.status}”不能执行“{tr.label}”", code="transition_refused",
                                   current=_state(t))
                missing = {f: "必填 / required" for f in tr.required if params.get(f) in (None, "", [])}
                if missing:
                    raise Invalid("缺少必填字段", missing, code="missing_fields")
                from_status, charged = t.status, holder(t)
                c = _Change(s, actor, t, params, now)
                payload = handler(c) if handler else {}
                if tr.target:
                    t.status = tr.target
                t.updated_at = now
                ev = self._event(s, t, actor, action, from_status, t.status, now,
                                 reason=str(params.get("reason") or ""), payload=payload or {}, charged=charged)
                s.flush()
                after_commit = c.after_commit
                self._run_hooks(s, t, ev, after_commit)
                for other, oev in c.events:
                    self._run_hooks(s, other, oev, after_commit)
                s.flush()
                notices = self._notices(t, [ev]) + c.notices
                for other in {o.id: o for o, _ in c.events if o.id != t.id}.values():
                    notices += self._notices(other, [e for o, e in c.events if o.id == other.id])
                after_commit += self._timers(c)
            self._after_commit(notices, after_commit)
            return t
        except StaleDataError:
            with self.db.session() as s:
                t = s.get(Ticket, ticket_id)
                raise Conflict("工单已被他人修改，请刷新", code="stale_version", current=_state(t) if t else None)
        except OperationalError as e:
            # Two merges locking the same pair of tickets in opposite order:
            # PostgreSQL breaks the deadlock by failing one; it is a conflict.
            if "deadlock" not in str(e).lower():
                raise
            with self.db.session() as s:
                t = s.get(Ticket, ticket_id)
                raise Conflict("工单正被他人处理，请刷新", code="stale_version",
                               current=_state(t) if t else None) from None

    # Side effects per action.  Each takes the change and returns the event payload.
    def _on_dispatch(self, c):
        unit = self._dispatchable_unit(c.s, c.actor, _int(c.p, "unit_id"))
        if unit.is_platform:
            raise Invalid("派往下级平台请用“转下级平台”", {"unit_id": "is a platform: use forward"})
        assists = [self._dispatchable_unit(c.s, c.actor, int(u)) for u in (c.p.get("assist_unit_ids") or [])]
        if any(a.id == unit.id or a.is_platform for a in assists):
            raise Invalid("协办单位无效", {"assist_unit_ids": "not the lead, not a platform"})
        self._assign(c, unit, assists)
        c.t.needs_review = False
        return {"unit": unit.code, "auto": False, "assist_units": [a.code for a in assists]}

    def _on_forward(self, c):
        unit = self._dispatchable_unit(c.s, c.actor, _int(c.p, "unit_id"))
        if unit.kind != "city_platform":
            raise Invalid("只能转给下级城市平台", {"unit_id": "not a city platform"})
        previous = c.t.platform_id
        c.t.platform_id, c.t.platform = unit.id, unit
        c.t.needs_review = True
        return {"unit": unit.code, "from_platform_id": previous}

    def _on_sign_for(self, c):
        c.t.signed_at = c.now
        clock = self._stop(c, "sign")
        return {"on_time": clock is None or clock.outcome == "met"}

    def _on_return(self, c):
        t = c.t
        t.return_count += 1
        if t.return_count >= THIRD_RETURN:
            item = self._raise_item(c, "third_return", f"第{t.return_count}次退单，需协调员审核：{c.p['reason']}",
                                    dedupe=f"return:{t.id}:{t.return_count}")
            c.record(t, "escalate", f"第{t.return_count}次退单转协调员", {"item_id": item.id, "kind": item.kind})
        return {"return_count": t.return_count, "suggested_unit": str(c.p.get("suggested_unit") or "")}

    def _review_return(self, c):
        if c.t.return_count >= THIRD_RETURN and c.actor.role not in THIRD_RETURN_REVIEWERS:
            raise Forbidden("第三次及以上退单由协调员审核", code="coordinator_review")
        for item in c.s.scalars(select(SupervisionItem).where(SupervisionItem.ticket_id == c.t.id,
                                                              SupervisionItem.kind == "third_return",
                                                              SupervisionItem.resolved_at.is_(None))):
            item.resolved_at, item.resolved_by_id = c.now, c.actor.user_id

    def _on_uphold_return(self, c):
        self._review_return(c)
        t = c.t
        changed = False
        if c.p.get("category"):
            cat = find_category(c.s, str(c.p["category"]))
            if cat is None:
                raise Invalid("未知的分类", {"category": "unknown category"})
            if cat.id != t.category_id:
                old = top_level(c.s, t.category).name if t.category else ""
                c.s.add(LabelCorrection(ticket_id=t.id, text=_text(t), predicted_label=old,
                                        label=top_level(c.s, cat).name, source="return_upheld",
                                        created_by_id=c.actor.user_id, created_at=c.now))
                t.category_id, t.category, changed = cat.id, cat, True
        payload = self._redispatch(c)
        return payload | {"return_count": t.return_count, "category_changed": changed}

    def _on_reject_return(self, c):
        self._review_return(c)
        # The unit keeps the ticket and its clocks keep running; if it returned
        # it before signing, the rejection counts as its signing for it.
        if c.t.signed_at is None:
            c.t.signed_at = c.now
            self._stop(c, "sign")
        return {"return_count": c.t.return_count}

    def _on_reassign(self, c):
        return self._redispatch(c)

    def _redispatch(self, c):
        previous = c.t.responsible_unit_id
        unit = self._dispatchable_unit(c.s, c.actor, _int(c.p, "unit_id"))
        if unit.is_platform or unit.id == previous:
            raise Invalid("请选择另一个承办单位", {"unit_id": "another unit, not a platform"})
        self._assign(c, unit)
        c.t.needs_review = False
        return {"unit": unit.code, "previous_unit_id": previous}

    def _on_await_citizen(self, c):
        clock = self._running(c.s, c.t, "close")
        if clock is not None:
            clock.pauses = clocks.open_pause(clock.pauses, clocks.CITIZEN, c.now)
            self._recompute(c, clock)
        return {}

    def _on_resume(self, c):
        clock = self._running(c.s, c.t, "close")
        paused_for = 0
        if clock is not None and clocks.is_open(clock.pauses, clocks.CITIZEN):
            opened = next(p for p in clocks.normalise(clock.pauses)
                          if p["kind"] == clocks.CITIZEN and p.get("to") is None)["from"]
            clock.pauses, held = clocks.close_pauses(clock.pauses, c.now, clocks.CITIZEN)
            paused_for = int(held.total_seconds())
            self._recompute(c, clock)
            approved = [p for p in clocks.normalise(clock.pauses) if p["kind"] == clocks.EXTENSION
                        and dt.datetime.fromisoformat(p["from"]) >= dt.datetime.fromisoformat(opened)]
            if approved and c.t.due_at is not None:
                # The extension was approved while the ticket waited: the
                # citizen learns the date now that the clock runs again.
                self._tell_due(c, "extension_due_known", "恢复办理后告知办结期限")
        return {"paused_for_s": paused_for, "due_at": c.t.due_at}

    def _on_give_input(self, c):
        a = c.s.scalar(select(Assignment).where(Assignment.ticket_id == c.t.id, Assignment.unit_id == c.actor.unit_id,
                                                Assignment.role == "assist"))
        if a is None or c.actor.on_platform:
            raise Forbidden("本单位不是该工单的协办单位", code="not_an_assisting_unit")
        if a.state == "given":
            raise Conflict("已提交协办意见", code="input_already_given", current=_state(c.t))
        on_time = a.due_at is None or c.now <= a.due_at
        a.state, a.input_text, a.given_at = "given", _text_field(c.p, "reply_text"), c.now
        return {"unit": c.actor.unit_id, "on_time": on_time, "reply_text": a.input_text}

    def _on_reply(self, c):
        t = c.t
        waiting = []
        for a in c.s.scalars(select(Assignment).where(Assignment.ticket_id == t.id, Assignment.role == "assist",
                                                      Assignment.state == "pending")):
            if a.due_at is not None and c.now > a.due_at:
                a.state = "timed_out"
            else:
                waiting.append(a.unit_id)
        if waiting:
            raise Conflict("协办单位尚未反馈且未超过协办时限", code="assist_pending", current=_state(t),
                           fields={"assist_unit_ids": waiting})
        t.reply_text = _text_field(c.p, "reply_text")
        t.replied_at = c.now
        clock = self._stop(c, "close")
        return {"reply_text": t.reply_text, "on_time": clock is None or clock.outcome == "met"}

    def _on_close(self, c):
        t = c.t
        t.closed_at = c.now
        clock = c.s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == "close")
                           .order_by(SlaClock.id.desc()).limit(1))
        if clock is not None and clock.stopped_at is None:
            clock = self._stop(c, "close")
        on_time = clock.outcome == "met" if clock is not None else (t.due_at is None or c.now <= t.due_at)
        self._callback_task(c)
        self._answer_merged(c)
        return {"on_time": on_time}

    def _on_request_extension(self, c):
        days = _int(c.p, "days")
        if not 1 <= days <= 30:
            raise Invalid("延期天数应为 1–30", {"days": "1..30"})
        if self._pending_extension(c) is not None:
            raise Conflict("已有待审批的延期申请", code="extension_pending", current=_state(c.t))
        req = ExtensionRequest(ticket_id=c.t.id, unit_id=c.t.responsible_unit_id, days=days,
                               reason=str(c.p["reason"]), requested_by_id=c.actor.user_id, requested_at=c.now)
        c.s.add(req)
        c.s.flush()
        return {"extension_id": req.id, "days": days}

    def _pending_extension(self, c) -> ExtensionRequest | None:
        return c.s.scalar(select(ExtensionRequest).where(ExtensionRequest.ticket_id == c.t.id,
                                                         ExtensionRequest.state == "pending"))

    def _decide_extension(self, c, state: str) -> ExtensionRequest:
        req = self._pending_extension(c)
        if req is None:
            raise Conflict("没有待审批的延期申请", code="no_pending_extension", current=_state(c.t))
        req.state, req.decided_by_id, req.decided_at = state, c.actor.user_id, c.now
        req.decision_reason = str(c.p.get("reason") or "")
        return req

    def _on_approve_extension(self, c):
        req = self._decide_extension(c, "approved")
        clock = self._running(c.s, c.t, "close")
        if clock is not None:
            clock.pauses = clocks.extension_pause(clock.pauses, c.now, req.days, req.id)
            self._recompute(c, clock)
        text = f"您反映的问题（工单 {c.t.number}）承办单位申请延期{req.days}个工作日，已获批准"
        if c.t.due_at is not None:
            text += f"，预计于{c.t.due_at.astimezone(clocks.LOCAL_TZ):%Y年%m月%d日%H:%M}前办结。"
        elif c.t.due_state == clocks.PENDING:
            text += "，办结期限待节假日安排公布后另行告知。"
        else:
            # Awaiting the citizen: the clock is stopped, the date follows the resume.
            text += "，计时在您补充材料、恢复办理后继续，届时告知办结期限。"
        c.record(c.t, "notify_citizen", "延期告知", {"kind": "extension_approved", "text": text})
        return {"extension_id": req.id, "days": req.days, "due_at": c.t.due_at}

    def _tell_due(self, c, kind: str, reason: str) -> None:
        due = c.t.due_at.astimezone(clocks.LOCAL_TZ)
        c.record(c.t, "notify_citizen", reason, {
            "kind": kind, "text": f"您反映的问题（工单 {c.t.number}）已恢复办理，预计于{due:%Y年%m月%d日%H:%M}前办结。"})

    def _on_refuse_extension(self, c):
        req = self._decide_extension(c, "refused")
        return {"extension_id": req.id}

    def _on_supervise(self, c):
        item = self._raise_item(c, "manual", str(c.p["reason"]))
        return {"item_id": item.id}

    def _open_callback(self, c) -> CallbackTask:
        task = c.s.scalar(select(CallbackTask).where(CallbackTask.ticket_id == c.t.id, CallbackTask.state == "open")
                          .order_by(CallbackTask.id.desc()).limit(1))
        return task if task is not None else self._callback_task(c)

    def _on_callback_no_answer(self, c):
        task = self._open_callback(c)
        if task.attempts >= CALLBACK_TRIES - 1:
            raise Invalid(f"第{CALLBACK_TRIES}次未接通请记录为“无法联系”",
                          {"satisfaction": "record unreachable"}, code="last_try_is_unreachable")
        task.attempts += 1
        return {"attempts": task.attempts}

    def _on_callback(self, c):
        result = str(c.p["satisfaction"])
        if result not in SATISFACTION or result == "unsatisfied":
            raise Invalid("回访结果无效（不满意请用重办）", {"satisfaction": "one of satisfied, "
                          f"basically_satisfied, unreachable; not {result!r}"})
        task = self._open_callback(c)
        if result == "unreachable":
            if task.attempts < CALLBACK_TRIES - 1:
                raise Invalid(f"需先{CALLBACK_TRIES - 1}次未接通，第{CALLBACK_TRIES}次才可记为无法联系",
                              {"satisfaction": "not yet"}, code="too_few_tries")
        task.attempts += 1
        note = str(c.p.get("note") or "")
        task.state, task.result, task.note = "done", result, note
        task.completed_at, task.completed_by_id = c.now, c.actor.user_id
        return {"satisfaction": result, "note": note, "attempts": task.attempts}

    def _on_redo(self, c):
        if c.p["satisfaction"] != "unsatisfied":
            raise Invalid("重办需回访结果为不满意", {"satisfaction": "must be unsatisfied"})
        t = c.t
        task = self._open_callback(c)
        note = str(c.p.get("note") or c.p.get("reason") or "")
        task.attempts += 1
        task.state, task.result, task.note = "done", "unsatisfied", note
        task.completed_at, task.completed_by_id = c.now, c.actor.user_id
        unit = t.responsible_unit
        if c.p.get("unit_id"):
            unit = self._dispatchable_unit(c.s, c.actor, _int(c.p, "unit_id"))
        if unit is None or unit.is_platform:
            raise Invalid("重办需指定承办单位", {"unit_id": "required: the ticket has no handling unit"})
        round_ = self._round(c) + 1
        self._assign(c, unit, round_=round_, keep_assists=True)
        t.replied_at = t.closed_at = None
        return {"satisfaction": "unsatisfied", "note": note, "round": round_, "unit": unit.code}

    def _on_direct_answer(self, c):
        t = c.t
        # The knowledge-base entry answered from, when one was (its id and version).
        cited = knowledge.cited(c.s, c.p["knowledge_id"]) if c.p.get("knowledge_id") is not None else {}
        t.reply_text = _text_field(c.p, "reply_text")
        t.replied_at = t.closed_at = c.now
        t.needs_review = False
        self._callback_task(c)
        return {"reply_text": t.reply_text, **cited}

    def _on_merge(self, c):
        t = c.t
        into = c.s.scalar(select(Ticket).where(Ticket.id == _int(c.p, "into_ticket_id")).with_for_update(of=Ticket))
        if into is None or into.id == t.id or not can_see(c.actor, into) or into.status not in OPEN:
            raise Invalid("并入的工单无效（须为可见的未办结工单）", {"into_ticket_id": "no such open ticket"})
        t.merged_into_id = into.id
        mine = self._running(c.s, t, "close")
        start = mine.started_at if mine is not None else t.created_at
        for stage in ("sign", "close"):
            self._stop(c, stage, outcome="merged")
        carried = None
        theirs = self._running(c.s, into, "close")
        if theirs is not None and start < theirs.started_at:
            # The lead now answers the earliest caller: it carries the earliest clock.
            theirs.started_at = start
            self._recompute(_Change(c.s, c.actor, into, {}, c.now, c.timers, c.notices, c.events, c.after_commit),
                            theirs)
            carried = start
        elif theirs is None and into.status == "accepted":
            # Not dispatched yet: its first close clock will start from here.
            earlier = (into.extra or {}).get("close_clock_from")
            if earlier is None or start < dt.datetime.fromisoformat(earlier):
                into.extra = {**(into.extra or {}), "close_clock_from": start.isoformat()}
                carried = start
        into.updated_at = c.now
        c.record(into, "absorb", str(c.p.get("reason") or ""), {"from": t.number, "from_id": t.id,
                                                                 "clock_started_at": carried})
        return {"into": into.number, "into_id": into.id}

    def _on_cancel(self, c):
        for stage in ("sign", "close"):
            self._stop(c, stage, outcome="cancelled")
        return {}

    def _clock_for(self, c) -> SlaClock:
        clock = c.s.get(SlaClock, _int(c.p, "clock_id"))
        if clock is None or clock.ticket_id != c.t.id or clock.stopped_at is not None:
            raise Conflict("计时已结束", code="clock_stopped", current=_state(c.t))
        return clock

    def _on_recompute_dues(self, c):
        """Dues of the running clocks counted again on the calendar in force
        (after `calendar import` loaded a year); refused when nothing moves."""
        t = c.t
        before = {"sign_due_at": t.sign_due_at, "due_at": t.due_at, "due_state": t.due_state}
        for stage in ("sign", "close"):
            clock = self._running(c.s, t, stage)
            if clock is not None:
                self._recompute(c, clock)
                continue
            # Signed for or replied while the due was pending: judged now.
            last = c.s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == stage)
                              .order_by(SlaClock.id.desc()).limit(1))
            if last is not None and last.due_state == clocks.PENDING and last.outcome in ("met", "late"):
                self._apply(last, clocks.clock_due(last.started_at, last.urgency, stage, last.pauses))
                if last.due_at is not None:
                    last.outcome = "met" if last.stopped_at <= last.due_at else "late"
                setattr(t, "due_at" if stage == "close" else "sign_due_at", last.due_at)
                states = {k.due_state for k in c.s.scalars(select(SlaClock).where(
                    SlaClock.ticket_id == t.id, SlaClock.round == last.round))}
                t.due_state = clocks.PENDING if clocks.PENDING in states else \
                    clocks.PROVISIONAL if clocks.PROVISIONAL in states else ""
        after = {"sign_due_at": t.sign_due_at, "due_at": t.due_at, "due_state": t.due_state}
        if after == before:
            raise Conflict("时限无变化", code="nothing_to_do", current=_state(t))
        if t.due_state != clocks.PENDING:
            for item in c.s.scalars(select(SupervisionItem).where(SupervisionItem.ticket_id == t.id,
                                                                  SupervisionItem.kind == "calendar_pending",
                                                                  SupervisionItem.resolved_at.is_(None))):
                item.resolved_at, item.resolved_by_id = c.now, c.actor.user_id
        return {"year": c.p.get("year"), "before": before, "after": after}

    def _on_sla_warning(self, c):
        clock = self._clock_for(c)
        if clock.warned_at is not None or clock.warn_at is None or c.now < clock.warn_at:
            raise Conflict("无需预警", code="nothing_to_do", current=_state(c.t))
        clock.warned_at = c.now
        c.notices.append(("sla.warning", {"ticket": summary(c.t), "stage": clock.stage,
                                          "due_at": _iso(clock.due_at)},
                          {rooms.unit(c.t.responsible_unit_id), rooms.unit(c.t.platform_id)}))
        return {"clock_id": clock.id, "stage": clock.stage, "due_at": clock.due_at}

    def _on_sla_overdue(self, c):
        clock = self._clock_for(c)
        if clock.overdue_at is not None or clock.due_at is None or c.now <= clock.due_at:
            raise Conflict("未超时", code="nothing_to_do", current=_state(c.t))
        clock.overdue_at = c.now
        kind = "sign_overdue" if clock.stage == "sign" else "overdue"
        unit = c.t.responsible_unit.name if c.t.responsible_unit else ""
        self._raise_item(c, kind, f"{unit}{'签收' if clock.stage == 'sign' else '办理'}超时",
                         detail={"clock_id": clock.id, "due_at": _iso(clock.due_at)}, dedupe=f"overdue:{clock.id}")
        return {"clock_id": clock.id, "stage": clock.stage, "due_at": clock.due_at}

    # ------------------------------------------------------------ clocks
    def _round(self, c) -> int:
        last = c.s.scalar(select(SlaClock.round).where(SlaClock.ticket_id == c.t.id)
                          .order_by(SlaClock.id.desc()).limit(1))
        return last or 1

    def _assign(self, c, unit: Unit, assists: list[Unit] = (), round_: int | None = None,
                keep_assists: bool = False) -> None:
        """Give the ticket to ``unit`` (the lead) with fresh sign-for and close clocks."""
        t, now = c.t, c.now
        round_ = round_ or self._round(c)
        for stage in ("sign", "close"):
            self._stop(c, stage, outcome="superseded")
        t.responsible_unit_id, t.responsible_unit = unit.id, unit
        t.dispatched_at, t.signed_at = now, None
        made = []
        carried = (t.extra or {}).get("close_clock_from")
        for stage in ("sign", "close"):
            start = now
            if stage == "close" and carried and round_ == 1:
                # A merged ticket's earlier clock (see _on_merge).
                start = min(now, dt.datetime.fromisoformat(carried))
            k = clocks.clock_due(start, t.urgency, stage)
            clock = SlaClock(ticket_id=t.id, stage=stage, round=round_, unit_id=unit.id, urgency=t.urgency,
                             started_at=start, pauses=[], outcome="")
            self._apply(clock, k)
            c.s.add(clock)
            made.append(clock)
        t.sign_due_at, t.due_at = made[0].due_at, made[1].due_at
        c.s.flush()
        self._dues_state(c)
        c.timers += made
        # Assignments: the lead, and any assisting units (协办) with half the close time.
        rows = {a.unit_id: a for a in c.s.scalars(select(Assignment).where(Assignment.ticket_id == t.id))}
        for a in rows.values():
            if a.role == "lead" and a.unit_id != unit.id:
                a.state = "withdrawn"
            elif a.role == "assist" and not keep_assists and a.state == "pending":
                a.state = "withdrawn"
        lead = rows.get(unit.id)
        if lead is None:
            c.s.add(Assignment(ticket_id=t.id, unit_id=unit.id, role="lead", state="pending", created_at=now))
        else:
            lead.role, lead.state = "lead", "pending"
        if assists:
            half = now + (t.due_at - now) / 2 if t.due_at else None
            for a in assists:
                row = rows.get(a.id)
                if row is None:
                    c.s.add(Assignment(ticket_id=t.id, unit_id=a.id, role="assist", state="pending", due_at=half,
                                       created_at=now))
                else:
                    row.role, row.state, row.due_at = "assist", "pending", half

    def _running(self, s: Session, t: Ticket, stage: str) -> SlaClock | None:
        return s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == stage,
                                               SlaClock.stopped_at.is_(None)).order_by(SlaClock.id.desc()).limit(1))

    def _stop(self, c, stage: str, outcome: str | None = None) -> SlaClock | None:
        clock = self._running(c.s, c.t, stage)
        if clock is None:
            return None
        if clocks.is_open(clock.pauses):
            clock.pauses, _ = clocks.close_pauses(clock.pauses, c.now)
            self._apply(clock, clocks.clock_due(clock.started_at, clock.urgency, clock.stage, clock.pauses))
        clock.stopped_at = c.now
        clock.outcome = outcome or ("met" if clock.due_at is None or c.now <= clock.due_at else "late")
        return clock

    @staticmethod
    def _apply(clock: SlaClock, k: clocks.Clock) -> None:
        clock.due_at, clock.warn_at = k.due_at, k.warn_at
        clock.due_state, clock.missing_year = k.state, k.missing_year

    def _dues_state(self, c) -> None:
        """The ticket's ``due_state`` from its running clocks; a pending due
        goes on the platform's 督办 board (one item per ticket and year)."""
        running = [k for k in (self._running(c.s, c.t, "sign"), self._running(c.s, c.t, "close")) if k]
        states = {k.due_state for k in running}
        c.t.due_state = clocks.PENDING if clocks.PENDING in states else \
            clocks.PROVISIONAL if clocks.PROVISIONAL in states else ""
        for k in running:
            if k.due_state == clocks.PENDING:
                self._raise_item(c, "calendar_pending",
                                 f"缺少{k.missing_year}年工作日历，时限待定（导入国务院放假通知后重算）",
                                 detail={"year": k.missing_year, "clock_id": k.id},
                                 dedupe=f"calendar:{k.missing_year}:{c.t.id}")

    def _recompute(self, c, clock: SlaClock) -> None:
        self._apply(clock, clocks.clock_due(clock.started_at, clock.urgency, clock.stage, clock.pauses))
        # A due moved into the future may warn and go overdue again.
        if clock.warn_at is not None and clock.warn_at > c.now:
            clock.warned_at = None
        if clock.due_at is not None and clock.due_at > c.now:
            clock.overdue_at = None
        if clock.stage == "close":
            c.t.due_at = clock.due_at
        else:
            c.t.sign_due_at = clock.due_at
        c.s.flush()
        self._dues_state(c)
        c.timers.append(clock)

    def _timers(self, c) -> list[Callable[[], None]]:
        """After commit: a job at each clock's warning and due (dispatch.sweeps)."""
        from dispatch import sweeps

        out = []
        for clock in {k.id: k for k in c.timers}.values():
            if clock.stopped_at is not None:
                continue
            for at in (clock.warn_at, clock.due_at):
                if at is not None:
                    out.append(lambda cid=clock.id, at=at: sweeps.schedule(cid, at))
        return out

    # ------------------------------------------------------------ side records
    def _raise_item(self, c, kind: str, reason: str, detail: dict | None = None,
                    dedupe: str | None = None) -> SupervisionItem:
        """A 督办 item on the board of the ticket's platform, announced live
        to its coordinators after commit."""
        if dedupe:
            found = c.s.scalar(select(SupervisionItem).where(SupervisionItem.dedupe_key == dedupe))
            if found is not None:
                return found
        item = SupervisionItem(ticket_id=c.t.id, platform_id=c.t.platform_id, kind=kind, reason=reason,
                               detail=_jsonable(detail or {}), dedupe_key=dedupe, created_at=c.now,
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
            "platform_id": item.platform_id, "created_at": _iso(c.now), "ticket": summary(c.t),
        }, rooms.coordinators_of(c.t)))
        return item

    def _callback_task(self, c) -> CallbackTask:
        task = CallbackTask(ticket_id=c.t.id, platform_id=c.t.platform_id, round=self._round(c),
                            due_at=clocks.next_working_morning(c.now), created_at=c.now)
        c.s.add(task)
        c.s.flush()
        return task

    def _answer_merged(self, c) -> None:
        """The lead closed: every caller whose ticket was merged into it is answered."""
        for m in c.s.scalars(select(Ticket).where(Ticket.merged_into_id == c.t.id).with_for_update(of=Ticket)):
            m.reply_text, m.replied_at, m.closed_at, m.updated_at = c.t.reply_text, c.now, c.now, c.now
            c.record(m, "notify_citizen", f"并单主工单 {c.t.number} 已办结", {
                "kind": "merged_lead_closed", "lead_id": c.t.id,
                "text": f"您反映的问题已与工单 {c.t.number} 合并办理，办理结果：{c.t.reply_text}"})

    def _assists(self, s: Session, actor: Actor, t: Ticket) -> bool:
        if actor.on_platform:
            return False
        return s.scalar(select(Assignment.id).where(Assignment.ticket_id == t.id, Assignment.unit_id == actor.unit_id,
                                                    Assignment.role == "assist")) is not None

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

    def _event(self, s, t, actor, action, from_status, to_status, now, reason="", payload=None,
               charged: int | None = None) -> TicketEvent:
        """An event with the unit holding ``t`` now and the unit it is charged
        to (the holder before the change; the holder itself by default)."""
        ev = TicketEvent(ticket_id=t.id, at=now, actor_id=actor.user_id, actor_label=actor.display_name,
                         action=action, from_status=from_status, to_status=to_status, reason=reason,
                         payload=_jsonable(payload or {}), unit_id=holder(t),
                         charged_unit_id=charged if charged is not None else holder(t))
        s.add(ev)
        return ev

    def _by_intake_key(self, key: str) -> Ticket | None:
        with self.db.session() as s:
            return s.scalar(select(Ticket).where(Ticket.intake_key == key))

    def _notices(self, t: Ticket, evs: list[TicketEvent]) -> list[tuple[str, dict, set[str]]]:
        """Built inside the transaction, sent after commit."""
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

    @staticmethod
    def _after_commit(notices, callbacks) -> None:
        for name, payload, to in notices:
            events.publish(name, payload, to)
        for fn in callbacks:
            try:
                fn()
            except Exception:
                # Committed work is safe; the periodic sweeps redo what a
                # failed after-commit step (e.g. an enqueue) left undone.
                log.exception("after-commit step %r failed", fn)


class _Change:
    """One ticket change in progress: the open session, who, what, when, and
    what it adds (events on this or other tickets, clocks to time, notices)."""

    def __init__(self, s, actor, t, p, now, timers=None, notices=None, evs=None, after_commit=None):
        self.s, self.actor, self.t, self.p, self.now = s, actor, t, p, now
        self.timers: list[SlaClock] = timers if timers is not None else []
        self.notices: list = notices if notices is not None else []
        self.events: list[tuple[Ticket, TicketEvent]] = evs if evs is not None else []
        # Callables to run once the transaction committed (enqueue a delivery …).
        self.after_commit: list = after_commit if after_commit is not None else []

    def record(self, t: Ticket, action: str, reason: str, payload: dict) -> TicketEvent:
        ev = TicketEvent(ticket_id=t.id, at=self.now, actor_id=self.actor.user_id,
                         actor_label=self.actor.display_name, action=action, from_status=t.status,
                         to_status=t.status, reason=reason, payload=_jsonable(payload),
                         unit_id=holder(t), charged_unit_id=holder(t))
        self.s.add(ev)
        self.events.append((t, ev))
        return ev



def holder(t: Ticket) -> int | None:
    """The unit holding a ticket: its responsible unit, or its platform while it has none."""
    return t.responsible_unit_id or t.platform_id


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


def _iso(v):
    return v.isoformat() if v else None


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v
