"""Quick-reply templates (常用答复) per unit over HTTP: each user reads and
keeps their own unit's (a department's, or a platform's for its direct
answers).

    GET  /api/v1/reply-templates                 the unit's active templates
    POST /api/v1/reply-templates                 {title, text}
    POST /api/v1/reply-templates/<id>/disable
"""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from pydantic import Field
from sqlalchemy import select

from dispatch.errors import NotFound
from hotline.auth import api_auth, csrf, current_actor, needs
from hotline.schemas import Strict, parse
from hotline.current import db
from models import ReplyTemplate

bp = Blueprint("reply_templates", __name__, url_prefix="/api/v1/reply-templates")
PER_UNIT_MAX = 200


def _json(t: ReplyTemplate) -> dict:
    return {"id": t.id, "title": t.title, "text": t.text, "active": t.active,
            "created_at": t.created_at.isoformat() if t.created_at else None}


@bp.get("")
@api_auth
@needs("tickets.read")
def list_templates():
    actor = current_actor()
    with db().session() as s:
        rows = s.scalars(select(ReplyTemplate).where(ReplyTemplate.unit_id == actor.unit_id,
                                                     ReplyTemplate.active.is_(True))
                         .order_by(ReplyTemplate.title, ReplyTemplate.id).limit(PER_UNIT_MAX)).all()
        return jsonify({"items": [_json(t) for t in rows]})


class TemplateIn(Strict):
    title: str = Field(..., min_length=1, max_length=100)
    text: str = Field(..., min_length=1, max_length=5000)


@bp.post("")
@api_auth
@needs("tickets.read")
def add_template():
    actor = current_actor()
    body = parse(TemplateIn)
    with db().session() as s:
        t = ReplyTemplate(unit_id=actor.unit_id, title=body.title, text=body.text, created_by_id=actor.user_id)
        s.add(t)
        s.flush()
        return jsonify(_json(t)), 201


@bp.post("/<int:template_id>/disable")
@api_auth
@needs("tickets.read")
def disable_template(template_id: int):
    actor = current_actor()
    with db().session() as s:
        t = s.get(ReplyTemplate, template_id)
        if t is None or t.unit_id != actor.unit_id:
            raise NotFound("常用答复不存在")
        t.active = False
        return jsonify(_json(t))


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
