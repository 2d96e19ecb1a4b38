"""Inbound webhooks: forged, stale and replayed messages are refused with no
trace but a log line; malformed bodies get a clear 4xx; a good message is
applied once, even when it arrives twice at the same moment."""
from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from integrations import signing
from models import InboundMessage, Linkage, OutboxMessage, Ticket, TicketEvent

TRANSFER = {"type": "transfer", "incident_number": "JQ2026112700001", "item": "停水",
            "description": "报警人称小区停水两天，物业不理，非警情，移交12345处理。",
            "caller": {"name": "刘女士", "phone": "13900001111"}, "address": "贵阳市南明区花果园小区"}


def post(client, data, peer="police110", message_id="msg-1", secret=None, age=0.0, raw: bytes | None = None,
         headers: dict | None = None):
    body = raw if raw is not None else json.dumps(data, ensure_ascii=False).encode()
    secret = secret or signing.secret_for(peer)
    h = {"Content-Type": "application/json",
         **signing.signed_headers(secret, body, message_id, now=time.time() - age)} if headers is None else headers
    return client.post(f"/webhooks/{peer}", data=body, headers=h)


def counts(db) -> dict:
    with db.session() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Ticket, TicketEvent, InboundMessage, Linkage, OutboxMessage)}


@pytest.mark.parametrize("how", ["forged", "stale", "future", "unsigned", "id_swapped", "unknown_secret"])
def test_forged_or_stale_messages_are_refused_and_leave_no_trace(client, seeded_db, caplog, how):
    before = counts(seeded_db)
    body = json.dumps(TRANSFER, ensure_ascii=False).encode()
    if how == "forged":
        r = post(client, TRANSFER, secret="guessed-secret")
    elif how == "stale":
        r = post(client, TRANSFER, age=301)
    elif how == "future":
        r = post(client, TRANSFER, age=-301)
    elif how == "unsigned":
        r = post(client, TRANSFER, headers={"Content-Type": "application/json"})
    elif how == "id_swapped":
        h = signing.signed_headers(signing.secret_for("police110"), body, "msg-1")
        h[signing.HEADER_MESSAGE_ID] = "msg-2"
        r = post(client, None, raw=body, headers=h)
    else:
        r = post(client, TRANSFER, secret=signing.secret_for("governance"))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert counts(seeded_db) == before
    assert any("webhook police110 refused" in rec.getMessage() for rec in caplog.records
               if rec.levelno == logging.WARNING)


def test_a_replayed_message_is_refused_with_409(client, seeded_db, caplog):
    r = post(client, TRANSFER, message_id="msg-replay")
    assert r.status_code == 201, r.get_json()
    after_first = counts(seeded_db)
    r = post(client, TRANSFER, message_id="msg-replay")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "replayed"
    assert counts(seeded_db) == after_first
    # The same incident under a fresh message id is still only one ticket.
    r = post(client, TRANSFER, message_id="msg-replay-2")
    assert r.status_code == 409
    assert counts(seeded_db)["Ticket"] == after_first["Ticket"]
    assert any("replayed" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize("raw,status,code", [
    (b"{not json", 400, "invalid_json"),
    (b"\xff\xfe", 400, "invalid_json"),
    (b"[1, 2]", 422, "invalid"),
    (b"[" * 100_000, 400, "invalid_json"),
    (b'{"type": "transfer", "item": {"a": [1]}, "description": null}', 422, "validation_failed"),
    (json.dumps({"type": "teleport"}).encode(), 422, "unknown_type"),
    (json.dumps({"type": "transfer", "item": "停水"}).encode(), 422, "validation_failed"),
    (json.dumps({**TRANSFER, "item": "外星人入侵"}, ensure_ascii=False).encode(), 422, "item_not_accepted"),
    (json.dumps({**TRANSFER, "caller": {"phone": "<script>"}}).encode(), 422, "validation_failed"),
    (json.dumps({"type": "ack", "ticket_number": "209901010000001", "incident_number": "JQ1"}).encode(),
     404, "unknown_ticket"),
    (json.dumps({"type": "feedback", "ticket_number": 5, "result": ["x"]}).encode(), 422, "validation_failed"),
])
def test_malformed_bodies_get_a_clear_4xx_and_are_not_remembered(client, seeded_db, raw, status, code):
    before = counts(seeded_db)
    r = post(client, None, raw=raw, message_id="msg-bad")
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] == code
    assert counts(seeded_db) == before
    # Not remembered: the peer can fix the message and send it again.
    assert post(client, TRANSFER, message_id="msg-bad").status_code == 201


def test_a_body_over_the_size_limit_is_413(client, app):
    big = b'{"type": "transfer", "description": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}'
    r = post(client, None, raw=big)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "payload_too_large"


def test_unknown_peer_and_wrong_method(client):
    r = client.post("/webhooks/martians", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_peer"
    assert client.get("/webhooks/police110").status_code == 405


def test_governance_and_telephony_bodies_are_checked_too(client, seeded_db):
    before = counts(seeded_db)
    r = post(client, {"type": "status", "event_id": "E1", "ticket_number": "x", "status": "exploded"},
             peer="governance")
    assert r.status_code == 422 and "status" in r.get_json()["error"]["fields"]
    r = post(client, {"type": "status", "event_id": "E1", "ticket_number": "x", "status": "closed"},
             peer="governance", message_id="g2")
    assert r.status_code == 422 and "result" in r.get_json()["error"]["fields"]
    r = post(client, {"type": "transcript", "call_id": "c1", "seq": 1, "text": "喂"}, peer="telephony")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_call"
    r = post(client, {"type": "call.ringing", "call_id": "bad id!", "agent": "agent"}, peer="telephony",
             message_id="t2")
    assert r.status_code == 422
    assert counts(seeded_db) == before


def test_the_same_message_arriving_twice_at_once_is_applied_once(live_url, seeded_db):
    body = json.dumps({**TRANSFER, "incident_number": "JQ-RACE"}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               **signing.signed_headers(signing.secret_for("police110"), body, "msg-race")}
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def send():
        barrier.wait()
        codes.append(requests.post(f"{live_url}/webhooks/police110", data=body, headers=headers, timeout=30)
                     .status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] + [409] * 5
    c = counts(seeded_db)
    assert c["Ticket"] == 1 and c["InboundMessage"] == 1
