"""The knowledge base (知识库) over HTTP: search as the agent types, the
direct answer (直办) of a new call from an entry, and the admin's
management of entries with their history.

    GET  /api/v1/knowledge?q=…&limit=5           search (active, valid today)
    GET  /api/v1/knowledge?all=1&q=…&page=       the admin's list (every entry, text filter)
    GET  /api/v1/knowledge/<id>                  one entry
    GET  /api/v1/knowledge/<id>/history          its versions (who, when, why, what changed)
    POST /api/v1/knowledge                       add            (system.admin)
    PATCH /api/v1/knowledge/<id>                 edit, with a reason and expected_version
    POST /api/v1/knowledge/<id>/disable|enable   with a reason
    POST /api/v1/knowledge/<id>/direct-answer    a ticket from the intake form, answered
                                                 directly with the entry's text (or the agent's edit of it)
"""
from __future__ import annotations

import time
from typing import Optional

from flask import Blueprint, Flask, jsonify, request
from pydantic import Field
from sqlalchemy import func, or_, select

from dispatch import knowledge
from dispatch.capabilities import require
from dispatch.errors import Invalid, NotFound
from dispatch.ticket_json import ticket_json
from hotline.auth import api_auth, client_address, csrf, current_actor, needs
from hotline.schemas import DbInt, Strict, TicketIn, parse
from hotline.current import db, tickets
from models import KnowledgeEntry, Ticket

bp = Blueprint("knowledge_api", __name__, url_prefix="/api/v1/knowledge")
LIMIT_MAX = 20


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = (request.args.get(name) or "").strip() or str(default)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
        raise Invalid(f"参数 {name} 应为整数", {name: "应为整数"})
    v = int(raw)
    if not lo <= v <= hi:
        raise Invalid(f"参数 {name} 应在 {lo}–{hi} 之间", {name: f"{lo}..{hi}"})
    return v


@bp.get("")
@api_auth
@needs("tickets.read")
def search():
    q = (request.args.get("q") or "").strip()
    if len(q) > knowledge.QUERY_MAX_CHARS:
        q = q[:knowledge.QUERY_MAX_CHARS]
    with db().session() as s:
        units = knowledge.unit_names(s)
        if request.args.get("all") in ("1", "true"):
            require(current_actor(), "system.admin")
            page, per_page = _int("page", 1, 1, 100_000), _int("per_page", 50, 1, 200)
            stmt = select(KnowledgeEntry)
            if q:
                like = f"%{q[:100]}%"
                stmt = stmt.where(or_(KnowledgeEntry.question.like(like), KnowledgeEntry.answer.like(like)))
            total = s.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = s.scalars(stmt.order_by(KnowledgeEntry.updated_at.desc(), KnowledgeEntry.id.desc())
                             .offset((page - 1) * per_page).limit(per_page)).all()
            active = s.scalar(select(func.count(KnowledgeEntry.id)).where(KnowledgeEntry.active.is_(True)))
            return jsonify({"items": [knowledge.describe(e, units) for e in rows], "total": total,
                            "active": active, "page": page, "per_page": per_page})
        limit = _int("limit", 5, 1, LIMIT_MAX)
        t0 = time.perf_counter()
        found = knowledge.search(s, q, limit) if q else []
        took = round(1000 * (time.perf_counter() - t0), 2)
        return jsonify({"q": q, "items": [knowledge.describe(e, units, score) for e, score in found],
                        "took_ms": took})


@bp.get("/<int:entry_id>")
@api_auth
@needs("tickets.read")
def get_entry(entry_id: int):
    with db().session() as s:
        e = s.get(KnowledgeEntry, entry_id)
        if e is None:
            raise NotFound("知识条目不存在")
        return jsonify(knowledge.describe(e, knowledge.unit_names(s)))


@bp.get("/<int:entry_id>/history")
@api_auth
@needs("system.admin")
def entry_history(entry_id: int):
    with db().session() as s:
        return jsonify({"items": knowledge.history(s, entry_id)})


