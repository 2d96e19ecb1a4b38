"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under
``/open311/v2``: any Open311 client can file requests, and they become
tickets with channel ``open311``.

- ``GET services.{json,xml}``: the leaf (third-level) categories, grouped
  by their parent; ``GET services/{code}.{fmt}``: a service definition
  (no extra attributes: ``metadata`` is false for all).
- ``POST requests.{fmt}`` (form-encoded): ``api_key`` (an API token of a
  hotline platform account), ``service_code``, a location (``address_string``
  or ``lat`` + ``long``, or ``address_id``), ``description``, optional
  ``first_name``, ``last_name``, ``phone``, ``email``, ``media_url``.  The
  answer has the ``service_request_id`` and a ``token``.
- ``GET requests.{fmt}``, ``GET requests/{id}.{fmt}``, ``GET tokens/{token}.{fmt}``:
  requests filed through Open311 (never a confidential one, never a
  caller's identity), status ``open``/``closed`` with the detailed status in
  ``status_notes``.

Errors are the spec's ``[{"code", "description"}]`` (``<errors>`` in XML)
with the HTTP status in ``code``.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from dispatch.access import Actor
from dispatch.errors import DomainError
from dispatch.intake import IntakeData
from dispatch.capabilities import can
from dispatch.workflow import OPEN
from hotline.auth import csrf, hash_token, token_is_live
from hotline.current import db, tickets
from models import STATUSES, ApiToken, Category, Ticket, utcnow

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("json", "xml")
TOKEN = re.compile(r"^[0-9a-f]{32}$")


class Open311Error(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt[:10]!r}: use .json or .xml")
    return fmt


def _respond(fmt: str, items: list[dict], root: str, item: str, status: int = 200) -> Response:
    if fmt == "json":
        return jsonify(items), status
    top = ET.Element(root)
    for it in items:
        el = ET.SubElement(top, item)
        for k, v in it.items():
            child = ET.SubElement(el, k)
            if isinstance(v, list):
                for x in v:
                    ET.SubElement(child, "keyword" if k == "keywords" else "value").text = str(x)
            elif v is not None:
                child.text = str(v).lower() if isinstance(v, bool) else str(v)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(body, status=status, mimetype="application/xml")


def _errors(fmt: str, status: int, description: str) -> Response:
    return _respond(fmt, [{"code": status, "description": description}], "errors", "error", status)


@bp.errorhandler(Open311Error)
def _open311_error(e: Open311Error):
    return _errors(_guess_fmt(), e.status, e.description)


@bp.errorhandler(DomainError)
def _domain_error(e: DomainError):
    fields = "; ".join(f"{k}: {v}" for k, v in e.fields.items())
    return _errors(_guess_fmt(), 400 if e.status == 422 else e.status, e.message + (f" ({fields})" if fields else ""))


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    return _errors(_guess_fmt(), e.code or 500, e.description or e.name)


def open311_error(status: int, description: str) -> Response:
    """The app's error handlers answer /open311 requests through this."""
    return _errors(_guess_fmt(), status, description)


def _guess_fmt() -> str:
    return "xml" if request.path.endswith(".xml") else "json"


# ------------------------------------------------------------------ services
def _service(c: Category, parent: Category | None) -> dict:
    return {"service_code": c.code, "service_name": c.name, "description": c.full_name, "metadata": False,
            "type": "realtime", "keywords": [c.name] + ([parent.name] if parent else []),
            "group": parent.full_name if parent else c.name}


@bp.get("/services.<fmt>")
def services(fmt: str):
    fmt = _fmt(fmt)
    with db().session() as s:
        cats = s.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
        by_id = {c.id: c for c in cats}
        items = [_service(c, by_id.get(c.parent_id)) for c in cats if c.level == 3]
    return _respond(fmt, items, "services", "service")


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    fmt = _fmt(fmt)
    with db().session() as s:
        c = s.scalar(select(Category).where(Category.code == code[:16], Category.active.is_(True)))
        if c is None:
            raise Open311Error(404, f"service_code {code[:16]!r} not found")
    return _respond(fmt, [{"service_code": c.code, "attributes": []}], "service_definitions", "service_definition")


# ------------------------------------------------------------------ requests
def _actor(api_key: str) -> Actor:
    if not api_key:
        raise Open311Error(400, "api_key is required")
    with db().session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(api_key)))
        if not token_is_live(row, utcnow()):
            raise Open311Error(403, "api_key is invalid, expired or revoked")
        actor = Actor.from_user(row.user)
    if not actor.on_platform or not can(actor.role, "tickets.create"):
        raise Open311Error(403, "api_key does not belong to a hotline platform account")
    return actor


def _form(name: str, limit: int) -> str:
    v = (request.form.get(name) or "").strip()
    if len(v) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return v


