"""REST API under /api/v1 (JSON).  See README for the contract."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy import func, select

from dispatch.access import visible_clause
from dispatch.errors import Invalid, NotFound
from dispatch.services import IntakeData
from dispatch.workflow import describe
from hotline.auth import api_auth, csrf, current_actor
from hotline.schemas import ActionIn, SuggestIn, TicketIn, parse
from hotline.serialize import event_json, ticket_json
from hotline.services import db, tickets
from models import STATUSES, Category, Ticket, TicketEvent, Unit

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PER_PAGE_MAX = 100


@bp.post("/tickets")
@api_auth
def create_ticket():
    body = parse(TicketIn)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 100):
        raise Invalid("Idempotency-Key 长度应为 1–100", {"Idempotency-Key": "1..100 characters"})
    data = IntakeData(channel=body.channel, description=body.description, caller_name=body.caller.name,
                      caller_phone=body.caller.phone, address=body.address, subject=body.subject,
                      urgency=body.urgency, request_type=body.request_type, confidential=body.confidential,
                      category=body.category, unit_id=body.unit_id, call_id=body.call_id,
                      transcript=body.transcript)
    actor = current_actor()
    ticket, created = tickets().create_ticket(actor, data, key)
    # A fresh ticket carries everything it needs; a replayed one is re-read.
    return jsonify(ticket_json(ticket, actor) if created else _load(ticket.id, actor)), 201 if created else 200


@bp.get("/tickets")
@api_auth
def list_tickets():
    actor = current_actor()
    q = select(Ticket).where(visible_clause(actor))
    status = request.args.get("status")
    if status:
        bad = [x for x in status.split(",") if x not in STATUSES]
        if bad:
            raise Invalid("未知状态", {"status": f"unknown: {','.join(bad)}"})
        q = q.where(Ticket.status.in_(status.split(",")))
    unit = request.args.get("unit")
    if unit:
        q = q.where(Ticket.responsible_unit_id == _int_arg("unit", unit))
    if request.args.get("needs_review") in ("1", "true"):
        q = q.where(Ticket.needs_review.is_(True))
    page = _int_arg("page", request.args.get("page", "1"), lo=1)
    per_page = _int_arg("per_page", request.args.get("per_page", "20"), lo=1, hi=PER_PAGE_MAX)
    with db().session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                         .offset((page - 1) * per_page).limit(per_page)).all()
        items = [ticket_json(t, actor) for t in rows]
    return jsonify({"items": items, "page": page, "per_page": per_page, "total": total})


@bp.get("/tickets/<int:ticket_id>")
@api_auth
def get_ticket(ticket_id: int):
    return jsonify(_load(ticket_id, current_actor()))


@bp.get("/tickets/<int:ticket_id>/events")
@api_auth
def ticket_events(ticket_id: int):
    actor = current_actor()
    _load(ticket_id, actor)
    with db().session() as s:
        evs = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                        .order_by(TicketEvent.at, TicketEvent.id)).all()
        return jsonify({"items": [event_json(e) for e in evs]})


@bp.post("/tickets/<int:ticket_id>/actions/<action>")
@api_auth
def ticket_action(ticket_id: int, action: str):
    body = parse(ActionIn)
    params = {k: v for k, v in body.model_dump().items() if k != "expected_version" and v is not None}
    actor = current_actor()
    tickets().act(actor, ticket_id, action, params, body.expected_version)
    return jsonify(_load(ticket_id, actor))


@bp.get("/workflow")
def workflow():
    return jsonify({"statuses": STATUSES, "transitions": describe()})


@bp.post("/suggest")
@api_auth
def suggest():
    """What intake would do with a text: category, confidence, unit."""
    body = parse(SuggestIn)
    actor = current_actor()
    if not actor.on_platform:
        raise NotFound("仅热线平台可用")
    with db().session() as s:
        sug = tickets().suggest(s, s.get(Unit, actor.unit_id), body.description, body.subject,
                                body.address, body.category)
        return jsonify({
            "category": ({"code": sug.category.code, "name": sug.category.full_name} if sug.category else None),
            "confidence": sug.confidence, "abstain": sug.abstain,
            "top": [{"label": lbl, "p": p} for lbl, p in sug.top],
            "explain": [{"word": w, "weight": x} for w, x in sug.explain],
            "unit": {"id": sug.unit.id, "code": sug.unit.code, "name": sug.unit.name},
            "needs_review": sug.abstain or sug.fallback, "division_code": sug.division_code,
            "model_version": sug.model_version,
        })


@bp.get("/units")
@api_auth
def units():
    actor = current_actor()
    with db().session() as s:
        q = select(Unit).where(Unit.active.is_(True))
        if not actor.is_province:
            q = q.where(Unit.path.startswith(actor.unit_path) if actor.on_platform else Unit.id == actor.unit_id)
        rows = s.scalars(q.order_by(Unit.path)).all()
        return jsonify({"items": [{"id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
                                   "parent_id": u.parent_id, "division_code": u.division_code} for u in rows]})


@bp.get("/categories")
@api_auth
def categories():
    with db().session() as s:
        rows = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
        return jsonify({"items": [{"code": c.code, "name": c.name, "full_name": c.full_name,
                                   "level": c.level} for c in rows]})


@bp.get("/me")
@api_auth
def me():
    return jsonify(asdict(current_actor()))


def _load(ticket_id: int, actor) -> dict:
    with db().session() as s:
        t = s.scalar(select(Ticket).where(Ticket.id == ticket_id, visible_clause(actor, assisting=True)))
        if t is None:
            raise NotFound("工单不存在或无权查看")
        return ticket_json(t, actor)


def _int_arg(name: str, raw: str, lo: int | None = None, hi: int | None = None) -> int:
    try:
        v = int(raw)
    except (TypeError, ValueError):
        raise Invalid(f"参数 {name} 应为整数", {name: "integer required"}) from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Invalid(f"参数 {name} 超出范围", {name: f"{lo}..{hi}"})
    return v


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
