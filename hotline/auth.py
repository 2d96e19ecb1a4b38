"""Who is asking: console sessions (username + password, CSRF-protected
forms, kept on the server: hotline.sessions) and API bearer tokens (stored
as SHA-256 only, with an expiry).  What they may do is
dispatch.capabilities; every refusal is in the audit log."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from dispatch.access import Actor
from dispatch.capabilities import CAPABILITIES, require
from dispatch.errors import DomainError, Forbidden
from hotline import sessions
from hotline.current import db
from models import ApiToken, User, utcnow
from models.audit import record

csrf = CSRFProtect()


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session_, user: User, name: str = "", days: int = 90) -> str:
    token = "hl_" + secrets.token_urlsafe(32)
    now = utcnow()
    session_.add(ApiToken(user_id=user.id, name=name[:100], token_hash=hash_token(token), created_at=now,
                          expires_at=now + dt.timedelta(days=days)))
    return token


PASSWORD_MIN_LENGTH = 10


def password_problems(password: str, username: str) -> list[str]:
    """The password policy, for creation and change: at least 10 characters
    from at least three of lower case, upper case, digits and symbols, and
    not containing the user name."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"至少 {PASSWORD_MIN_LENGTH} 个字符")
    classes = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]"))
    if classes < 3:
        problems.append("须包含小写字母、大写字母、数字、符号中的至少三类")
    if username and username.lower() in password.lower():
        problems.append("不能包含用户名")
    if len(password) > 128:
        problems.append("最多 128 个字符")
    return problems


def client_address() -> str:
    return (request.remote_addr or "")[:64]


def audit(action: str, object_type: str, object_id="", result: str = "success", reason: str = "",
          actor: Actor | None = None, s=None, **payload) -> None:
    """One audit row for the current request (its own transaction unless ``s``)."""
    actor = actor if actor is not None else g.get("actor")
    kw = dict(actor_id=actor.user_id if actor else None,
              actor_label=(actor.display_name if actor else ""), address=client_address(), result=result)
    if s is not None:
        record(s, action, object_type, object_id, reason, payload, **kw)
        return
    with db().session() as s2:
        record(s2, action, object_type, object_id, reason, payload, **kw)


def authenticate(username: str, password: str) -> User | None:
    with db().session() as s:
        user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            # Same work either way, so timing does not tell names apart.
            check_password_hash(_DUMMY_HASH, password)
            return None
        return user if check_password_hash(user.password_hash, password) else None


_DUMMY_HASH = generate_password_hash("not-a-password")


def token_is_live(row: ApiToken | None, now: dt.datetime) -> bool:
    return (row is not None and row.revoked_at is None and row.user.active
            and (row.expires_at is None or now < row.expires_at))


def _actor_from_bearer(header: str) -> Actor:
    from hotline.dbretry import repeatable

    token = header[len("Bearer "):].strip()
    with repeatable(), db().session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        now = utcnow()
        if not token_is_live(row, now):
            raise Unauthorized("令牌无效、已过期或已吊销", code="invalid_token")
        g.token_id = row.id
        g.must_change_password = False
        # Recorded to the minute: a write on every request would cost more
        # than the request itself.
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
        return Actor.from_user(row.user)


def session_policy() -> sessions.Policy:
    return sessions.Policy.from_settings(current_app.config["HOTLINE"])


def _actor_from_session() -> Actor | None:
    sid = session.get("sid")
    if not sid:
        return None
    with db().session() as s:
        row = sessions.resolve(s, sid, session_policy())
        if row is None:
            session.clear()
            return None
        g.session_id = row.id
        g.must_change_password = bool(row.user.must_change_password
                                      and current_app.config["HOTLINE"].production)
        return Actor.from_user(row.user)


def current_actor(required: bool = True) -> Actor | None:
    if "actor" not in g:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.actor, g.via_token = _actor_from_bearer(header), True
        else:
            g.actor, g.via_token = _actor_from_session(), False
    if required and g.actor is None:
        raise Unauthorized("需要登录或 Bearer 令牌")
    return g.actor


class PasswordChangeRequired(DomainError):
    status, code = 403, "password_change_required"


# What a session with a password still to change may reach.
PASSWORD_CHANGE_ENDPOINTS = {"console.account", "console.logout", "console.change_password",
                             "account_api.me", "account_api.change_password", "static"}


def api_auth(view):
    """API endpoints: bearer token, or the console's session plus CSRF."""
    @functools.wraps(view)
    def wrapper(*a, **kw):
        current_actor()
        if g.get("must_change_password") and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            raise PasswordChangeRequired("请先修改初始密码")
        if not g.via_token and request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return view(*a, **kw)
    return wrapper


def needs(capability: str):
    """An API view needs this capability (after ``api_auth``)."""
    if capability not in CAPABILITIES:
        raise KeyError(capability)

    def deco(view):
        @functools.wraps(view)
        def wrapper(*a, **kw):
            require(current_actor(), capability)
            return view(*a, **kw)
        return wrapper
    return deco


def page_auth(*needed: str):
    """A console page for the holders of a capability (or, for pages not yet
    moved to the table, of the listed roles)."""
    caps = [n for n in needed if n in CAPABILITIES]

    def deco(view):
        @functools.wraps(view)
        def wrapper(*a, **kw):
            actor = current_actor(required=False)
            if actor is None:
                return redirect(url_for("console.login", next=request.full_path))
            if g.get("must_change_password") and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
                return redirect(url_for("console.account"))
            for cap in caps:
                require(actor, cap)
            roles = [n for n in needed if n not in CAPABILITIES]
            if roles and actor.role not in roles:
                raise Forbidden("无权访问此页面")
            return view(*a, **kw)
        return wrapper
    return deco


def init_app(app: Flask) -> None:
    csrf.init_app(app)
