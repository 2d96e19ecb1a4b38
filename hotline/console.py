"""Console pages (zh-CN).  Pages are Jinja shells; data comes from the JSON
API through static/console.js, and live changes over Socket.IO."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for

from dispatch import workflow
from dispatch.workflow import (CALLBACK_AGENTS, COORDINATORS, DISPATCHERS, FIGURE_READERS, RECORD_ONLY, REVIEWERS,
                               TRANSITIONS)
from hotline.auth import authenticate, current_actor, page_auth
from hotline.services import db
from models import CHANNELS, REQUEST_TYPES, STATUSES, URGENCIES, Unit

bp = Blueprint("console", __name__)
HOME_BY_ROLE = {"agent": "console.intake", "department": "console.inbox", "dispatcher": "console.inbox",
                "coordinator": "console.inbox", "supervisor": "console.inbox", "admin": "console.inbox"}


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
            "PAGE_DATA": page_data}


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
        username = request.form.get("username", "").strip()
        throttle = current_app.extensions["hotline.login_throttle"]
        wait = throttle.retry_after(username, request.remote_addr or "")
        if wait:
            minutes = max(1, (wait + 59) // 60)
            return render_template("login.html", error=f"登录失败次数过多，请 {minutes} 分钟后再试"), 429, \
                {"Retry-After": str(wait)}
        user = authenticate(username, request.form.get("password", ""))
        if user is None:
            throttle.failed(username, request.remote_addr or "")
            error = "用户名或密码错误"
        else:
            throttle.succeeded(username)
            session.clear()
            session["uid"] = user.id
            nxt = request.args.get("next", "")
            # Only same-site paths: no open redirect.
            if not nxt.startswith("/") or nxt.startswith("//") or urlparse(nxt).netloc:
                nxt = url_for("console.home")
            return redirect(nxt)
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/intake")
@page_auth(*DISPATCHERS)
def intake():
    return render_template("intake.html")


@bp.get("/inbox")
@page_auth()
def inbox():
    return render_template("inbox.html")


@bp.get("/review")
@page_auth(*REVIEWERS)
def review():
    return render_template("review.html")


@bp.get("/board")
@page_auth(*COORDINATORS)
def board():
    return render_template("board.html")


@bp.get("/callbacks")
@page_auth(*CALLBACK_AGENTS)
def callbacks():
    return render_template("callbacks.html")


@bp.get("/tickets/<int:ticket_id>")
@page_auth()
def ticket(ticket_id: int):
    return render_template("ticket.html", ticket_id=ticket_id)


@bp.get("/linkage")
@page_auth(*COORDINATORS)
def linkage_board():
    return render_template("linkage_board.html")


@bp.get("/calls")
@page_auth(*DISPATCHERS)
def calls():
    return render_template("linkage_calls.html")


def init_app(app: Flask) -> None:
    from hotline.throttle import LoginThrottle

    app.extensions["hotline.login_throttle"] = LoginThrottle(app.config["HOTLINE"].redis_url)
    app.register_blueprint(bp)
