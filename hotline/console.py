"""Console pages (zh-CN).  Pages are Jinja shells; data comes from the JSON
API through static/console.js, and live changes over Socket.IO."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlparse

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for

from dispatch import workflow
from dispatch.capabilities import can
from dispatch.workflow import RECORD_ONLY, TRANSITIONS
from hotline import sessions
from hotline.auth import audit, authenticate, client_address, current_actor, page_auth, session_policy
from hotline.current import db
from models import CHANNELS, REQUEST_TYPES, STATUSES, URGENCIES, Unit, User, utcnow

bp = Blueprint("console", __name__)
HOME_BY_ROLE = {"agent": "console.intake", "department": "console.inbox", "dispatcher": "console.inbox",
                "coordinator": "console.inbox", "supervisor": "console.inbox", "admin": "console.inbox",
                "security_admin": "security.security_page", "auditor": "security.audit_page"}


@bp.app_context_processor
def inject():
    actor = current_actor(required=False) if request.endpoint not in (None, "static") else None
    unit = None
    if actor:
        with db().session() as s:
            u = s.get(Unit, actor.unit_id)
            unit = u.name if u else ""
    vocabulary = workflow.vocabulary()
    page_data = {
        "statuses": STATUSES, "channels": CHANNELS, "urgencies": URGENCIES,
        "actionLabels": {k: t.label for k, t in TRANSITIONS.items()} | RECORD_ONLY,
        "actionRequired": {k: list(t.required) for k, t in TRANSITIONS.items()},
        # The named sets of dispatch/workflow.py, so the JavaScript does not retype them.
        "sets": vocabulary["statuses"], "roles": vocabulary["roles"],
        "thirdReturn": vocabulary["third_return"], "callbackTries": vocabulary["callback_tries"],
        "role": actor.role if actor else None, "unitId": actor.unit_id if actor else None,
    }
    return {"actor": actor, "unit_name": unit, "STATUSES": STATUSES, "CHANNELS": CHANNELS,
            "URGENCIES": URGENCIES, "REQUEST_TYPES": REQUEST_TYPES, "ROLE_SETS": vocabulary["roles"],
            "PAGE_DATA": page_data,
            # The navigation asks the capability table, like the pages and the API.
            "can": (lambda cap: bool(actor) and can(actor.role, cap)),
            "last_login": session.pop("last_login", None) if actor else None}


@bp.get("/")
def home():
    actor = current_actor(required=False)
    if actor is None:
        return redirect(url_for("console.login"))
    return redirect(url_for(HOME_BY_ROLE.get(actor.role, "console.inbox")))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        address = client_address()
        throttle = current_app.extensions["hotline.login_throttle"]
        wait = throttle.retry_after(username, address)
        if wait:
            audit("login.throttled", "user", username.lower(), result="refused", wait_s=wait)
            when = f"{wait} 秒" if wait < 120 else f"{(wait + 59) // 60} 分钟"
            return render_template("login.html", error=f"登录失败次数过多，请 {when}后再试"), 429, \
                {"Retry-After": str(wait)}
        user = authenticate(username, request.form.get("password", ""))
        if user is None:
            audit("login.failed", "user", username.lower(), result="failure")
            throttle.failed(username, address)
            error = "用户名或密码错误"
        else:
            throttle.succeeded(username, address)
            session.clear()
            with db().session() as s:
                row = s.get(User, user.id)
                sid, live = sessions.start(s, row, session_policy(), address, request.user_agent.string)
                session["sid"] = sid
                # Shown once on the next page: when and from where this
                # account last logged in (an unknown one is worth a look).
                beijing = dt.timezone(dt.timedelta(hours=8))
                session["last_login"] = [row.last_login_at.astimezone(beijing).strftime("%Y-%m-%d %H:%M:%S")
                                         if row.last_login_at else "", row.last_login_address]
                row.last_login_at, row.last_login_address = utcnow(), address
                from dispatch.access import Actor

                audit("login", "user", row.username.lower(), actor=Actor.from_user(row), s=s,
                      session_id=live.id)
            nxt = request.args.get("next", "")
            # Only same-site paths: no open redirect.
            if not nxt.startswith("/") or nxt.startswith("//") or urlparse(nxt).netloc:
                nxt = url_for("console.home")
            return redirect(nxt)
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    actor = current_actor(required=False)
    sid = g.get("session_id")
    if actor is not None and sid is not None:
        with db().session() as s:
            sessions.end(s, sid, "logout")
            audit("logout", "session", sid, actor=actor, s=s)
        from hotline.realtime import disconnect_session

        disconnect_session(sid)
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/account")
@page_auth()
def account():
    """One's own account: last login, password change, open sessions."""
    return render_template("account.html", must_change=g.get("must_change_password", False))


@bp.post("/account/password")
@page_auth()
def change_password():
    from hotline.account import set_password

    actor = current_actor()
    error = set_password(actor, request.form.get("current", ""), request.form.get("new", ""),
                         request.form.get("confirm", ""))
    if error:
        return render_template("account.html", error=error, must_change=g.get("must_change_password", False)), 422
    # Every session ended, this one too: log in again with the new password.
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/intake")
@page_auth("tickets.create")
def intake():
    return render_template("intake.html")


@bp.get("/inbox")
@page_auth("tickets.read")
def inbox():
    return render_template("inbox.html")


@bp.get("/review")
@page_auth("review.read")
def review():
    return render_template("review.html")


@bp.get("/board")
@page_auth("supervision.read")
def board():
    return render_template("board.html")


@bp.get("/callbacks")
@page_auth("callbacks.read")
def callbacks():
    return render_template("callbacks.html")


@bp.get("/tickets/<int:ticket_id>")
@page_auth("tickets.read")
def ticket(ticket_id: int):
    return render_template("ticket.html", ticket_id=ticket_id)


@bp.get("/linkage")
@page_auth("linkage.read")
def linkage_board():
    return render_template("linkage_board.html")


@bp.get("/calls")
@page_auth("tickets.create")
def calls():
    return render_template("linkage_calls.html")


def init_app(app: Flask) -> None:
    from hotline.throttle import LoginThrottle

    app.extensions["hotline.login_throttle"] = LoginThrottle(app.config["HOTLINE"].redis_url,
                                                             app.extensions["hotline.db"])
    app.register_blueprint(bp)
