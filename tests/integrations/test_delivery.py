"""Outbox delivery when the peer is slow, down for long, or answers only
through its feedback: in process (jobs inline) against the 110 and 综治
simulators over real HTTP on loopback, on the test database.

- an unanswered request is retried with the same Idempotency-Key and a
  longer read timeout, and a peer's acknowledgement (its feedback webhook)
  makes the message delivered, never dead, and the linkage never failed;
- critical peers (110) are retried past ``max_attempts`` with a capped
  backoff, and the coordinators see each undelivered message with its age;
- when a peer answers again (the health probe, or the next success) what
  waits for it is re-driven at once, oldest first, dead letters included.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading

from sqlalchemy import select, update

from hotline.realtime import socketio
from integrations import outbox
from models import OutboxMessage, TicketEvent, utcnow
from tests.helpers import WAGES, bearer, token
from tests.integrations.conftest import wait_for
from tests.integrations.test_outbox import create, drain, linkage_of, rows, transfer


def use_policy(**changes) -> outbox.Policy:
    pol = dataclasses.replace(outbox.policy(), **changes)
    outbox.set_policy(pol)
    return pol


def ack_events(db, ticket_id) -> list[str]:
    with db.session() as s:
        return [r for r in s.scalars(select(TicketEvent.reason).where(TicketEvent.ticket_id == ticket_id,
                                                                       TicketEvent.action == "linkage_update"))
                if r.startswith("110已接警")]


def make_due(db, *ids) -> None:
    with db.session() as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                  .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))


def test_an_unanswered_request_is_retried_with_the_same_key_and_a_longer_timeout(client, seeded_db, sim110):
    # 110 takes 1.2 s to answer; we first wait 0.5 s, then 1 s, then 2 s.
    use_policy(read_timeout=0.5, max_read_timeout=4.0, lease=2.0)
    sim110.mode.slow, sim110.mode.auto_reply = 1.2, False
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    (m,) = rows(seeded_db)
    assert m.state == "pending" and m.timeouts == 1 and "no answer within 0.5 s" in m.last_error
    assert m.first_failed_at is not None
    drain(seeded_db, lambda: rows(seeded_db)[0].state == "sent", timeout=30)
    (m,) = rows(seeded_db)
    assert (m.attempts, m.timeouts) == (3, 2), "0.5 s and 1 s went unanswered; 2 s was enough"
    st = sim110.state()
    # Every copy carried the same key: 110 drops the two repeats.
    assert st["unique"] == 1 and st["delivered"] == 3 and st["duplicates"] == 2
    assert linkage_of(seeded_db, t["id"]).state == "acknowledged"
    assert len(ack_events(seeded_db, t["id"])) == 1


def test_a_message_110_acknowledged_by_feedback_is_delivered_never_dead(client, seeded_db, sim110):
    # 110 is slower than any read timeout we allow and police110 is not
    # critical here, so the attempts run out; but 110 processes the first
    # copy and sends its feedback, and that is what counts.
    use_policy(read_timeout=0.3, max_read_timeout=0.6, max_attempts=2, critical_peers=(), lease=1.5)
    sim110.mode.slow = 1.5
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200

    def settled():
        outbox.sweep(seeded_db)
        lk = linkage_of(seeded_db, t["id"])
        return rows(seeded_db)[0].state == "sent" and lk.state == "feedback"
    wait_for(settled, timeout=30, every=0.1, what="110's feedback to deliver the message")
    (m,) = rows(seeded_db)
    assert m.state == "sent" and m.dead_reason == "" and m.response == {"acknowledged_by": "peer_webhook"}
    lk = linkage_of(seeded_db, t["id"])
    assert lk.state == "feedback" and lk.external_id.startswith("JQ")
    # The ticket says 110 took the call, once, before its feedback.
    assert ack_events(seeded_db, t["id"]) == [f"110已接警，警情编号 {lk.external_id}"]
    # Copies still in flight finish later and change nothing.
    wait_for(lambda: sim110.state()["delivered"] == m.attempts, timeout=10, what="the copies to land")
    assert linkage_of(seeded_db, t["id"]).state == "feedback"
    assert rows(seeded_db)[0].state == "sent"


def test_a_duplicate_answer_after_110s_feedback_keeps_the_acknowledgement(client, seeded_db, sim110):
    use_policy(read_timeout=0.3, max_read_timeout=3.0, lease=5.0)
    sim110.mode.slow, sim110.mode.auto_reply = 1.0, False
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200        # attempt 1: no answer in time
    (m,) = rows(seeded_db)
    wait_for(lambda: m.idempotency_key in sim110.responses, what="110 to process the first copy")
    number = sim110.responses[m.idempotency_key]["incident_number"]
    make_due(seeded_db, m.id)
    use_policy(read_timeout=2.0, max_read_timeout=4.0, lease=8.0)    # the retry waits long enough
    result = []
    second = threading.Thread(target=lambda: result.append(outbox.deliver(m.id, seeded_db)))
    second.start()                                                    # attempt 2: in flight, 1 s
    wait_for(lambda: sim110.state()["arrivals"] >= 2, what="the second copy to reach 110")
    status, _ = sim110.send_webhook({"type": "feedback", "ticket_number": t["number"], "incident_number": number,
                                     "status": "handled", "result": "民警已到场处置。"}, retry_for=0)
    assert status == 200
    second.join(10)
    assert result == ["skipped"], "the feedback had already delivered the message"
    lk = linkage_of(seeded_db, t["id"])
    assert lk.state == "feedback" and lk.external_id == number
    assert ack_events(seeded_db, t["id"]) == [f"110已接警，警情编号 {number}"]
    assert sim110.state()["duplicates"] == 1 and sim110.state()["unique"] == 1


def test_110_is_retried_until_delivered_with_capped_backoff_and_shown_undelivered(app, client, seeded_db,
                                                                                   sim110):
    pol = use_policy(max_attempts=2, base_delay=0.05, max_delay=3600.0, critical_max_delay=0.4)
    sim110.mode.down = True
    coord_sock = socketio.test_client(app, auth={"token": token(seeded_db, "coordinator")})
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    drain(seeded_db, lambda: rows(seeded_db)[0].attempts >= pol.max_attempts + 3)
    (m,) = rows(seeded_db)
    assert m.state == "pending" and m.dead_reason == "", "a critical peer's message never goes dead"
    assert linkage_of(seeded_db, t["id"]).state == "pending"
    assert (m.next_attempt_at - utcnow()).total_seconds() <= pol.critical_max_delay
    assert all(outbox.backoff(n, pol, rng=lambda: 1.0, critical=True) <= 0.4 for n in range(1, 60))
    # The coordinators' live view: the message, its age since the first failure.
    coord = bearer(seeded_db, "coordinator")
    assert client.get("/api/v1/outbox/undelivered", headers=agent).status_code == 403
    body = client.get("/api/v1/outbox/undelivered", headers=coord).get_json()
    (item,) = body["items"]
    assert item["id"] == m.id and item["critical"] and item["undelivered"] and item["state"] == "pending"
    assert item["ticket"]["number"] == t["number"] and item["failing_seconds"] >= 0
    assert item["first_failed_at"] == m.first_failed_at.isoformat() and body["critical"] == 1
    live = [e["args"][0] for e in coord_sock.get_received() if e["name"] == "outbox.changed"]
    assert live and live[-1]["id"] == m.id and live[-1]["first_failed_at"] and live[-1]["undelivered"]
    sim110.mode.down = False
    drain(seeded_db, lambda: rows(seeded_db)[0].state == "sent")
    assert client.get("/api/v1/outbox/undelivered", headers=coord).get_json()["items"] == []
    live = [e["args"][0] for e in coord_sock.get_received() if e["name"] == "outbox.changed"]
    assert live[-1]["state"] == "sent" and not live[-1]["undelivered"]
    assert linkage_of(seeded_db, t["id"]).state in ("acknowledged", "feedback")
    coord_sock.disconnect()


def test_when_the_peer_answers_again_waiting_and_dead_messages_are_redriven_oldest_first(client, seeded_db,
                                                                                          sim110):
    # Not critical here, long backoff: without a re-drive they would wait.
    use_policy(max_attempts=2, base_delay=600.0, max_delay=3600.0, critical_peers=())
    sim110.mode.down, sim110.mode.auto_reply = True, False
    agent = bearer(seeded_db, "agent")
    first = create(client, agent)
    assert transfer(client, agent, first["id"]).status_code == 200
    make_due(seeded_db, rows(seeded_db)[0].id)
    outbox.sweep(seeded_db)
    assert rows(seeded_db)[0].state == "dead" and rows(seeded_db)[0].dead_reason == "exhausted"
    assert linkage_of(seeded_db, first["id"]).state == "failed"
    later = [create(client, agent, (f"{WAGES[0]} {i}", WAGES[1])) for i in range(3)]
    for t in later:
        assert transfer(client, agent, t["id"]).status_code == 200
    assert [m.state for m in rows(seeded_db)] == ["dead", "pending", "pending", "pending"]
    assert all(m.next_attempt_at > utcnow() + dt.timedelta(seconds=60) for m in rows(seeded_db)[1:])
    # While 110 is down the probe re-drives nothing.
    assert outbox.probe(seeded_db) == {}
    sim110.mode.down = False
    assert outbox.probe(seeded_db) == {"police110": 4}
    assert [m.state for m in rows(seeded_db)] == ["sent"] * 4
    accepted = [d["key"] for d in sim110.deliveries if d["accepted"]]
    assert accepted == [m.idempotency_key for m in rows(seeded_db)], "oldest first"
    assert linkage_of(seeded_db, first["id"]).state == "acknowledged"

    # The next success re-drives too: 110 down again, two messages wait,
    # and a third one goes through once it is back.
    sim110.mode.down = True
    more = [create(client, agent, (f"{WAGES[0]} again {i}", WAGES[1])) for i in range(3)]
    for t in more[:2]:
        assert transfer(client, agent, t["id"]).status_code == 200
    sim110.mode.down = False
    assert transfer(client, agent, more[2]["id"]).status_code == 200
    assert [m.state for m in rows(seeded_db)] == ["sent"] * 7
    accepted = [d["key"] for d in sim110.deliveries if d["accepted"]]
    assert accepted[4:] == [rows(seeded_db)[i].idempotency_key for i in (6, 4, 5)]


def test_a_refused_message_is_not_redriven(client, seeded_db, sim110, monkeypatch):
    use_policy(critical_peers=())
    monkeypatch.setenv("HOTLINE_WEBHOOK_SECRET_POLICE110", "a-secret-110-does-not-know")
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    (m,) = rows(seeded_db)
    assert m.state == "dead" and m.dead_reason == "refused"
    assert outbox.probe(seeded_db) == {}
    assert rows(seeded_db)[0].state == "dead", "a refusal waits for a person"


def test_the_simulator_keeps_retrying_a_webhook_while_the_hotline_is_away(seeded_db, app):
    """A feedback sent while the hotline restarts is not lost: the simulator
    retries it for minutes, as 110 platforms do."""
    from werkzeug.serving import make_server

    from integrations.simulate import Mode, PeerSimulator
    from tests.helpers import free_port

    client = app.test_client()
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    port = free_port()
    sim = PeerSimulator("police110", f"http://127.0.0.1:{port}", 0, mode=Mode(webhook_retry_for=60))
    result = []
    sender = threading.Thread(target=lambda: result.append(sim.send_webhook(
        {"type": "feedback", "ticket_number": t["number"], "incident_number": "JQ1", "status": "handled",
         "result": "已处置"})))
    sender.start()
    wait_for(lambda: sim.webhook_tries >= 3, what="the hotline to refuse a few tries")
    server = make_server("127.0.0.1", port, app, threaded=True)     # the hotline comes back
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sender.join(60)
        assert result and result[0][0] == 200
        # The third try may already meet the server: it counts before it connects.
        assert sim.webhooks_sent[0]["tries"] >= 3
        with seeded_db.session() as s:
            assert s.scalar(select(TicketEvent.id).where(TicketEvent.ticket_id == t["id"],
                                                         TicketEvent.reason == "110反馈：已处置"))
    finally:
        server.shutdown()
        sim.server.server_close()


def test_an_unreachable_peer_is_retried_and_redriven_when_it_listens_again(client, seeded_db, sim110):
    use_policy(base_delay=600.0, max_delay=3600.0)
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    sim110.go_away()                       # connections refused: the machine is down
    try:
        assert transfer(client, agent, t["id"]).status_code == 200
        (m,) = rows(seeded_db)
        assert m.state == "pending" and "ConnectionError" in m.last_error and m.timeouts == 0
        assert outbox.probe(seeded_db) == {}
    finally:
        sim110.come_back()
    assert outbox.probe(seeded_db) == {"police110": 1}
    assert rows(seeded_db)[0].state == "sent" and sim110.state()["unique"] == 1


def test_the_simulator_command_plays_a_fault_and_takes_orders_live(tmp_path):
    import subprocess
    import sys

    import requests

    from tests.helpers import ROOT, free_port

    port = free_port()
    log = open(tmp_path / "sim.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "integrations.simulate", "police110", "--port", str(port),
                             "--down"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def health():
        try:
            return requests.get(f"{base}/health", timeout=2).status_code
        except requests.RequestException:
            return None
    try:
        assert wait_for(health, timeout=30, what="the simulator") == 503
        assert requests.post(f"{base}/_sim/mode", json={"down": False}, timeout=5).json()["down"] is False
        assert health() == 200
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
