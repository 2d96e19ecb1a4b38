"""Socket.IO: connections are authenticated, and ticket changes reach the
right rooms only."""
from __future__ import annotations

import re

from hotline.realtime import socketio
from tests.helpers import WAGES, bearer, token


def login(client, username, password="test-password"):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def events_named(sock, name):
    return [m["args"][0] for m in sock.get_received() if m["name"] == name]


def test_unauthenticated_socket_is_refused(app):
    sock = socketio.test_client(app, flask_test_client=app.test_client())
    assert not sock.is_connected()
    sock = socketio.test_client(app, auth={"token": "hl_forged"})
    assert not sock.is_connected()


def test_ticket_changes_reach_the_right_rooms_only(app, seeded_db):
    agent_http = login(app.test_client(), "agent")
    agent = socketio.test_client(app, flask_test_client=agent_http)
    dept = socketio.test_client(app, auth={"token": token(seeded_db, "gy_rsj")})
    other = socketio.test_client(app, auth={"token": token(seeded_db, "gy_jyj")})
    assert agent.is_connected() and dept.is_connected() and other.is_connected()

    subject, body = WAGES
    r = agent_http.post("/api/v1/tickets", json={"subject": subject, "description": body,
                                                 "category": "劳动和社会保障"},
                        headers={"X-CSRFToken": _csrf(agent_http)})
    assert r.status_code == 201, r.get_json()
    t = r.get_json()

    got = events_named(dept, "ticket.changed")
    assert [m["event"]["action"] for m in got] == ["accept", "dispatch"]
    assert got[-1]["ticket"]["number"] == t["number"] and got[-1]["ticket"]["status"] == "dispatched"
    assert "caller" not in got[-1]["ticket"], "live notices carry no caller identity"
    assert events_named(other, "ticket.changed") == []
    assert [m["event"]["action"] for m in events_named(agent, "ticket.changed")] == ["accept", "dispatch"]

    h = bearer(seeded_db, "gy_rsj")
    assert app.test_client().post(f"/api/v1/tickets/{t['id']}/actions/sign_for", json={},
                                  headers=h).status_code == 200
    live = events_named(agent, "ticket.changed")
    assert live and live[-1]["ticket"]["status"] == "handling" and live[-1]["event"]["by"]
    assert events_named(other, "ticket.changed") == []


def test_console_api_writes_need_the_csrf_token(app):
    c = login(app.test_client(), "agent")
    r = c.post("/api/v1/tickets", json={"description": "路灯不亮"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"


def _csrf(client):
    page = client.get("/intake").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_catch_up_returns_what_a_console_missed_and_only_what_it_may_see(app, seeded_db):
    """A console back from a lost socket asks for the events after the last
    one it saw; each live notice carries that cursor."""
    c = app.test_client()
    dept, other = bearer(seeded_db, "gy_rsj"), bearer(seeded_db, "gy_jyj")
    start = c.get("/api/v1/changes", headers=dept).get_json()
    assert start["items"] == [] and isinstance(start["cursor"], int)

    live = socketio.test_client(app, auth={"token": token(seeded_db, "gy_rsj")})
    subject, body = WAGES
    r = c.post("/api/v1/tickets", json={"subject": subject, "description": body, "category": "劳动和社会保障"},
               headers=bearer(seeded_db, "agent"))
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["number"]
    notices = events_named(live, "ticket.changed")

    missed = c.get(f"/api/v1/changes?after={start['cursor']}", headers=dept).get_json()
    assert [(m["ticket"]["number"], m["event"]["action"]) for m in missed["items"]] == \
        [(number, "accept"), (number, "dispatch")]
    assert [m["event"] for m in missed["items"]] == [m["event"] for m in notices], "the same shape as live"
    assert missed["cursor"] == notices[-1]["event"]["id"] and missed["more"] is False
    assert "caller" not in missed["items"][0]["ticket"]
    assert c.get(f"/api/v1/changes?after={start['cursor']}", headers=other).get_json()["items"] == []

    # Caught up: nothing newer (the overlap repeats only ids it already sent).
    again = c.get(f"/api/v1/changes?after={missed['cursor']}", headers=dept).get_json()
    assert {m["event"]["id"] for m in again["items"]} <= {m["event"]["id"] for m in missed["items"]}
    assert again["cursor"] == missed["cursor"]

    bad = c.get("/api/v1/changes?after=abc", headers=dept)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"] == {"after": "integer required"}
    assert c.get("/api/v1/changes").status_code == 401
