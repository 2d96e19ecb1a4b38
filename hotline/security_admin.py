"""The security administrator's and the auditor's work (三员分立).

- ``/api/v1/security/…`` (capability ``security.admin``): accounts (create
  under the password policy, change role, deactivate, reactivate), API
  tokens (list, issue, revoke), open sessions (list, end).  Deactivating an
  account ends its sessions and its sockets; revoking a token cuts its
  sockets.  Every change is an audit row.
- ``/api/v1/audit`` (capability ``audit.read``): the audit log, filtered and
  paged, and its CSV export (the export itself is audited).  Rows are kept
  (append-only, no purge): retention is unlimited, at least the 180 days
  level 3 asks for.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Literal

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from pydantic import Field
from sqlalchemy import func, select

from dispatch.errors import Conflict, Invalid, NotFound
from hotline import sessions
from hotline.auth import (api_auth, audit, csrf, current_actor, hash_password, issue_token, needs, page_auth,
                          password_problems, session_policy, token_is_live)
from hotline.schemas import DbInt, Strict, parse
from models import ROLES, ApiToken, AuditEvent, Unit, User, UserSession, utcnow
from hotline.current import db

api = Blueprint("security_api", __name__, url_prefix="/api/v1")
pages = Blueprint("security", __name__)
Role = Literal[tuple(ROLES)]  # type: ignore[valid-type]


def _iso(v):
    return v.isoformat() if v else None


# ------------------------------------------------------------ tokens (shared with the CLI)
def token_state(t: ApiToken, now: dt.datetime) -> str:
    if t.revoked_at:
        return "revoked"
    if t.expires_at and now >= t.expires_at:
        return "expired"
    if not t.user.active:
        return "user_inactive"
    return "active"


def token_json(t: ApiToken, now: dt.datetime) -> dict:
    return {"id": t.id, "user": t.user.username, "user_id": t.user_id, "name": t.name,
            "created_at": _iso(t.created_at), "last_used_at": _iso(t.last_used_at),
            "expires_at": _iso(t.expires_at), "revoked_at": _iso(t.revoked_at), "state": token_state(t, now)}


def list_tokens(s, include_inactive: bool = False, username: str | None = None) -> list[ApiToken]:
    q = select(ApiToken).order_by(ApiToken.id)
    if username:
        q = q.join(User, User.id == ApiToken.user_id).where(User.username == username)
    rows = s.scalars(q).all()
    now = utcnow()
    return [t for t in rows if include_inactive or token_is_live(t, now)]


def revoke_token(s, token_id: int) -> ApiToken:
    t = s.get(ApiToken, token_id)
    if t is None:
        raise NotFound("令牌不存在")
    if t.revoked_at is not None:
        raise Conflict("令牌已吊销", code="already_revoked")
    t.revoked_at = utcnow()
    return t


# ------------------------------------------------------------ accounts
def _user_json(u: User) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
            "unit": {"id": u.unit.id, "name": u.unit.name}, "active": u.active,
            "must_change_password": u.must_change_password, "last_login_at": _iso(u.last_login_at),
            "last_login_address": u.last_login_address, "password_changed_at": _iso(u.password_changed_at)}


@api.get("/security/users")
@api_auth
@needs("security.admin")
def list_users():
    with db().session() as s:
        return jsonify({"items": [_user_json(u) for u in s.scalars(select(User).order_by(User.id))]})


class UserIn(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    unit_id: DbInt
    password: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=500)


@api.post("/security/users")
@api_auth
@needs("security.admin")
def create_user():
    body = parse(UserIn)
    actor = current_actor()
    problems = password_problems(body.password, body.username)
    if problems:
        raise Invalid("密码不符合要求：" + "；".join(problems), {"password": problems})
    with db().session() as s:
        if s.scalar(select(User.id).where(User.username == body.username)):
            raise Conflict("用户名已存在", code="username_taken")
        unit = s.get(Unit, body.unit_id)
        if unit is None or not unit.active:
            raise Invalid("单位不存在", {"unit_id": "no such active unit"})
        u = User(username=body.username, display_name=body.display_name, role=body.role, unit_id=unit.id,
                 password_hash=hash_password(body.password), must_change_password=True)
        s.add(u)
        s.flush()
        audit("user.create", "user", u.username, reason=body.reason, actor=actor, s=s, role=body.role,
              unit=unit.code)
        s.refresh(u)
        return jsonify(_user_json(u)), 201


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=500)


class RoleIn(ReasonIn):
    role: Role


def _other_user(s, user_id: int) -> User:
    actor = current_actor()
    u = s.get(User, user_id)
    if u is None:
        raise NotFound("用户不存在")
    if u.id == actor.user_id:
        # Nobody widens or ends their own account: a second person does.
        raise Conflict("不能修改自己的账户状态或角色", code="own_account")
    return u


@api.post("/security/users/<int:user_id>/deactivate")
@api_auth
@needs("security.admin")
def deactivate_user(user_id: int):
    body = parse(ReasonIn)
    with db().session() as s:
        u = _other_user(s, user_id)
        u.active = False
        ended = sessions.end_all(s, u.id, "deactivated")
        audit("user.deactivate", "user", u.username, reason=body.reason, s=s, sessions_ended=ended)
        out = _user_json(u)
    from hotline.realtime import disconnect_user

    disconnect_user(user_id)
    return jsonify(out)


@api.post("/security/users/<int:user_id>/activate")
@api_auth
@needs("security.admin")
def activate_user(user_id: int):
    body = parse(ReasonIn)
    with db().session() as s:
        u = _other_user(s, user_id)
        u.active = True
        audit("user.activate", "user", u.username, reason=body.reason, s=s)
        return jsonify(_user_json(u))


@api.post("/security/users/<int:user_id>/role")
@api_auth
@needs("security.admin")
def change_role(user_id: int):
    body = parse(RoleIn)
    with db().session() as s:
        u = _other_user(s, user_id)
        before = u.role
        u.role = body.role
        # A new role starts from a fresh login.
        ended = sessions.end_all(s, u.id, "role_changed")
        audit("user.role", "user", u.username, reason=body.reason, s=s, before=before, after=body.role,
              sessions_ended=ended)
        out = _user_json(u)
    from hotline.realtime import disconnect_user

    disconnect_user(user_id)
    return jsonify(out)


# ------------------------------------------------------------ tokens
@api.get("/security/tokens")
@api_auth
@needs("security.admin")
def tokens():
    now = utcnow()
    with db().session() as s:
        rows = list_tokens(s, include_inactive=request.args.get("all") in ("1", "true"))
        return jsonify({"items": [token_json(t, now) for t in rows]})


class TokenIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    days: int = Field(90, ge=1, le=3650)


@api.post("/security/tokens")
@api_auth
@needs("security.admin")
def create_token():
    body = parse(TokenIn)
    with db().session() as s:
        u = s.scalar(select(User).where(User.username == body.username, User.active.is_(True)))
        if u is None:
            raise Invalid("用户不存在或已停用", {"username": "no such active user"})
        token = issue_token(s, u, body.name, body.days)
        s.flush()
        row = s.scalar(select(ApiToken).order_by(ApiToken.id.desc()).where(ApiToken.user_id == u.id).limit(1))
        audit("api_token.create", "api_token", row.id, reason=body.name, s=s, user=u.username, days=body.days)
        return jsonify(token_json(row, utcnow()) | {"token": token}), 201


@api.post("/security/tokens/<int:token_id>/revoke")
@api_auth
@needs("security.admin")
def revoke(token_id: int):
    body = parse(ReasonIn)
    with db().session() as s:
        t = revoke_token(s, token_id)
        audit("api_token.revoke", "api_token", t.id, reason=body.reason, s=s, user=t.user.username)
        out = token_json(t, utcnow())
    from hotline.realtime import disconnect_token

    disconnect_token(token_id)
    return jsonify(out)


# ------------------------------------------------------------ sessions
@api.get("/security/sessions")
@api_auth
@needs("security.admin")
def all_sessions():
    policy, now = session_policy(), utcnow()
    with db().session() as s:
        rows = s.scalars(select(UserSession).where(UserSession.ended_at.is_(None))
                         .order_by(UserSession.last_seen_at.desc()).limit(500)).all()
        return jsonify({"items": [sessions.session_json(r) | {"user": r.user.username}
                                  for r in rows if sessions.why_invalid(r, policy, now) is None]})


@api.post("/security/sessions/<int:session_id>/end")
@api_auth
@needs("security.admin")
def end_session(session_id: int):
    body = parse(ReasonIn)
    with db().session() as s:
        if not sessions.end(s, session_id, "ended_by_admin"):
            raise NotFound("会话不存在或已结束")
        audit("session.end", "session", session_id, reason=body.reason, s=s)
    from hotline.realtime import disconnect_session

    disconnect_session(session_id)
    return jsonify({"ended": True})


# ------------------------------------------------------------ audit log (auditor)
AUDIT_COLUMNS = ["id", "at", "actor", "address", "action", "object_type", "object_id", "result", "reason",
                 "payload"]
MAX_EXPORT_ROWS = 200_000


def _audit_query():
    q = select(AuditEvent)
    args = request.args
    for name, col in (("from", AuditEvent.at), ("to", AuditEvent.at)):
        raw = args.get(name)
        if raw:
            try:
                d = dt.date.fromisoformat(raw)
            except ValueError:
                raise Invalid(f"参数 {name} 应为日期 YYYY-MM-DD", {name: "YYYY-MM-DD"}) from None
            if not 2000 <= d.year <= 2100:
                raise Invalid(f"参数 {name} 应在 2000–2100 年之间", {name: "2000..2100"})
            # Local (Beijing) dates, both included.
            at = dt.datetime.combine(d, dt.time(), dt.timezone(dt.timedelta(hours=8)))
            q = q.where(col >= at) if name == "from" else q.where(col < at + dt.timedelta(days=1))
    if args.get("action"):
        q = q.where(AuditEvent.action == args["action"][:64])
    if args.get("result"):
        q = q.where(AuditEvent.result == args["result"][:16])
    if args.get("actor"):
        q = q.where(AuditEvent.actor_label == args["actor"][:100])
    return q


def audit_json(e: AuditEvent) -> dict:
    return {"id": e.id, "at": e.at.isoformat(), "actor": e.actor_label, "actor_id": e.actor_id,
            "address": e.address, "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
            "result": e.result, "reason": e.reason, "payload": e.payload}


@api.get("/audit")
@api_auth
@needs("audit.read")
def audit_log():
    from hotline.api import _int_arg

    page = _int_arg("page", request.args.get("page", "1"), lo=1, hi=100_000)
    per_page = _int_arg("per_page", request.args.get("per_page", "50"), lo=1, hi=200)
    q = _audit_query()
    with db().session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
        return jsonify({"items": [audit_json(e) for e in rows], "page": page, "per_page": per_page,
                        "total": total})


@api.get("/audit/export")
@api_auth
@needs("audit.read")
def audit_export():
    """CSV (UTF-8 with BOM, opens in Excel) of the filtered log, oldest first."""
    import json

    q = _audit_query()
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(AUDIT_COLUMNS)
    n = 0
    with db().session() as s:
        for e in s.scalars(q.order_by(AuditEvent.id).limit(MAX_EXPORT_ROWS)):
            j = audit_json(e)
            w.writerow([j["id"], j["at"], j["actor"], j["address"], j["action"], j["object_type"], j["object_id"],
                        j["result"], j["reason"], json.dumps(j["payload"], ensure_ascii=False)])
            n += 1
        audit("audit.export", "audit_log", "", s=s, rows=n, filters={k: v[:64] for k, v in request.args.items()})
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})


# ------------------------------------------------------------ pages
@pages.get("/security")
@page_auth("security.admin")
def security_page():
    return render_template("security.html", roles=ROLES)


@pages.get("/audit")
@page_auth("audit.read")
def audit_page():
    return render_template("audit.html")


def init_app(app: Flask) -> None:
    csrf.exempt(api)  # api_auth checks CSRF itself for cookie sessions
    app.register_blueprint(api)
    app.register_blueprint(pages)
