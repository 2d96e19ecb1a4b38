"""REST API under /api/v1 (JSON).  See README for the contract."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy import func, select

from dispatch import duplicates, places, search, ticket_reads, work_queues
from dispatch.access import visible_clause
from dispatch.actions.dispatching import find_category
from dispatch.errors import Invalid, NotFound
from dispatch.ticket_json import event_json, event_summary, referenced_tickets, summary, ticket_json
from dispatch.workflow import describe
from hotline.auth import api_auth, csrf, current_actor, needs
from hotline.hardening import DB_INT_MAX
from hotline.schemas import ActionIn, DuplicatesIn, SuggestIn, TicketIn, parse
from hotline.current import db, tickets
from integrations import emergency
from models import STATUSES, Category, Ticket, TicketEvent, Unit, utcnow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PER_PAGE_MAX = 100
MAX_PAGE = 100_000


@bp.post("/tickets")
@api_auth
@needs("tickets.create")
def create_ticket():
    body = parse(TicketIn)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 100):
        raise Invalid("Idempotency-Key 长度应为 1–100", {"Idempotency-Key": "1..100 characters"})
    data = body.intake()
    d = body.emergency_dismissal
    data = emergency.screen_intake(data, emergency.Dismissal(d.reason, d.kind) if d else None)
    actor = current_actor()
    ticket, created = tickets().create_ticket(actor, data, key)
    # A fresh ticket carries everything it needs; a replayed one is re-read.
    return jsonify(ticket_json(ticket, actor) if created else _load(ticket.id, actor)), 201 if created else 200


@bp.get("/tickets")
@api_auth
@needs("tickets.read")
def list_tickets():
    """Tickets the reader may see: search (q: number, phone or its last four
    digits, caller name, words), filters, sort, one page, and the total."""
    actor = current_actor()
    lq = search.list_args(request.args)
    with db().session() as s:
        found = search.find(s, actor, lq, utcnow())
        items = [ticket_json(t, actor) for t in found.items]
    return jsonify({"items": items, "page": found.page, "per_page": found.per_page, "total": found.total,
                    "pages": found.pages, "sort": lq.sort})


@bp.get("/tickets/<int:ticket_id>")
@api_auth
@needs("tickets.read")
def get_ticket(ticket_id: int):
    return jsonify(_load(ticket_id, current_actor()))


@bp.get("/tickets/<int:ticket_id>/events")
@api_auth
@needs("tickets.read")
def ticket_events(ticket_id: int):
    actor = current_actor()
    _load(ticket_id, actor)
    with db().session() as s:
        evs = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                        .order_by(TicketEvent.at, TicketEvent.id)).all()
        mentioned = referenced_tickets(e.payload for e in evs) if actor.on_platform else set()
        visible = set(s.scalars(select(Ticket.id).where(Ticket.id.in_(mentioned), visible_clause(actor)))) \
            if mentioned else set()
        return jsonify({"items": [event_json(e, actor, visible) for e in evs]})


CHANGES_MAX = 200
# Events are numbered when inserted but become visible when committed, so a
# slower transaction can commit a smaller id after a larger one was seen:
# catch-up also returns what was recorded shortly before the cursor's event
# (the console drops the ids it already has).
CHANGES_OVERLAP = dt.timedelta(seconds=30)


@bp.get("/changes")
@api_auth
def changes():
    """What a console missed while its socket was down: the visible tickets'
    events after ``after`` (an event id from a ``ticket.changed`` notice),
    oldest first, as the notices carried them.  Without ``after``: no items,
    only the cursor to start from."""
    actor = current_actor()
    with db().session() as s:
        if request.args.get("after") in (None, ""):
            return jsonify({"items": [], "cursor": s.scalar(select(func.max(TicketEvent.id))) or 0, "more": False})
        after = _int_arg("after", request.args["after"], lo=0, hi=2**62)
        since = s.scalar(select(TicketEvent.at).where(TicketEvent.id == after))
        newer = TicketEvent.id > after
        if since is not None:
            newer = newer | ((TicketEvent.id < after) & (TicketEvent.at >= since - CHANGES_OVERLAP))
        rows = s.execute(select(TicketEvent, Ticket).join(Ticket, Ticket.id == TicketEvent.ticket_id)
                         .where(newer, visible_clause(actor, assisting=True))
                         .order_by(TicketEvent.id).limit(CHANGES_MAX + 1)).all()
        more = len(rows) > CHANGES_MAX
        items = [{"ticket": summary(t), "event": event_summary(ev)} for ev, t in rows[:CHANGES_MAX]]
        cursor = max([after] + [i["event"]["id"] for i in items])
    return jsonify({"items": items, "cursor": cursor, "more": more})


@bp.get("/tickets/<int:ticket_id>/routing")
@api_auth
def ticket_routing(ticket_id: int):
    """The intake's routing suggestion for a ticket, and every unit of the
    platform ordered by the router's score (the dispatcher's manual form:
    the suggested unit first and preselected, then the rest by score)."""
    actor = current_actor()
    if not actor.on_platform:
        raise NotFound("仅热线平台可用")
    _load(ticket_id, actor)
    with db().session() as s:
        return jsonify(ticket_reads.routing_form(s, ticket_id))


@bp.post("/tickets/<int:ticket_id>/actions/<action>")
@api_auth
@needs("tickets.read")
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
@needs("tickets.create")
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
            # the matter (三级分类) routing decided on; the same as category
            "matter": ({"code": sug.category.code, "name": sug.category.name, "full_name": sug.category.full_name,
                        "level": sug.category.level} if sug.category else None),
            "confidence": sug.confidence, "abstain": sug.abstain,
            "top": [{"label": lbl, "p": p} for lbl, p in sug.top],
            "explain": [{"word": w, "weight": x} for w, x in sug.explain],
            "unit": {"id": sug.unit.id, "code": sug.unit.code, "name": sug.unit.name},
            "unit_confidence": sug.unit_confidence,
            "unit_top": [{"id": u.id, "code": u.code, "name": u.name, "p": p} for u, p in sug.unit_top],
            "reasons": sug.reasons,
            "needs_review": sug.abstain or sug.fallback, "division_code": sug.division_code,
            "model_version": sug.model_version, "unit_model_version": sug.unit_model_version,
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


# ------------------------------------------------------------ work queues
# (review of returns and low-confidence tickets, 督办 board, callback queue,
# 协办 list; the queries live in dispatch.work_queues)
@bp.get("/review")
@api_auth
@needs("review.read")
def review_queue():
    with db().session() as s:
        return jsonify(work_queues.review_queue(s, current_actor()))


@bp.get("/supervision")
@api_auth
@needs("supervision.read")
def supervision_board():
    with db().session() as s:
        return jsonify({"items": work_queues.supervision_board(s, current_actor(),
                                                               request.args.get("all") in ("1", "true"))})


@bp.post("/supervision/<int:item_id>/resolve")
@api_auth
@needs("supervision.resolve")
def resolve_supervision(item_id: int):
    with db().session() as s:
        return jsonify(work_queues.resolve_item(s, current_actor(), item_id))


@bp.get("/callbacks")
@api_auth
@needs("callbacks.read")
def callback_queue():
    with db().session() as s:
        return jsonify({"items": work_queues.callback_queue(s, current_actor())})


@bp.get("/assists")
@api_auth
@needs("tickets.read")
def assisting_tickets():
    """A unit's 协办 tickets, with its own part (pending / given / timed out)."""
    with db().session() as s:
        return jsonify({"items": work_queues.assisting(s, current_actor(), PER_PAGE_MAX)})


