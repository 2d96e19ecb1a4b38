"""Outbox delivery in process (jobs inline) against a real HTTP peer:
signing and Idempotency-Key, backoff, dead letters and a coordinator's
retry, refusals that are not retried, and two workers racing for a row."""
from __future__ import annotations

import random
import threading

from sqlalchemy import func, select

from integrations import outbox
from models import Linkage, OutboxMessage, TicketEvent
from tests.helpers import WAGES, bearer
from tests.integrations.conftest import wait_for


def create(client, headers, subject_body=WAGES, **extra):
    subject, body = subject_body
    payload = {"channel": "phone", "caller": {"name": "张先生", "phone": "13812345678"},
               "subject": subject, "description": body, "category": "劳动和社会保障"} | extra
    r = client.post("/api/v1/tickets", json=payload, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def transfer(client, headers, ticket_id, reason="来电人称正被人持刀威胁"):
    return client.post(f"/api/v1/tickets/{ticket_id}/actions/transfer_to_110", json={"reason": reason},
                       headers=headers)


def rows(db):
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def linkage_of(db, ticket_id, peer="police110", direction="outbound"):
    with db.session() as s:
        return s.scalar(select(Linkage).where(Linkage.ticket_id == ticket_id, Linkage.peer == peer,
                                              Linkage.direction == direction))


def drain(db, until, timeout=15.0):
    """Run the sweep (what rq cron does) until ``until()`` holds."""
    def step():
        outbox.sweep(db)
        return until()
    return wait_for(step, timeout=timeout, every=0.05, what="the outbox to drain")


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    pol = outbox.Policy(base_delay=10, max_delay=300)
    assert outbox.backoff(1, pol, rng=lambda: 0.0) == 5 and outbox.backoff(1, pol, rng=lambda: 1.0) == 10
    assert outbox.backoff(3, pol, rng=lambda: 1.0) == 40
    assert outbox.backoff(20, pol, rng=lambda: 1.0) == 300
    rng = random.Random(1)
    waits = {round(outbox.backoff(4, pol, rng=rng.random), 3) for _ in range(50)}
    assert len(waits) > 40 and min(waits) >= 40 and max(waits) <= 80, "jittered within [d/2, d]"


def test_agent_push_reaches_110_signed_and_ack_and_feedback_land_on_the_ticket(client, seeded_db, sim110):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    r = transfer(client, agent, t["id"])
    assert r.status_code == 200, r.get_json()
    (m,) = rows(seeded_db)
    assert m.state == "sent" and m.attempts == 1 and m.idempotency_key == f"police110.incident.{t['id']}"
    st = sim110.state()
    assert (st["delivered"], st["unique"], st["duplicates"], st["refused"]) == (1, 1, 0, 0)
    assert sim110.unique_keys() == {m.idempotency_key}
    number = m.response["incident_number"]

    def actions():
        evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
        return [(e["action"], e["reason"]) for e in evs]

    assert ("linkage_update", f"110已接警，警情编号 {number}") in actions()
    # 110's simulator sends its feedback by signed webhook a moment later.
    wait_for(lambda: any(a == "linkage_update" and r.startswith("110反馈") for a, r in actions()),
             what="110 feedback on the ticket")
    lk = linkage_of(seeded_db, t["id"])
    assert lk.state == "feedback" and lk.external_id == number and lk.trigger == "agent"
    # Pushing twice is refused, and nothing new is queued.
    r = transfer(client, agent, t["id"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_pushed"
    assert len(rows(seeded_db)) == 1


def test_5xx_is_retried_with_backoff_until_the_peer_recovers(client, seeded_db, sim110):
    sim110.mode.fail = 2
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    (m,) = rows(seeded_db)
    assert m.state == "pending" and m.attempts == 1 and "503" in m.last_error
    assert m.next_attempt_at > m.created_at
    drain(seeded_db, lambda: rows(seeded_db)[0].state == "sent")
    (m,) = rows(seeded_db)
    assert m.attempts == 3 and m.last_error == ""
    assert sim110.state()["unique"] == 1 and sim110.state()["duplicates"] == 0
    assert linkage_of(seeded_db, t["id"]).state in ("acknowledged", "feedback")


def test_dead_letter_after_max_attempts_then_a_coordinator_retries_it(client, seeded_db, sim110):
    # 110 is a critical peer (retried until delivered); here it is not.
    import dataclasses

    outbox.set_policy(dataclasses.replace(outbox.policy(), critical_peers=()))
    sim110.mode.down = True
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    drain(seeded_db, lambda: rows(seeded_db)[0].state == "dead")
    (m,) = rows(seeded_db)
    assert m.attempts == outbox.policy().max_attempts
    assert linkage_of(seeded_db, t["id"]).state == "failed"

    coord = bearer(seeded_db, "coordinator")
    dead = client.get("/api/v1/outbox?state=dead", headers=coord).get_json()
    assert [d["id"] for d in dead["items"]] == [m.id] and dead["counts"] == {"dead": 1}
    assert client.post(f"/api/v1/outbox/{m.id}/retry", headers=agent).status_code == 403
    sim110.mode.down = False
    r = client.post(f"/api/v1/outbox/{m.id}/retry", headers=coord)
    assert r.status_code == 200 and r.get_json()["state"] == "sent"
    assert client.post(f"/api/v1/outbox/{m.id}/retry", headers=coord).status_code == 409
    assert client.post("/api/v1/outbox/999999/retry", headers=coord).status_code == 404
    assert sim110.state()["unique"] == 1
    assert linkage_of(seeded_db, t["id"]).state in ("acknowledged", "feedback")


def test_a_refusal_by_the_peer_is_dead_lettered_at_once(client, seeded_db, sim110, monkeypatch):
    # We sign with a secret the peer does not share: it answers 401, and
    # retrying the same message cannot help.
    monkeypatch.setenv("HOTLINE_WEBHOOK_SECRET_POLICE110", "a-secret-110-does-not-know")
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    (m,) = rows(seeded_db)
    assert m.state == "dead" and m.attempts == 1 and "401" in m.last_error
    assert sim110.state()["refused"] == 1 and sim110.state()["unique"] == 0


def test_a_dropped_connection_is_retried(client, seeded_db, sim110):
    sim110.mode.drop = 1
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert transfer(client, agent, t["id"]).status_code == 200
    (m,) = rows(seeded_db)
    assert m.state == "pending" and "Connection" in m.last_error
    drain(seeded_db, lambda: rows(seeded_db)[0].state == "sent")
    assert sim110.state()["unique"] == 1


def test_workers_racing_for_one_row_deliver_it_once(seeded_db, sim110):
    sim110.mode.slow = 0.3
    sim110.mode.auto_reply = False
    with seeded_db.session() as s:
        m = outbox.add(s, "police110", "notice", {"text": "race"})
        mid = m.id
    results: list[str] = []
    barrier = threading.Barrier(8)

    def run():
        barrier.wait()
        results.append(outbox.deliver(mid, seeded_db))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["sent"] + ["skipped"] * 7
    assert sim110.state()["delivered"] == 1
    with seeded_db.session() as s:
        assert s.get(OutboxMessage, mid).attempts == 1


def test_the_sweep_leaves_rows_that_are_not_due_alone(seeded_db, sim110):
    import datetime as dt

    from models import utcnow

    with seeded_db.session() as s:
        later = outbox.add(s, "police110", "notice", {"n": 1})
        later.next_attempt_at = utcnow() + dt.timedelta(hours=1)
        sent = outbox.add(s, "police110", "notice", {"n": 2})
        sent.state = "sent"
    assert outbox.sweep(seeded_db) == 0
    assert sim110.state()["delivered"] == 0
    with seeded_db.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == 0
