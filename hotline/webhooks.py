"""Inbound webhooks from the peers (``POST /webhooks/<peer>``) and the
coordinators' API for linkages and the outbox (``/api/v1/linkages``,
``/api/v1/outbox``).

A webhook is checked in this order, and nothing is written before the last
step: the peer is known (404), its HMAC signature and timestamp are good
(401), its message id is new (409), its body is a JSON object the adapter
accepts (400/422).  The adapter then changes the ticket and records the
message id in one transaction, and only after that commit does the peer get
its 2xx.  Refusals leave nothing in the database: only a log line.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dispatch import events, rooms
from dispatch.access import visible_clause
from dispatch.errors import Conflict, Forbidden, Invalid, NotFound
from dispatch.capabilities import require
from hotline.auth import api_auth, csrf, current_actor, needs
from hotline.errors import error_response
from hotline.current import db, tickets
from integrations import linkage, outbox, police110, signing, telephony
from models import Linkage, OutboxMessage, Ticket, utcnow

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
api = Blueprint("linkage_api", __name__, url_prefix="/api/v1")


def _refuse(status: int, code: str, message: str, peer: str, why: str):
    log.warning("webhook %s refused (%s): %s; from %s", peer, code, why, request.remote_addr)
    return error_response(status, code, message)


@bp.post("/<peer>")
def receive(peer: str):
    known = current_app.extensions["hotline.runtime"].peers.get(peer)
    handler = known.handle_webhook if known is not None else None
    if handler is None:
        return error_response(404, "unknown_peer", f"未知的对接方 {peer[:32]}")
    settings = current_app.config["HOTLINE"]
    secret = signing.secret_for(peer, settings.webhook_secrets, settings.production)
    body = request.get_data(cache=True)
    if secret is None:
        return _refuse(401, "unauthorized", "签名无效或已过期", peer, "no secret configured")
    try:
        verified = signing.verify(secret, request.headers, body)
    except signing.SignatureError as e:
        return _refuse(401, "unauthorized", "签名无效或已过期", peer, str(e))
    if linkage.seen(db(), peer, verified.message_id) is not None:
        return _refuse(409, "replayed", "该消息已处理过（重放）", peer, f"message id {verified.message_id!r} seen")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error_response(400, "invalid_json", "请求体不是合法的 JSON")
    if not isinstance(data, dict):
        return error_response(422, "invalid", "请求体须为 JSON 对象")
    for attempt in range(3):
        try:
            status, result = handler(db(), data, verified.message_id, service=tickets())
            break
        except IntegrityError:
            # The same message raced in twice; the other copy won.
            return _refuse(409, "replayed", "该消息已处理过（重放）", peer,
                           f"message id {verified.message_id!r} committed concurrently")
        except Conflict as e:
            # Another change to the same ticket won the race: apply ours on
            # top of it (a peer's news does not depend on the version).
            if e.code != "stale_version" or attempt == 2:
                raise
    return jsonify(result), status


# ------------------------------------------------------------------ coordinators' API
def _coordinator():
    actor = current_actor()
    require(actor, "linkage.read")
    if not actor.on_platform:
        raise Forbidden("仅平台协调、派单、督查人员可用")
    return actor


@api.get("/linkages")
@api_auth
def list_linkages():
    actor = _coordinator()
    q = (select(Linkage, Ticket).join(Ticket, Ticket.id == Linkage.ticket_id).where(visible_clause(actor)))
    state = request.args.get("state")
    if state:
        q = q.where(Linkage.state.in_(state.split(",")))
    peer = request.args.get("peer")
    if peer:
        q = q.where(Linkage.peer == peer)
    if request.args.get("unseen") in ("1", "true"):
        q = q.where(Linkage.seen_at.is_(None))
    with db().session() as s:
        rows = s.execute(q.order_by(Linkage.updated_at.desc()).limit(200)).all()
        return jsonify({"items": [linkage.linkage_json(lk, t) for lk, t in rows]})


@api.post("/linkages/<int:linkage_id>/seen")
@api_auth
def acknowledge_linkage(linkage_id: int):
    """A coordinator has seen an escalation (silences the board's alert)."""
    actor = _coordinator()
    with db().session() as s:
        row = s.get(Linkage, linkage_id)
        t = s.scalar(select(Ticket).where(Ticket.id == row.ticket_id, visible_clause(actor))) if row else None
        if t is None:
            raise NotFound("联动记录不存在")
        if row.seen_at is None:
            row.seen_at, row.seen_by_id = utcnow(), actor.user_id
        out = linkage.linkage_json(row, t)
        to = [rooms.unit(t.platform_id), rooms.ALL_PLATFORMS]
    # Every coordinator's board silences the alert, not only this one's.
    events.publish("linkage.changed", out, to)
    return jsonify(out)


@api.get("/outbox")
@api_auth
def list_outbox():
    actor = _coordinator()
    state = request.args.get("state", "dead")
    if state not in ("pending", "sent", "dead"):
        raise Invalid("未知状态", {"state": "pending, sent or dead"})
    visible = select(Ticket.id).where(visible_clause(actor))
    q = select(OutboxMessage).where(OutboxMessage.state == state,
                                    (OutboxMessage.ticket_id.in_(visible)) | OutboxMessage.ticket_id.is_(None)
                                    if actor.is_province else OutboxMessage.ticket_id.in_(visible))
    with db().session() as s:
        rows = s.scalars(q.order_by(OutboxMessage.id.desc()).limit(200)).all()
        counts = dict(s.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
        return jsonify({"items": [outbox.message_json(m) for m in rows], "counts": counts})


@api.get("/outbox/undelivered")
@api_auth
def list_undelivered():
    """Every message that failed and is not delivered yet (retrying or
    dead), with its age since the first failure: the coordinators' live
    view of undelivered emergencies (``outbox.changed`` events update it)."""
    actor = _coordinator()
    visible = select(Ticket.id).where(visible_clause(actor))
    q = outbox.undelivered_query().where((OutboxMessage.ticket_id.in_(visible)) | OutboxMessage.ticket_id.is_(None)
                                         if actor.is_province else OutboxMessage.ticket_id.in_(visible))
    now = utcnow()
    with db().session() as s:
        items = [outbox.message_json(m, t, now) for m, t in s.execute(q.limit(500)).all()]
    items.sort(key=lambda m: (not m["critical"], m["first_failed_at"] or ""))
    return jsonify({"items": items, "now": now.isoformat(),
                    "critical": sum(1 for m in items if m["critical"])})


@api.post("/outbox/<int:message_id>/retry")
@api_auth
def retry_outbox(message_id: int):
    """Retry a dead-lettered message (fresh attempts, enqueued now)."""
    actor = _coordinator()
    with db().session() as s:
        m = s.get(OutboxMessage, message_id)
        visible = m is not None and (m.ticket_id is None and actor.is_province or m.ticket_id is not None and
                                     s.scalar(select(Ticket.id).where(Ticket.id == m.ticket_id,
                                                                      visible_clause(actor))) is not None)
        if not visible:
            raise NotFound("消息不存在")
        peer, ticket_id, kind, state = m.peer, m.ticket_id, m.kind, m.state
    if state != "dead":
        return error_response(409, "not_dead", "只有投递失败（死信）的消息可以重试")
    # Before the retry: inline, the delivery (and its acknowledgement) runs
    # inside retry_dead, and must not be overwritten by this note.
    if ticket_id and kind in ("incident.create", "event.create"):
        linkage.touch_by_id(db(), ticket_id, peer, "outbound", state="pending",
                            last_note=f"{actor.display_name} 重试投递")
    if not outbox.retry_dead(db(), message_id):
        return error_response(409, "not_dead", "只有投递失败（死信）的消息可以重试")
    log.info("outbox %s retried by %s", message_id, actor.username)
    with db().session() as s:
        return jsonify(outbox.message_json(s.get(OutboxMessage, message_id)))


@api.post("/police110/detect")
@api_auth
@needs("tickets.create")
def detect_police_matter():
    """The lexicon detector on a text (the intake form asks while typing)."""
    current_actor()
    data = request.get_json(silent=True)
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text) > 20000:
        raise Invalid("text 应为 1–20000 字的字符串", {"text": "1..20000 characters"})
    d = police110.detect(text)
    return jsonify({"police": d.police, "score": d.score, "matched": list(d.matched),
                    "threshold": police110.LEXICON_THRESHOLD})


@api.get("/calls/<call_id>")
@api_auth
@needs("tickets.create")
def get_call(call_id: str):
    """A call as the telephony platform reported it, with the intake draft."""
    if len(call_id) > 64:
        raise NotFound("通话不存在")
    return jsonify(telephony.call_json(db(), call_id, current_actor()))


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    csrf.exempt(api)
    app.register_blueprint(bp)
    app.register_blueprint(api)
