"""Intake: a text becomes a ticket.

``suggest`` asks the topic classifier and the unit router (classifier/)
what a text is about and which unit should handle it, and the routing
catalogue (dispatch.routing) where that unit is; ``create_ticket`` accepts
the ticket, records the suggestion, its duplicates and any correction by
the agent, and dispatches it when the route is sure (else it waits for a
dispatcher).  ``TicketService.create_ticket`` and ``.suggest`` call these
with the service's predictor, router, clock, hooks and timer scheduler.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import clocks, duplicates, places, routing
from dispatch.access import Actor
from dispatch.actions.dispatching import assign, dispatchable_unit, find_category, ticket_text, top_level
from dispatch.change import Change, holder, publish_after_commit, ticket_notices, write_event
from dispatch.errors import Forbidden, Invalid
from dispatch.supervision_items import raise_item
from models import Category, Database, LabelCorrection, RoutingRule, Ticket, TicketEvent, Unit

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


def default_predictor():
    from classifier import get_predictor

    return get_predictor()


def default_unit_router():
    from classifier import units

    return units.get_router()


def suggest(svc, session: Session, platform: Unit, description: str, subject: str = "",
            address: str = "", category: str | None = None) -> Suggestion:
    """What the classifier and the routing catalogue (or the unit router)
    would do with a text; ``category``: an agent's choice."""
    pred = None
    try:
        pred = svc.predictor().predict(description, subject)
    except Exception:
        # A broken model must not lose the ticket: it goes to a person.
        log.exception("classifier failed; the ticket goes to manual review")
    cat = find_category(session, category) if category else None
    if category and cat is None:
        raise Invalid("未知的分类", {"category": f"unknown category {category!r}"})
    division = places.division_of(address, platform.division_code)
    if cat is None and svc.unit_router is not None:
        routed = _route_unit(svc, session, platform, description, subject, division, pred)
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

def _route_unit(svc, session: Session, platform: Unit, description: str, subject: str, division: str,
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
        up = svc.unit_router().predict(description, rt.lexicon, subject)
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

def create_ticket(svc, actor: Actor, data: IntakeData, idempotency_key: str | None = None,
                  with_change: Callable[[Change, TicketEvent], None] | None = None) -> tuple[Ticket, bool]:
    """Accept a ticket and, when the route is sure, dispatch it.

    Returns (ticket, created).  A repeated Idempotency-Key returns the
    first ticket with created=False."""
    intake_key = f"{actor.user_id or actor.username}:{idempotency_key}" if idempotency_key else None
    if intake_key:
        existing = _by_intake_key(svc.db, intake_key)
        if existing is not None:
            return existing, False
    now = svc.clock()
    try:
        with svc.db.session() as s:
            clocks.sync(s)
            platform = s.get(Unit, actor.unit_id) if actor.on_platform else None
            if platform is None:
                raise Forbidden("只有热线平台可以受理工单", code="not_a_platform")
            sug = svc.suggest(s, platform, data.description, data.subject, data.address, data.category)
            unit = sug.unit
            if data.unit_id is not None:
                unit = dispatchable_unit(s, actor, data.unit_id)
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
            scan = duplicates.recent_similar(s, t, now)
            dups = duplicates.candidates(s, t, now, scan=scan)
            accept = write_event(s, t, actor, "accept", None, "accepted", now, payload={
                "urgency": t.urgency, "suggested": predicted.full_name if predicted else None,
                "confidence": sug.confidence, "top": sug.top, "model_version": sug.model_version,
                "category": sug.category.full_name if sug.category else None,
                "duplicates": [d.as_json() for d in dups],
                "routing": sug.routing_payload(),
            })
            c = Change(s, actor, t, {}, now)
            new_events = [accept]
            if data.category and predicted is not None and sug.category is not None \
                    and top_level(s, sug.category).id != predicted.id:
                s.add(LabelCorrection(ticket_id=t.id, text=ticket_text(t), predicted_label=predicted.name,
                                      label=top_level(s, sug.category).name, source="intake_override",
                                      created_by_id=actor.user_id, created_at=now))
            chosen = data.unit_id is not None
            if chosen and sug.unit_confidence is not None and unit.id != sug.unit.id and not unit.is_platform:
                # The agent's choice of unit is a correction of the router.
                s.add(LabelCorrection(ticket_id=t.id, text=ticket_text(t),
                                      predicted_label=unit_label(sug.unit) if not sug.unit.is_platform else "",
                                      label=unit_label(unit), source="unit_override",
                                      created_by_id=actor.user_id, created_at=now))
            if unit.is_platform and unit.id != platform.id:
                # Province → city platform (两级平台): the city runs the
                # ticket and its catalogue picks the unit.
                t.platform_id, t.platform = unit.id, unit
                new_events.append(write_event(s, t, actor, "forward", "accepted", "accepted", now,
                                              reason="人工指定转下级平台" if chosen else "按派单目录转下级平台",
                                              payload={"unit": unit.code, "from_platform_id": platform.id},
                                              charged=platform.id))
                unit, chosen = routing.route(s, unit, sug.category, sug.division_code).unit, False
            auto = not sug.abstain and not unit.is_platform and not data.hold
            chosen = chosen and not unit.is_platform
            if auto or chosen:
                before = holder(t)
                assign(c, unit)
                t.status = "dispatched"
                new_events.append(write_event(s, t, actor, "dispatch", "accepted", "dispatched", now,
                                              reason="人工指定" if chosen else "按派单目录自动派单",
                                              payload={"unit": unit.code, "auto": not chosen, "assist_units": []},
                                              charged=before))
            else:
                t.needs_review = True
            hot = duplicates.hot_event(s, t, now, scan=scan)
            if hot is not None:
                raise_item(c, "hot_event", hot["reason"], detail=hot, dedupe=hot["key"])
            s.flush()
            if with_change is not None:
                with_change(c, accept)
            for ev in new_events:
                svc.run_hooks(c, ev)
            notices = ticket_notices(t, new_events) + c.notices
            svc.time_clocks(c)
        publish_after_commit(notices, c.after_commit)
        return t, True
    except IntegrityError:
        # Two requests with one Idempotency-Key raced; the other one won.
        if intake_key:
            existing = _by_intake_key(svc.db, intake_key)
            if existing is not None:
                return existing, False
        raise


def ticket_number(now, ticket_id: int) -> str:
    local = now.astimezone(clocks.LOCAL_TZ)
    return f"{local:%Y%m%d}{ticket_id:06d}"


def _by_intake_key(db: Database, key: str) -> Ticket | None:
    with db.session() as s:
        return s.scalar(select(Ticket).where(Ticket.intake_key == key))
