"""Who is asking: console sessions (username + password, CSRF-protected
forms) and API bearer tokens (stored as SHA-256 only)."""
from __future__ import annotations

import functools
import hashlib
import secrets

from flask import Flask, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from dispatch.access import Actor
from dispatch.errors import DomainError, Forbidden
from hotline.services import db
from models import ApiToken, User, utcnow

csrf = CSRFProtect()


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session_, user: User, name: str = "") -> str:
    token = "hl_" + secrets.token_urlsafe(32)
    session_.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token)))
    return token


def authenticate(username: str, password: str) -> User | None:
    with db().session() as s:
        user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            # Same work either way, so timing does not tell names apart.
            check_password_hash(_DUMMY_HASH, password)
            return None
        return user if check_password_hash(user.password_hash, password) else None


_DUMMY_HASH = generate_password_hash("not-a-password")


def _actor_from_bearer(header: str) -> Actor:
    from hotline.dbretry import repeatable

    token = header[len("Bearer "):].strip()
    with repeatable(), db().session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token),
                                              ApiToken.revoked_at.is_(None)))
        if row is None or not row.user.active:
            raise Unauthorized("令牌无效或已吊销", code="invalid_token")
        now = utcnow()
        # Recorded to the minute: a write on every request would cost more
        # than the request itself.
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
        return Actor.from_user(row.user)


def _actor_from_session() -> Actor | None:
    uid = session.get("uid")
    if not uid:
        return None
    with db().session() as s:
        user = s.get(User, uid)
        if user is None or not user.active:
            session.clear()
            return None
        return Actor.from_user(user)


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


def api_auth(view):
    """API endpoints: bearer token, or the console's session plus CSRF."""
    @functools.wraps(view)
    def wrapper(*a, **kw):
        current_actor()
        if not g.via_token and request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return view(*a, **kw)
    return wrapper


def page_auth(*roles: str):
    def deco(view):
        @functools.wraps(view)
        def wrapper(*a, **kw):
            actor = current_actor(required=False)
            if actor is None:
                return redirect(url_for("console.login", next=request.full_path))
            if roles and actor.role not in roles:
                raise Forbidden("无权访问此页面")
            return view(*a, **kw)
        return wrapper
    return deco


def init_app(app: Flask) -> None:
    csrf.init_app(app)
