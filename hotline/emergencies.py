"""Emergency endpoints under /api/v1 (the intake banner, the call page, the
ticket page and the coordinators' board call them):

- ``POST /emergency/detect`` ``{"text"}`` → kind, deciding words, confidence
  and the hand-overs to offer;
- ``POST /tickets/<id>/emergency/handover`` ``{"target", "number"?,
  "operator"?, "outcome"?, "expected_version"?}`` → 转110 (the existing
  linkage) or a three-way-call record with 119/120/a utility;
- ``POST /tickets/<id>/emergency/dismiss`` ``{"reason"}``;
- ``GET /emergencies`` → open emergencies for the board, the most urgent
  clock first.
"""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, Flask, jsonify, request
from pydantic import Field
from sqlalchemy import select

from dispatch.access import visible_clause
from dispatch.errors import Forbidden, Invalid
from hotline.auth import api_auth, csrf, current_actor
from hotline.schemas import Strict, parse
from dispatch.ticket_json import ticket_json
from hotline.current import db, tickets
from integrations import emergency, linkage
from models import Linkage, Ticket

bp = Blueprint("emergency_api", __name__, url_prefix="/api/v1")


class DetectIn(Strict):
    text: str = Field(min_length=1, max_length=20000)


class HandoverIn(Strict):
    target: str = Field(min_length=1, max_length=16)
    number: str = Field("", max_length=32)
    operator: str = Field("", max_length=50)
    outcome: str = Field("", max_length=500)
    expected_version: Optional[int] = None


class DismissIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


def _platform():
    actor = current_actor()
    if not actor.on_platform:
        raise Forbidden("仅热线平台可用", code="platform_only")
    return actor


@bp.post("/emergency/detect")
@api_auth
def detect():
    current_actor()
    return jsonify(emergency.verdict_json(parse(DetectIn).text))


@bp.post("/tickets/<int:ticket_id>/emergency/handover")
@api_auth
def handover(ticket_id: int):
    actor = _platform()
    body = parse(HandoverIn)
    t = emergency.handover(db(), tickets(), actor, ticket_id, body.target, body.number, body.operator,
                           body.outcome, body.expected_version)
    return jsonify(_ticket(t.id, actor))


@bp.post("/tickets/<int:ticket_id>/emergency/dismiss")
@api_auth
def dismiss(ticket_id: int):
    actor = _platform()
    t = emergency.dismiss(db(), tickets(), actor, ticket_id, parse(DismissIn).reason)
    return jsonify(_ticket(t.id, actor))


@bp.get("/emergencies")
@api_auth
def open_emergencies():
    actor = _platform()
    with db().session() as s:
        rows = s.execute(select(Linkage, Ticket).join(Ticket, Ticket.id == Linkage.ticket_id)
                         .where(visible_clause(actor), Linkage.peer == emergency.PEER,
                                Linkage.state.in_(emergency.OPEN_STATES),
                                Ticket.status.not_in(emergency.FINAL_TICKET_STATES))
                         .limit(200)).all()
        items = [linkage.linkage_json(lk, t) for lk, t in rows]
    items.sort(key=lambda x: (x["detail"].get("signed_at") is not None, x["detail"].get("clock_due_at") or ""))
    return jsonify({"items": items})


def _ticket(ticket_id: int, actor) -> dict:
    with db().session() as s:
        return ticket_json(s.get(Ticket, ticket_id), actor)


def init_app(app: Flask) -> None:
    # api_auth checks CSRF itself for cookie sessions; bearer tokens need none.
    csrf.exempt(bp)
    app.register_blueprint(bp)
