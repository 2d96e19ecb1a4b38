"""One's own account (any role): who am I, my open sessions (and ending
one), changing my password under the policy.  ``/api/v1/me…``"""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Flask, g, jsonify
from pydantic import Field
from sqlalchemy import select

from dispatch.capabilities import capabilities_of
from dispatch.errors import Invalid, NotFound
from hotline import sessions
from hotline.auth import (api_auth, audit, csrf, current_actor, hash_password, password_problems,
                          session_policy)
from hotline.schemas import Strict, parse
from hotline.current import db
from models import User, UserSession, utcnow
from werkzeug.security import check_password_hash

bp = Blueprint("account_api", __name__, url_prefix="/api/v1/me")


def set_password(actor, current: str, new: str, confirm: str | None = None) -> str | None:
    """Change the actor's password; an error message, or None when done.
    Every session of the account ends (the caller logs in again)."""
    if confirm is not None and new != confirm:
        return "两次输入的新密码不一致"
    with db().session() as s:
        user = s.get(User, actor.user_id)
        if user is None or not check_password_hash(user.password_hash, current):
            audit("password.change", "user", actor.username, result="failure", actor=actor, s=s,
                  why="wrong current password")
            return "当前密码不正确"
        problems = password_problems(new, user.username)
        if not problems and check_password_hash(user.password_hash, new):
            problems = ["新密码不能与当前密码相同"]
        if problems:
            audit("password.change", "user", actor.username, result="failure", actor=actor, s=s,
                  why="policy", problems=problems)
            return "新密码不符合要求：" + "；".join(problems)
        user.password_hash = hash_password(new)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        ended = sessions.end_all(s, user.id, "password_changed")
        audit("password.change", "user", actor.username, actor=actor, s=s, sessions_ended=ended)
    from hotline.realtime import disconnect_user

    disconnect_user(actor.user_id)
    return None


@bp.get("")
@api_auth
def me():
    actor = current_actor()
    with db().session() as s:
        user = s.get(User, actor.user_id)
        extra = {"last_login_at": user.last_login_at.isoformat() if user and user.last_login_at else None,
                 "last_login_address": user.last_login_address if user else "",
                 "must_change_password": bool(g.get("must_change_password"))}
    return jsonify(asdict(actor) | {"capabilities": capabilities_of(actor.role)} | extra)


@bp.get("/sessions")
@api_auth
def my_sessions():
    actor = current_actor()
    with db().session() as s:
        rows = sessions.open_sessions(s, actor.user_id, session_policy())
        return jsonify({"items": [sessions.session_json(r, g.get("session_id")) for r in rows]})


@bp.post("/sessions/<int:session_id>/end")
@api_auth
def end_my_session(session_id: int):
    actor = current_actor()
    with db().session() as s:
        row = s.scalar(select(UserSession).where(UserSession.id == session_id,
                                                 UserSession.user_id == actor.user_id))
        if row is None:
            raise NotFound("会话不存在")
        sessions.end(s, row.id, "ended_by_user")
        audit("session.end", "session", row.id, actor=actor, s=s)
    from hotline.realtime import disconnect_session

    disconnect_session(session_id)
    return jsonify({"ended": True})


class PasswordIn(Strict):
    current: str = Field(min_length=1, max_length=128)
    new: str = Field(min_length=1, max_length=128)


@bp.post("/password")
@api_auth
def change_password():
    body = parse(PasswordIn)
    error = set_password(current_actor(), body.current, body.new)
    if error:
        raise Invalid(error, {"new": error})
    return jsonify({"changed": True, "sessions_ended": True})


def init_app(app: Flask) -> None:
    csrf.exempt(bp)  # api_auth checks CSRF itself for cookie sessions
    app.register_blueprint(bp)