@bp.get("/tickets/<int:ticket_id>/clocks")
@api_auth
@needs("tickets.read")
def ticket_clocks(ticket_id: int):
    _load(ticket_id, current_actor())
    with db().session() as s:
        return jsonify({"items": ticket_reads.clocks_of(s, ticket_id)})


@bp.post("/duplicates")
@api_auth
@needs("tickets.create")
def check_duplicates():
    """Possible repeats of a ticket being taken: same caller (30 days),
    similar text in the same area and category (7 days).  With the
    ``division_code`` (and ``category``) of the /suggest answer the client
    just had, the classifier is not run a second time."""
    body = parse(DuplicatesIn)
    actor = current_actor()
    if not actor.on_platform:
        raise NotFound("仅热线平台可用")
    with db().session() as s:
        platform = s.get(Unit, actor.unit_id)
        if body.division_code is not None:
            category = find_category(s, body.category) if body.category else None
            if body.category and category is None:
                raise Invalid("未知的分类", {"category": f"unknown category {body.category!r}"})
            division = body.division_code or places.division_of(body.address, platform.division_code)
        else:
            sug = tickets().suggest(s, platform, body.description, body.subject, body.address, body.category)
            category, division = sug.category, sug.division_code
        probe = duplicates.Probe(body.caller_phone, division, category.id if category else None, body.subject,
                                 body.description)
        found = duplicates.candidates(s, probe, utcnow())
        visible = set(s.scalars(select(Ticket.id).where(Ticket.id.in_([c.ticket_id for c in found]),
                                                        visible_clause(actor))))
        return jsonify({"items": [c.as_json() for c in found if c.ticket_id in visible]})


def _load(ticket_id: int, actor) -> dict:
    with db().session() as s:
        t = s.scalar(select(Ticket).where(Ticket.id == ticket_id, visible_clause(actor, assisting=True)))
        if t is None:
            raise NotFound("工单不存在或无权查看")
        return ticket_json(t, actor)


def _int_arg(name: str, raw: str, lo: int | None = None, hi: int | None = DB_INT_MAX) -> int:
    raw = (raw or "").strip()
    if not (raw.isascii() and raw.lstrip("-").isdigit() and len(raw) <= 11):
        raise Invalid(f"参数 {name} 应为整数", {name: "integer required"})
    v = int(raw)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Invalid(f"参数 {name} 超出范围", {name: f"{lo}..{hi}"})
    return v


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