class EntryIn(Strict):
    question: Optional[str] = Field(None, max_length=300)
    detail: Optional[str] = Field(None, max_length=2000)
    answer: Optional[str] = Field(None, max_length=5000)
    category: Optional[str] = Field(None, max_length=300)
    unit_code: Optional[str] = Field(None, max_length=64)
    valid_from: Optional[str] = Field(None, max_length=10)
    valid_until: Optional[str] = Field(None, max_length=10)
    source: Optional[str] = Field(None, max_length=200)
    reason: str = Field("", max_length=500)
    expected_version: Optional[DbInt] = None


class ReasonIn(Strict):
    reason: str = Field(..., min_length=1, max_length=500)


def _fields(body: EntryIn) -> dict:
    return body.model_dump(exclude_unset=True, exclude={"reason", "expected_version"})


@bp.post("")
@api_auth
@needs("system.admin")
def create_entry():
    actor = current_actor()
    body = parse(EntryIn)
    with db().session() as s:
        e = knowledge.create(s, _fields(body), body.reason, actor.user_id, actor.display_name, client_address())
        out = knowledge.describe(e, knowledge.unit_names(s))
    knowledge.invalidate()
    return jsonify(out), 201


@bp.patch("/<int:entry_id>")
@api_auth
@needs("system.admin")
def update_entry(entry_id: int):
    actor = current_actor()
    body = parse(EntryIn)
    with db().session() as s:
        e = knowledge.update(s, entry_id, _fields(body), body.reason, body.expected_version,
                             actor.user_id, actor.display_name, client_address())
        out = knowledge.describe(e, knowledge.unit_names(s))
    knowledge.invalidate()
    return jsonify(out)


def _set_active(entry_id: int, active: bool):
    actor = current_actor()
    body = parse(ReasonIn)
    with db().session() as s:
        e = knowledge.set_active(s, entry_id, active, body.reason, actor.user_id, actor.display_name, client_address())
        out = knowledge.describe(e, knowledge.unit_names(s))
    knowledge.invalidate()
    return jsonify(out)


@bp.post("/<int:entry_id>/disable")
@api_auth
@needs("system.admin")
def disable_entry(entry_id: int):
    return _set_active(entry_id, False)


@bp.post("/<int:entry_id>/enable")
@api_auth
@needs("system.admin")
def enable_entry(entry_id: int):
    return _set_active(entry_id, True)


class DirectAnswerIn(TicketIn):
    # The agent's edit of the entry's answer; the entry's own text when absent.
    reply_text: Optional[str] = Field(None, max_length=5000)


@bp.post("/<int:entry_id>/direct-answer")
@api_auth
@needs("tickets.create")
def direct_answer(entry_id: int):
    """The intake form's one click: the call becomes a ticket that the agent
    answers at once (直办) from the entry; the event cites the entry.  An
    emergency is never answered this way."""
    from integrations import emergency

    body = parse(DirectAnswerIn)
    actor = current_actor()
    with db().session() as s:
        knowledge.cited(s, entry_id)
        answer = (body.reply_text or "").strip() or s.get(KnowledgeEntry, entry_id).answer
    d = body.emergency_dismissal
    data = body.intake(hold=True)
    data.unit_id = None     # answered here: a unit the agent picked is not dispatched to
    data = emergency.screen_intake(data, emergency.Dismissal(d.reason, d.kind) if d else None)
    if data.urgency == "emergency":
        raise Invalid("紧急情况不能直办，请按紧急流程移交", {"urgency": "紧急工单不能直办"},
                      code="emergency_not_direct")
    service = tickets()
    ticket, _ = service.create_ticket(actor, data)
    service.act(actor, ticket.id, "direct_answer", {"reply_text": answer, "knowledge_id": entry_id})
    with db().session() as s:
        return jsonify(ticket_json(s.get(Ticket, ticket.id), actor)), 201


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