def _coordinate(name: str, lo: float, hi: float) -> float | None:
    raw = _form(name, 32)
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number") from None
    if not lo <= v <= hi:
        raise Open311Error(400, f"{name} is outside {lo}..{hi}")
    return v


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    fmt = _fmt(fmt)
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(400, "the request body must be form-encoded (application/x-www-form-urlencoded)")
    actor = _actor(_form("api_key", 200))
    code = _form("service_code", 16)
    if not code:
        raise Open311Error(400, "service_code is required")
    with db().session() as s:
        cat = s.scalar(select(Category).where(Category.code == code, Category.active.is_(True)))
        if cat is None:
            raise Open311Error(404, f"service_code {code!r} not found")
        category = cat.full_name
    lat, lon = _coordinate("lat", -90, 90), _coordinate("long", -180, 180)
    address = _form("address_string", 300) or _form("address_id", 100)
    if not address and (lat is None or lon is None):
        raise Open311Error(400, "a location is required: address_string, address_id, or lat and long")
    description = _form("description", 4000)
    if not description:
        raise Open311Error(400, "description is required")
    phone = _form("phone", 32)
    if phone and not re.fullmatch(r"[0-9+\-\s*()]*", phone):
        raise Open311Error(400, "phone may hold digits, spaces and + - ( ) only")
    name = (_form("last_name", 50) + _form("first_name", 50)).strip()
    media = _form("media_url", 500)
    if media and not media.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
    token = uuid.uuid4().hex
    extra = {"open311": {"token": token, "lat": lat, "long": lon, "email": _form("email", 200),
                         "device_id": _form("device_id", 100), "account_id": _form("account_id", 100),
                         "media_url": media, "service_code": code}}
    t, _ = tickets().create_ticket(actor, IntakeData(
        channel="open311", description=description, caller_name=name, caller_phone=phone,
        address=address or f"{lat},{lon}", category=category, request_type="complaint", extra=extra),
        idempotency_key=f"open311:{token}")
    return _respond(fmt, [{"service_request_id": t.number, "token": token,
                           "service_notice": "已受理，将按时限办理", "account_id": None}],
                    "service_requests", "request", 201)


def _request_json(t: Ticket) -> dict:
    o = (t.extra or {}).get("open311", {})
    closed = t.status not in OPEN
    notes = STATUSES.get(t.status, t.status) + (f"：{t.reply_text}" if closed and t.reply_text else "")
    return {
        "service_request_id": t.number, "status": "closed" if closed else "open", "status_notes": notes,
        "service_name": t.category.name if t.category else None, "service_code": o.get("service_code"),
        "description": t.description, "agency_responsible": t.responsible_unit.name if t.responsible_unit else None,
        "service_notice": None, "requested_datetime": _iso(t.created_at), "updated_datetime": _iso(t.updated_at),
        "expected_datetime": _iso(t.due_at), "address": t.address, "address_id": None, "zipcode": None,
        "lat": o.get("lat"), "long": o.get("long"), "media_url": o.get("media_url") or None,
    }


def _iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def _public():
    return select(Ticket).where(Ticket.channel == "open311", Ticket.confidential.is_(False))


def _date_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        v = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C/ISO 8601 datetime") from None
    return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    fmt = _fmt(fmt)
    q = _public()
    ids = request.args.get("service_request_id")
    if ids:
        q = q.where(Ticket.number.in_([x.strip() for x in ids.split(",")][:100]))
    else:
        if request.args.get("service_code"):
            with db().session() as s:
                cat = s.scalar(select(Category).where(Category.code == request.args["service_code"][:16]))
            q = q.where(Ticket.category_id == (cat.id if cat else -1))
        status = request.args.get("status")
        if status:
            wanted = {x.strip() for x in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status is open, closed or both")
            if wanted == {"open"}:
                q = q.where(Ticket.status.in_(OPEN))
            elif wanted == {"closed"}:
                q = q.where(Ticket.status.not_in(OPEN))
        start, end = _date_arg("start_date"), _date_arg("end_date")
        if start:
            q = q.where(Ticket.created_at >= start)
        if end:
            q = q.where(Ticket.created_at <= end)
        if not (start or end):
            q = q.where(Ticket.created_at >= dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90))
    with db().session() as s:
        rows = s.scalars(q.order_by(Ticket.created_at.desc()).limit(1000)).all()
        items = [_request_json(t) for t in rows]
    return _respond(fmt, items, "service_requests", "request")


@bp.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str):
    fmt = _fmt(fmt)
    with db().session() as s:
        t = s.scalar(_public().where(Ticket.number == request_id[:32]))
        if t is None:
            raise Open311Error(404, f"service_request_id {request_id[:32]!r} not found")
        return _respond(fmt, [_request_json(t)], "service_requests", "request")


@bp.get("/tokens/<token>.<fmt>")
def get_token(token: str, fmt: str):
    fmt = _fmt(fmt)
    if not TOKEN.match(token):
        raise Open311Error(404, "token not found")
    with db().session() as s:
        t = s.scalar(_public().where(Ticket.intake_key.endswith(f":open311:{token}")))
        if t is None:
            raise Open311Error(404, "token not found")
        return _respond(fmt, [{"service_request_id": t.number, "token": token}], "service_requests", "request")


@bp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str):
    raise Open311Error(404, "no such resource, or the method is not allowed on it")


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
