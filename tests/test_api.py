"""The REST API: the full path from intake to closure, idempotent intake,
refused transitions, unit isolation, and bad input."""
from __future__ import annotations

import json

import pytest

from tests.helpers import SCHOOL, WAGES, WATER, bearer


def create(client, headers, subject_body, **extra):
    subject, body = subject_body
    payload = {"channel": "phone", "caller": {"name": "张先生", "phone": "13812345678"},
               "subject": subject, "description": body} | extra
    return client.post("/api/v1/tickets", json=payload, headers=headers)


def test_full_path_from_intake_to_closure(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    r = create(client, agent, WAGES, category="劳动和社会保障")
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert t["number"] and t["status"] == "dispatched"
    assert t["category"]["name"] == "劳动和社会保障" and t["category"]["confidence"] is not None
    assert t["responsible_unit"]["code"] == "gy_rsj"
    assert t["due_at"] and t["sign_due_at"]

    dept = bearer(seeded_db, "gy_rsj")
    seen = client.get(f"/api/v1/tickets/{t['id']}", headers=dept).get_json()
    assert seen["caller"]["phone"] == "138****5678", "departments see masked phone numbers"
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/sign_for", json={"expected_version": seen["version"]},
                    headers=dept)
    assert r.status_code == 200 and r.get_json()["status"] == "handling"
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/reply", json={"reply_text": "已责令公司三日内支付工资。"},
                    headers=dept)
    assert r.get_json()["status"] == "replied"
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/close", json={}, headers=dept)
    assert r.status_code == 200 and r.get_json()["status"] == "closed"

    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert [e["action"] for e in evs] == ["accept", "dispatch", "sign_for", "reply", "close"]
    assert evs[2]["actor"] == "gy_rsj" and evs[3]["payload"]["reply_text"].startswith("已责令")
    listed = client.get("/api/v1/tickets?status=closed", headers=agent).get_json()
    assert any(i["id"] == t["id"] for i in listed["items"])


def test_idempotency_key_returns_the_same_ticket(client, seeded_db):
    agent = bearer(seeded_db, "agent") | {"Idempotency-Key": "call-0001"}
    first = create(client, agent, WATER)
    second = create(client, agent, WATER)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"]
    total = client.get("/api/v1/tickets", headers=agent).get_json()["total"]
    assert total == 1


def test_refused_transition_and_stale_version_are_409(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, SCHOOL, category="教育文体").get_json()
    dept = bearer(seeded_db, "gy_jyj")
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/close", json={}, headers=dept)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "transition_refused"
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/sign_for", json={"expected_version": t["version"] - 1},
                    headers=dept)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "stale_version"
    assert r.get_json()["error"]["current"]["status"] == "dispatched"
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/sign_for", json={}, headers=agent)
    assert r.status_code == 403
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/fly_away", json={}, headers=dept)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_action"


def test_department_cannot_read_or_act_on_other_units_tickets(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, SCHOOL, category="教育文体").get_json()
    other = bearer(seeded_db, "gy_rsj")
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/tickets/{t['id']}/events", headers=other).status_code == 404
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/sign_for", json={}, headers=other)
    assert r.status_code == 404
    assert client.get("/api/v1/tickets", headers=other).get_json()["total"] == 0


def test_confidential_caller_is_hidden_from_the_unit(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, WAGES, category="劳动和社会保障", confidential=True).get_json()
    seen = client.get(f"/api/v1/tickets/{t['id']}", headers=bearer(seeded_db, "gy_rsj")).get_json()
    assert seen["caller"] == {"name": "（保密）", "phone": ""}
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=agent).get_json()["caller"]["phone"] == "13812345678"


@pytest.mark.parametrize("body,content_type,status,code", [
    ("{not json", "application/json", 400, "invalid_json"),
    ("[1, 2]", "application/json", 422, "invalid"),
    ("description=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (json.dumps({"channel": "phone"}), "application/json", 422, "validation_failed"),
    (json.dumps({"description": ""}), "application/json", 422, "validation_failed"),
    (json.dumps({"description": "x" * 5001}), "application/json", 422, "validation_failed"),
    (json.dumps({"description": "停水", "channel": "pigeon"}), "application/json", 422, "validation_failed"),
    (json.dumps({"description": "停水", "caller": {"phone": "<script>"}}), "application/json", 422,
     "validation_failed"),
    (json.dumps({"description": "停水", "unknown": 1}), "application/json", 422, "validation_failed"),
])
def test_bad_input_gets_a_clear_error(client, seeded_db, body, content_type, status, code):
    r = client.post("/api/v1/tickets", data=body, content_type=content_type, headers=bearer(seeded_db, "agent"))
    assert r.status_code == status, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert err["code"] == code and err["message"]
    if status == 422 and code == "validation_failed":
        assert err["fields"]


def test_missing_fields_named(client, seeded_db):
    r = client.post("/api/v1/tickets", json={"channel": "phone"}, headers=bearer(seeded_db, "agent"))
    assert "description" in r.get_json()["error"]["fields"]
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, WAGES, category="劳动和社会保障").get_json()
    dept = bearer(seeded_db, "gy_rsj")
    client.post(f"/api/v1/tickets/{t['id']}/actions/sign_for", json={}, headers=dept)
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/reply", json={}, headers=dept)
    assert r.status_code == 422 and "reply_text" in r.get_json()["error"]["fields"]


def test_oversized_body_is_413(client, seeded_db):
    big = json.dumps({"description": "水" * 400_000})
    r = client.post("/api/v1/tickets", data=big, content_type="application/json",
                    headers=bearer(seeded_db, "agent"))
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"


def test_no_or_bad_token_is_401(client, seeded_db):
    assert client.get("/api/v1/tickets").status_code == 401
    r = client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"


def test_workflow_lists_the_action_verbs(client):
    names = {t["action"] for t in client.get("/api/v1/workflow").get_json()["transitions"]}
    assert {"sign_for", "reply", "close", "return", "dispatch"} <= names


def test_low_confidence_goes_to_review_not_to_a_wrong_department(client, seeded_db):
    r = create(client, bearer(seeded_db, "agent"), ("你好", "请问"))
    t = r.get_json()
    assert r.status_code == 201
    assert t["status"] == "accepted" and t["needs_review"] and t["responsible_unit"] is None
    dispatcher = bearer(seeded_db, "dispatcher")
    queue = client.get("/api/v1/tickets?needs_review=1", headers=dispatcher).get_json()
    assert [i["id"] for i in queue["items"]] == [t["id"]]


def test_lead_and_assisting_units_are_offered_their_own_actions(client, seeded_db):
    t = create(client, bearer(seeded_db, "agent"), ("你好", "请问")).get_json()
    units = {u["code"]: u["id"] for u in client.get("/api/v1/units", headers=bearer(seeded_db, "dispatcher"))
             .get_json()["items"]}
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/dispatch", headers=bearer(seeded_db, "dispatcher"),
                    json={"unit_id": units["gy_rsj"], "assist_unit_ids": [units["gy_jyj"]]})
    assert r.status_code == 200, r.get_json()
    lead = client.get(f"/api/v1/tickets/{t['id']}", headers=bearer(seeded_db, "gy_rsj")).get_json()
    assert "sign_for" in lead["allowed_actions"] and "give_input" not in lead["allowed_actions"]
    helper = client.get(f"/api/v1/tickets/{t['id']}", headers=bearer(seeded_db, "gy_jyj")).get_json()
    assert helper["allowed_actions"] == ["give_input"]
