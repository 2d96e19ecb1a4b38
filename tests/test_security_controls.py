"""Level-3 controls beyond the findings: append-only history, the password
policy and the forced change of a seeded password, what the audit log
records, and personal data walked through every endpoint as each role."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from models import AuditEvent
from tests.helpers import bearer
from tests.test_security_findings import USERS, csrf_of, login, new_ticket


# ------------------------------------------------------------ append-only history
@pytest.mark.parametrize("table", ["ticket_events", "audit_events"])
def test_history_tables_refuse_update_and_delete(client, seeded_db, pg_url, table):
    if pg_url is None:
        pytest.skip("the append-only trigger is PostgreSQL's (the embedded SQLite default has none)")
    new_ticket(client, bearer(seeded_db, "agent"))
    with seeded_db.session() as s:
        from models.audit import record

        record(s, "test.row", "test", 1)
    with seeded_db.session() as s:
        assert s.scalar(text(f"SELECT count(*) FROM {table}")) > 0
    for stmt in (f"UPDATE {table} SET action = 'forged'", f"DELETE FROM {table}", f"TRUNCATE {table}"):
        with pytest.raises(DBAPIError, match="append-only"):
            with seeded_db.session() as s:
                s.execute(text(stmt))
    # A transaction may complete the rows it inserted itself, before commit.
    with seeded_db.session() as s:
        from models.audit import record

        ev = record(s, "test.row", "test", 2, payload={"a": 1})
        s.flush()
        ev.payload = {"a": 1, "b": 2}
        s.flush()
    with seeded_db.session() as s:
        assert s.get(AuditEvent, ev.id).payload == {"a": 1, "b": 2}
    with pytest.raises(DBAPIError, match="append-only"):
        with seeded_db.session() as s:  # once committed, it is history
            s.get(AuditEvent, ev.id).payload = {}
            s.flush()


# ------------------------------------------------------------ passwords
@pytest.mark.parametrize("password,ok", [
    ("short1A!", False), ("alllowercaseletters", False), ("NoDigitsOrSymbols", False),
    ("agent-Secret-2026", False),  # contains the user name
    ("Correct-Horse-9", True), ("长城长城长城Ab12", True),
])
def test_password_policy(password, ok):
    from hotline.auth import password_problems

    assert (password_problems(password, "agent") == []) == ok


def test_changing_a_password_follows_the_policy_and_ends_sessions(app):
    c = login(app.test_client(), "agent")
    other = login(app.test_client(), "agent", address="10.2.2.2")
    h = {"X-CSRFToken": csrf_of(c)}
    r = c.post("/api/v1/me/password", json={"current": "test-password", "new": "weak"}, headers=h)
    assert r.status_code == 422 and "新密码不符合要求" in r.get_json()["error"]["message"]
    r = c.post("/api/v1/me/password", json={"current": "wrong", "new": "Better-Pass-2026"}, headers=h)
    assert r.status_code == 422
    r = c.post("/api/v1/me/password", json={"current": "test-password", "new": "Better-Pass-2026"}, headers=h)
    assert r.status_code == 200
    assert other.get("/api/v1/me").status_code == 401 and c.get("/api/v1/me").status_code == 401
    login(app.test_client(), "agent", password="Better-Pass-2026")


def test_a_seeded_password_must_be_changed_first_in_production(seeded_db, database_url):
    from dispatch import events
    from hotline.app import create_app
    from runtime.settings import Settings

    events.unsubscribe_all()
    app = create_app(Settings(database_url=database_url, redis_url=None, secret_key="test-secret-key-0123456789",
                              production=True))
    try:
        c = login(app.test_client(), "dispatcher")
        assert c.get("/inbox").headers["Location"].endswith("/account")
        r = c.get("/api/v1/tickets")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "password_change_required"
        page = c.get("/account").get_data(as_text=True)
        assert "当前为初始密码" in page
        tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = c.post("/account/password", data={"current": "test-password", "new": "Dispatch-Desk-77",
                                              "confirm": "Dispatch-Desk-77", "csrf_token": tok})
        assert r.status_code == 302
        c = login(app.test_client(), "dispatcher", password="Dispatch-Desk-77")
        assert c.get("/inbox").status_code == 200 and c.get("/api/v1/tickets").status_code == 200
        # The last login is shown once, on the first page after logging in.
        c2 = login(app.test_client(), "dispatcher", password="Dispatch-Desk-77")
        assert "上次登录" in c2.get("/inbox").get_data(as_text=True)
        assert "上次登录" not in c2.get("/inbox").get_data(as_text=True)
    finally:
        events.unsubscribe_all()
        app.extensions["hotline.db"].dispose()


# ------------------------------------------------------------ the audit log
def test_the_audit_log_records_who_what_where_and_the_result(app, seeded_db):
    c = login(app.test_client(), "gy_rsj", address="172.16.0.5")
    assert c.get("/review", environ_base={"REMOTE_ADDR": "172.16.0.5"}).status_code == 403  # refusal
    c.post("/logout", data={"csrf_token": csrf_of(c)})                   # logout
    sec = bearer(seeded_db, "secadmin")
    r = app.test_client().post("/api/v1/security/tokens", json={"username": "gy_jyj", "name": "对接"}, headers=sec)
    assert r.status_code == 201 and r.get_json()["token"].startswith("hl_")
    aud = app.test_client()
    export = aud.get("/api/v1/audit/export", headers=bearer(seeded_db, "auditor"))
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = export.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert rows[0].split(",")[:8] == ["id", "at", "actor", "address", "action", "object_type", "object_id", "result"]

    with seeded_db.session() as s:
        log = {e.action: e for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))}
    for action, result in (("login", "success"), ("permission.refused", "refused"), ("logout", "success"),
                           ("api_token.create", "success"), ("audit.export", "success")):
        e = log[action]
        assert e.result == result and e.at is not None and e.actor_label, action
    assert log["permission.refused"].address == "172.16.0.5" and "/review" in log["permission.refused"].object_id
    assert log["audit.export"].payload["rows"] >= 4
    # Nobody but the auditor reads it, and the auditor changes nothing.
    for role in ("admin", "secadmin", "agent"):
        assert app.test_client().get("/api/v1/audit", headers=bearer(seeded_db, role)).status_code == 403
    aud_h = bearer(seeded_db, "auditor")
    assert app.test_client().post("/api/v1/tickets", json={"description": "x"}, headers=aud_h).status_code == 403
    assert app.test_client().get("/api/v1/security/users", headers=aud_h).status_code == 403


# ------------------------------------------------------------ personal data, every endpoint, every role
CALLER_NAME, CALLER_PHONE = "欧阳娜娜", "13912345678"
# Roles whose work needs the caller's number: the hotline's own people take
# the call, call back, dispatch and coordinate.  The handling unit sees the
# name and a masked number (nothing of a confidential caller); the security
# administrator, the auditor and other units see neither.
NEEDS_PHONE = {"agent", "dispatcher", "coordinator", "supervisor", "admin"}
NEEDS_NAME = NEEDS_PHONE | {"department"}


def _get_paths(app, ticket_id: int) -> list[str]:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    out = []
    for path, item in doc["paths"].items():
        if "get" not in item or path.startswith("/webhooks"):
            continue
        p = path.replace("{ticket_id}", str(ticket_id)).replace("{fmt}", "json")
        if "{" in p:
            continue  # ids of other kinds: covered through the lists that hold them
        out.append(p)
    return out


def test_caller_identity_appears_only_where_the_role_needs_it(app, seeded_db):
    agent = bearer(seeded_db, "agent")
    plain = new_ticket(app.test_client(), agent, name=CALLER_NAME, phone=CALLER_PHONE)
    secret = new_ticket(app.test_client(), agent, confidential=True, name=CALLER_NAME, phone=CALLER_PHONE)
    assert plain["responsible_unit"]["code"] == "gy_rsj"
    masked = "139****5678"
    phone_seen: dict[str, set] = {}
    name_seen: dict[str, set] = {}
    for role, username in {**USERS, "other_department": "gy_jyj"}.items():
        h = bearer(seeded_db, username)
        for tid in (plain["id"], secret["id"]):
            for path in _get_paths(app, tid):
                r = app.test_client().get(path, headers=h)
                assert r.status_code < 500, (role, path)
                raw = r.get_data().decode("utf-8", "replace")
                if CALLER_PHONE in raw:
                    phone_seen.setdefault(role, set()).add(path)
                if CALLER_NAME in raw:
                    name_seen.setdefault(role, set()).add(path)
                if role == "department" and tid == secret["id"] and r.status_code == 200 and f"/{tid}" in path:
                    assert masked not in raw and CALLER_NAME not in raw, (role, path, "confidential")
                if role == "department" and tid == plain["id"] and r.status_code == 200 and \
                        path.endswith(f"/tickets/{tid}"):
                    assert json.loads(raw)["caller"]["phone"] == masked
    assert set(phone_seen) <= NEEDS_PHONE, {r: sorted(p) for r, p in phone_seen.items() if r not in NEEDS_PHONE}
    assert set(name_seen) <= NEEDS_NAME, {r: sorted(p) for r, p in name_seen.items() if r not in NEEDS_NAME}
    assert "agent" in phone_seen and "department" in name_seen, "the walk does reach the ticket"


def test_live_notices_carry_no_caller_identity(app, seeded_db):
    from hotline.realtime import socketio
    from tests.helpers import token

    listeners = {u: socketio.test_client(app, auth={"token": token(seeded_db, u)}) for u in ("agent", "gy_rsj")}
    new_ticket(app.test_client(), bearer(seeded_db, "agent"), name=CALLER_NAME, phone=CALLER_PHONE)
    for u, sock in listeners.items():
        got = json.dumps(sock.get_received(), ensure_ascii=False)
        assert "ticket.changed" in got and CALLER_PHONE not in got and CALLER_NAME not in got, u
