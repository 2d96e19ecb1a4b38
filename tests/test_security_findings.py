"""Regression tests for the seven findings of the outside security test
(issue 12), one section each."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.realtime import socketio
from integrations import signing
from models import User
from tests.helpers import WAGES, bearer, token
from tests.helpers import console_login as login

ROOT = Path(__file__).resolve().parent.parent


def csrf_of(client, path="/account"):
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def new_ticket(client, headers, confidential=False, name="张三", phone="13800001111"):
    subject, body = WAGES
    r = client.post("/api/v1/tickets", json={"subject": subject, "description": body, "category": "劳动和社会保障",
                                             "confidential": confidential,
                                             "caller": {"name": name, "phone": phone}}, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# ------------------------------------------------------------ 1. event payloads by reader
def test_a_unit_cannot_identify_a_confidential_caller_through_events(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    plain = new_ticket(client, agent)
    secret = new_ticket(client, agent, confidential=True)
    assert secret["responsible_unit"]["code"] == "gy_rsj"

    # The platform sees the possible repeat and that it is the same caller.
    evs = client.get(f"/api/v1/tickets/{secret['id']}/events", headers=agent).get_json()["items"]
    dups = evs[0]["payload"]["duplicates"]
    assert evs[0]["action"] == "accept" and plain["id"] in [d["ticket_id"] for d in dups]

    dept = bearer(seeded_db, "gy_rsj")
    raw = client.get(f"/api/v1/tickets/{secret['id']}/events", headers=dept).get_data(as_text=True)
    body = json.loads(raw)
    assert body["items"][0]["action"] == "accept"
    assert "duplicates" not in body["items"][0]["payload"]
    for leak in (plain["number"], "张三", "13800001111", "same_caller"):
        assert leak not in raw, f"{leak!r} leaks to the unit through the events"
    t = client.get(f"/api/v1/tickets/{secret['id']}", headers=dept).get_json()
    assert t["caller"] == {"name": "（保密）", "phone": ""}


def test_a_platform_sees_only_duplicates_it_may_open(client, seeded_db):
    """The province's ticket is not the city's to see, even as a possible repeat."""
    province = new_ticket(client, bearer(seeded_db, "province_agent"), phone="13900002222")
    city = bearer(seeded_db, "agent")
    mine = new_ticket(client, city, phone="13900002222")
    assert client.get(f"/api/v1/tickets/{province['id']}", headers=city).status_code == 404
    evs = client.get(f"/api/v1/tickets/{mine['id']}/events", headers=city).get_json()["items"]
    assert province["id"] not in [d["ticket_id"] for d in evs[0]["payload"].get("duplicates", [])]


# ------------------------------------------------------------ 2. the five causes of 500
NUL_CASES = [
    ("POST", "/api/v1/tickets", {"json": {"description": "停水\u0000三天"}}),
    ("POST", "/api/v1/tickets", {"json": {"description": "停水", "caller": {"name": "\u0000"}}}),
    ("GET", "/api/v1/tickets?status=accepted%00", {}),
    ("GET", "/api/v1/tickets/1%00", {}),
    ("GET", "/api/v1/units", {"headers": {"X-Anything": "a\x00b"}}),
    ("POST", "/api/v1/duplicates", {"json": {"description": "x", "caller_phone": "1\u0000"}}),
    ("GET", "/open311/v2/requests/%00.json", {}),
    ("GET", "/open311/v2/services.json?x=%00", {}),
    ("POST", "/open311/v2/requests.json", {"data": {"api_key": "k\x00", "service_code": "1",
                                                    "description": "d"}}),
]


@pytest.mark.parametrize("method,path,kw", NUL_CASES)
def test_nul_bytes_anywhere_are_a_400(client, seeded_db, method, path, kw):
    kw = dict(kw)
    headers = {**bearer(seeded_db, "agent"), **kw.pop("headers", {})}
    r = client.open(path, method=method, headers=headers, **kw)
    assert r.status_code == 400, r.get_data(as_text=True)
    if path.startswith("/open311/"):
        err = r.get_json()
        assert isinstance(err, list) and err[0]["code"] == 400 and err[0]["description"]
    else:
        assert r.get_json()["error"]["code"]


BIG = "99999999999999999999"


@pytest.mark.parametrize("method,path,body", [
    ("GET", f"/api/v1/tickets/{BIG}", None),
    ("GET", "/api/v1/tickets/2147483648/events", None),
    ("GET", f"/api/v1/tickets?page={BIG}", None),
    ("GET", f"/api/v1/tickets?unit={BIG}", None),
    ("GET", f"/api/v1/tickets?unit=-{BIG}", None),
    ("POST", "/api/v1/tickets", {"description": "路灯不亮", "unit_id": int(BIG)}),
    ("POST", "/api/v1/tickets/1/actions/dispatch", {"unit_id": 2**40, "expected_version": 2**63}),
    ("POST", f"/api/v1/supervision/{BIG}/resolve", {}),
    ("GET", f"/api/v1/figures?unit={BIG}", None),
    ("GET", f"/api/v1/figures/overdue?page={BIG}", None),
    ("GET", f"/open311/v2/requests/{BIG}.json", None),
])
def test_integers_beyond_the_database_range_are_a_4xx(client, seeded_db, method, path, body):
    r = client.open(path, method=method, json=body, headers=bearer(seeded_db, "admin"))
    if "overdue" in path:  # a page past the end is clamped to the last allowed page: empty
        assert r.status_code == 200 and r.get_json()["items"] == []
        return
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
def test_deeply_nested_json_is_a_400(client, seeded_db, depth):
    body = "[" * depth + "]" * depth
    for path in ("/api/v1/tickets", "/api/v1/suggest", "/webhooks/police110"):
        r = client.post(path, data=body, content_type="application/json", headers=bearer(seeded_db, "agent"))
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_json", (path, r.status_code)


@pytest.mark.parametrize("query", ["from=0001-01-01&to=9999-12-31", "month=9999-12", "month=0001-01",
                                   "from=9999-12-31&to=9999-12-31", "from=1900-01-01&to=2026-01-01"])
def test_extreme_dates_in_the_figures_are_a_4xx(client, seeded_db, query):
    for path in ("/api/v1/figures", "/api/v1/figures/trend", "/api/v1/figures/export.xlsx"):
        r = client.get(f"{path}?{query}", headers=bearer(seeded_db, "supervisor"))
        assert r.status_code == 422 and r.get_json()["error"]["fields"], (path, r.status_code)


@pytest.mark.parametrize("ts", ["1" + "0" * 400, "1e400", "-5", "9" * 13, "１２３"])
def test_an_absurd_webhook_timestamp_is_refused_not_a_500(client, seeded_db, ts):
    body = json.dumps({"type": "feedback"}).encode()
    secret = signing.secret_for("police110")
    sig = "v1=" + hmac.new(secret.encode(), f"{ts}.m-1.".encode() + body, hashlib.sha256).hexdigest()
    r = client.post("/webhooks/police110", data=body, content_type="application/json", headers={
        signing.HEADER_TIMESTAMP: ts, signing.HEADER_MESSAGE_ID: "m-1", signing.HEADER_SIGNATURE: sig})
    assert r.status_code == 401 and r.get_json()["error"]["code"]


def test_open311_errors_are_always_open311s_format(client, app):
    @app.get("/open311/v2/_boom.json")
    def boom():  # an unexpected failure inside Open311
        raise RuntimeError("boom")

    r = client.get("/open311/v2/_boom.json")
    assert r.status_code == 500 and r.get_json() == [{"code": 500, "description": "服务器内部错误，已记录"}]
    r = client.get("/open311/v2/requests/%00.xml")
    assert r.status_code == 400 and r.mimetype == "application/xml" and b"<errors>" in r.data


# ------------------------------------------------------------ 3. sessions and tokens
def test_logout_ends_the_session_on_the_server(app):
    c = login(app.test_client(), "agent")
    assert c.get("/api/v1/me").status_code == 200
    cookie = c.get_cookie("session").value
    r = c.post("/logout", data={"csrf_token": csrf_of(c)})
    assert r.status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/api/v1/me").status_code == 401, "the old cookie no longer works"
    assert replay.get("/inbox").status_code == 302


def test_deactivation_ends_every_session(app, seeded_db):
    a, b = login(app.test_client(), "gy_jyj"), login(app.test_client(), "gy_jyj", address="10.1.1.1")
    mine = a.get("/api/v1/me/sessions").get_json()["items"]
    assert len(mine) == 2 and sum(s["current"] for s in mine) == 1
    with seeded_db.session() as s:
        uid = s.scalar(select(User.id).where(User.username == "gy_jyj"))
    r = app.test_client().post(f"/api/v1/security/users/{uid}/deactivate", json={"reason": "离职"},
                               headers=bearer(seeded_db, "secadmin"))
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert a.get("/api/v1/me").status_code == 401 and b.get("/api/v1/me").status_code == 401


def test_idle_timeout_and_absolute_lifetime(app):
    import time_machine

    c = login(app.test_client(), "agent")
    now = dt.datetime.now(dt.timezone.utc)
    with time_machine.travel(now + dt.timedelta(minutes=29), tick=False):
        assert c.get("/api/v1/me").status_code == 200, "used within 30 minutes: still on"
    with time_machine.travel(now + dt.timedelta(minutes=29 + 31), tick=False):
        assert c.get("/api/v1/me").status_code == 401, "idle for 31 minutes: ended"

    c = login(app.test_client(), "agent")
    now = dt.datetime.now(dt.timezone.utc)
    for minutes in range(20, 12 * 60, 20):  # busy all day: never idle
        with time_machine.travel(now + dt.timedelta(minutes=minutes), tick=False):
            assert c.get("/api/v1/me").status_code == 200
    with time_machine.travel(now + dt.timedelta(hours=12, minutes=1), tick=False):
        assert c.get("/api/v1/me").status_code == 401, "12 hours after login: ended however busy"


def test_tokens_expire_and_can_be_listed_and_revoked(app, seeded_db, database_url):
    import os
    import subprocess
    import sys

    import time_machine

    h = bearer(seeded_db, "gy_rsj")
    assert app.test_client().get("/api/v1/me", headers=h).status_code == 200
    with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=91), tick=False):
        r = app.test_client().get("/api/v1/me", headers=h)
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"

    env = dict(os.environ, DATABASE_URL=database_url)
    run = lambda *a: subprocess.run([sys.executable, "-m", "hotline", *a], capture_output=True, text=True,  # noqa
                                    timeout=120, env=env)
    out = run("tokens", "list")
    assert out.returncode == 0 and "gy_rsj" in out.stdout, out.stderr
    tid = next(int(line.split()[0]) for line in out.stdout.splitlines() if "gy_rsj" in line)
    out = run("tokens", "revoke", str(tid), "--reason", "泄露")
    assert out.returncode == 0, out.stderr
    assert app.test_client().get("/api/v1/me", headers=h).status_code == 401
    assert "gy_rsj" not in run("tokens", "list").stdout
    assert "revoked" in run("tokens", "list", "--all").stdout
    log = app.test_client().get("/api/v1/audit?action=api_token.revoke",
                                headers=bearer(seeded_db, "auditor")).get_json()["items"]
    assert log and log[0]["object_id"] == str(tid) and log[0]["reason"] == "泄露"


# ------------------------------------------------------------ 4. login throttle: tests/test_login_throttle.py


# ------------------------------------------------------------ 5. sockets follow their credential
def test_sockets_are_cut_on_revocation_deactivation_and_logout(app, seeded_db):
    from hotline.realtime import recheck
    from hotline.sessions import Policy

    tok = token(seeded_db, "gy_rsj")
    by_token = socketio.test_client(app, auth={"token": tok})
    http = login(app.test_client(), "agent")
    by_session = socketio.test_client(app, flask_test_client=http)
    other = login(app.test_client(), "dispatcher")
    bystander = socketio.test_client(app, flask_test_client=other)
    assert by_token.is_connected() and by_session.is_connected() and bystander.is_connected()

    sec = bearer(seeded_db, "secadmin")
    tokens = app.test_client().get("/api/v1/security/tokens", headers=sec).get_json()["items"]
    tid = next(t["id"] for t in tokens if t["user"] == "gy_rsj")
    assert app.test_client().post(f"/api/v1/security/tokens/{tid}/revoke", json={"reason": "测试"},
                                  headers=sec).status_code == 200
    assert not by_token.is_connected(), "a revoked token's socket is cut at once"

    http.post("/logout", data={"csrf_token": csrf_of(http)})
    assert not by_session.is_connected(), "logging out cuts the page's socket"
    assert bystander.is_connected()

    # Ended elsewhere (another process, by hand): the periodic re-check cuts it.
    with seeded_db.session() as s:
        s.scalar(select(User).where(User.username == "dispatcher")).active = False
    assert recheck(app.extensions["hotline.sockets"], seeded_db, Policy.from_settings(app.config["HOTLINE"])) == 1
    assert not bystander.is_connected()


def test_the_socket_recheck_runs_on_its_own(app, seeded_db):
    """Within the configured interval (20 s by default, < 60 s) without any request."""
    import dataclasses
    import time

    app.config["HOTLINE"] = dataclasses.replace(app.config["HOTLINE"], socket_recheck_seconds=1)
    tok = token(seeded_db, "gy_jyj")
    sock = socketio.test_client(app, auth={"token": tok})
    assert sock.is_connected()
    from models import ApiToken

    with seeded_db.session() as s:
        s.scalar(select(ApiToken).order_by(ApiToken.id.desc()).limit(1)).revoked_at = dt.datetime.now(dt.timezone.utc)
    deadline = time.monotonic() + 60
    while sock.is_connected() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sock.is_connected()


# ------------------------------------------------------------ 6. one table of capabilities
def test_the_api_allows_no_more_than_the_console(client, seeded_db):
    subject, body = WAGES
    for role in ("supervisor", "coordinator", "gy_rsj", "secadmin", "auditor"):
        r = client.post("/api/v1/tickets", json={"subject": subject, "description": body},
                        headers=bearer(seeded_db, role))
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "role_not_allowed", role
    for role in ("agent", "supervisor", "gy_rsj"):
        assert client.get("/api/v1/review", headers=bearer(seeded_db, role)).status_code == 403, role
    assert client.get("/api/v1/review", headers=bearer(seeded_db, "dispatcher")).status_code == 200


PAGES_AND_APIS = [  # (page, API endpoint behind it, capability)
    ("/intake", ("POST", "/api/v1/suggest", {"description": "停水"}), "tickets.create"),
    ("/calls", ("POST", "/api/v1/police110/detect", {"text": "停水"}), "tickets.create"),
    ("/inbox", ("GET", "/api/v1/tickets", None), "tickets.read"),
    ("/review", ("GET", "/api/v1/review", None), "review.read"),
    ("/board", ("GET", "/api/v1/supervision", None), "supervision.read"),
    ("/callbacks", ("GET", "/api/v1/callbacks", None), "callbacks.read"),
    ("/linkage", ("GET", "/api/v1/linkages", None), "linkage.read"),
    ("/figures", ("GET", "/api/v1/figures", None), "figures.read"),
    ("/admin", ("GET", "/api/v1/admin/models", None), "system.admin"),
    ("/security", ("GET", "/api/v1/security/users", None), "security.admin"),
    ("/audit", ("GET", "/api/v1/audit", None), "audit.read"),
]
USERS = {"agent": "agent", "dispatcher": "dispatcher", "coordinator": "coordinator", "supervisor": "supervisor",
         "admin": "admin", "department": "gy_rsj", "security_admin": "secadmin", "auditor": "auditor"}


def test_console_and_api_follow_the_same_table(app, seeded_db):
    from dispatch.capabilities import can

    for role, username in USERS.items():
        page_client = login(app.test_client(), username)
        api_headers = bearer(seeded_db, username)
        for page, (method, path, body), cap in PAGES_AND_APIS:
            allowed = can(role, cap)
            p = page_client.get(page)
            a = app.test_client().open(path, method=method, json=body, headers=api_headers)
            assert (p.status_code == 200) == allowed, (role, page, p.status_code)
            assert (a.status_code not in (401, 403)) == allowed, (role, path, a.status_code)
            nav = page_client.get("/account").get_data(as_text=True)
            assert (f'href="{page}"' in nav) == allowed, (role, page, "navigation")


def test_nobody_holds_two_administrative_duties(seeded_db):
    from dispatch.capabilities import CAPABILITIES

    duties = ("system.admin", "security.admin", "audit.read")
    with seeded_db.session() as s:
        for u in s.scalars(select(User)):
            assert sum(u.role in CAPABILITIES[d] for d in duties) <= 1, u.username
        roles = {u.role for u in s.scalars(select(User))}
    assert {"admin", "security_admin", "auditor"} <= roles


# ------------------------------------------------------------ 7. headers, CSRF expiry, salts
def test_every_response_carries_the_security_headers(client, seeded_db):
    for path in ("/login", "/api/v1/workflow", "/static/console.js", "/no-such-page", "/open311/v2/services.json"):
        h = client.get(path).headers
        csp = h["Content-Security-Policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert script_src.strip() == "script-src 'self'", "no inline script, no eval"
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"


def test_templates_hold_no_inline_script():
    for path in sorted((ROOT / "hotline" / "templates").glob("*.html")):
        html = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, f"{path.name}: inline {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{path.name}: an on…= handler"
        assert "javascript:" not in html, path.name


def test_csrf_tokens_expire(app):
    import time_machine
    from flask_wtf.csrf import generate_csrf, validate_csrf
    from wtforms import ValidationError

    limit = app.config["WTF_CSRF_TIME_LIMIT"]
    assert limit and limit <= 24 * 3600, "a CSRF token lives no longer than a session"
    with app.test_request_context():
        tok = generate_csrf()
        validate_csrf(tok)
        with time_machine.travel(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=limit + 60), tick=False):
            with pytest.raises(ValidationError, match="expired"):
                validate_csrf(tok)


def test_every_demo_account_has_its_own_salt(seeded_db):
    with seeded_db.session() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    salts = [h.split("$")[1] for h in hashes]
    assert len(hashes) > 20 and len(set(hashes)) == len(hashes) and len(set(salts)) == len(salts)
