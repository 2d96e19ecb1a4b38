"""What the intake form asks while the agent types, beyond the suggestion:
the caller's history (``GET /api/v1/callers/history?phone=``), as soon as
the phone number is typed.  The calls page gets the same when the call
rings (integrations.telephony)."""
from __future__ import annotations

import re

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy import func, select

from dispatch.access import visible_clause
from dispatch.errors import Invalid, NotFound
from dispatch.ticket_json import brief
from dispatch.workflow import OPEN
from hotline.auth import api_auth, csrf, current_actor, needs
from hotline.current import db
from models import Ticket, Unit

bp = Blueprint("intake_api", __name__, url_prefix="/api/v1")
HISTORY_MAX = 10
PHONE = re.compile(r"^[0-9+\-\s*()]{1,32}$")


@bp.get("/callers/history")
@api_auth
@needs("tickets.create")
def caller_history():
    actor = current_actor()
    if not actor.on_platform:
        raise NotFound("仅热线平台可用")
    phone = (request.args.get("phone") or "").strip()
    if not PHONE.match(phone):
        raise Invalid("联系电话格式不正确", {"phone": "联系电话格式不正确"})
    # as typed, or without the spaces and dashes people put in
    forms = {phone, re.sub(r"[\s\-()]", "", phone)}
    where = (Ticket.caller_phone.in_(forms), visible_clause(actor))
    with db().session() as s:
        total = s.scalar(select(func.count(Ticket.id)).where(*where))
        still_open = s.scalar(select(func.count(Ticket.id)).where(*where, Ticket.status.in_(OPEN)))
        rows = s.execute(select(Ticket, Unit.name).outerjoin(Unit, Unit.id == Ticket.responsible_unit_id)
                         .where(*where).order_by(Ticket.created_at.desc(), Ticket.id.desc())
                         .limit(HISTORY_MAX)).all()
        items = [brief(t) | {"unit": unit or ""} for t, unit in rows]
    return jsonify({"phone": phone, "total": total, "open": still_open, "items": items})


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
