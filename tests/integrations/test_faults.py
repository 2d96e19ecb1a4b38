"""Fault tests with the real pieces: PostgreSQL, Redis, ``python -m hotline
worker`` in a subprocess (rq worker + rq cron running the outbox sweep) and
a 110 simulator over HTTP on loopback.

Each test prints and records its figures (messages sent, deliveries that
reached the receiver, unique messages, duplicates the receiver dropped,
messages lost) in HOTLINE_FAULT_FIGURES (default
/tmp/hotline_fault_figures.jsonl); docs/integrations.md quotes them.
"""
from __future__ import annotations

import datetime as dt
import json
import socket
import time

import pytest
from sqlalchemy import select

from runtime import jobs
from dispatch.intake import IntakeData
from integrations.simulate import Mode, PeerSimulator
from models import Linkage, OutboxMessage, utcnow
from tests.dispatch import factories as f
from tests.helpers import WAGES, actor
from tests.integrations.conftest import FIGURES, wait_for


@pytest.fixture
def sim():
    s = PeerSimulator("police110", "", 0, mode=Mode(auto_reply=False)).start()
    yield s
    s.stop()


@pytest.fixture
def enqueue_to(seeded_db):
    """Point this process's enqueue at a Redis URL (the commit side)."""
    def point(url):
        f.wire(seeded_db, redis_url=url)
    yield point
    jobs.reset()


def push_tickets(db, n: int) -> list[int]:
    """n tickets, each transferred to 110 by the agent (one outbox row each)."""
    svc = f.service(db)
    agent = actor(db, "agent")
    ids = []
    for i in range(n):
        t, _ = svc.create_ticket(agent, IntakeData(channel="phone", subject=f"{WAGES[0]} #{i}",
                                                   description=WAGES[1], category="劳动和社会保障",
                                                   caller_phone="13812345678"))
        svc.act(agent, t.id, "transfer_to_110", {"reason": "来电人称遭人威胁"})
        ids.append(t.id)
    return ids


def outbox_rows(db) -> list[OutboxMessage]:
    with db.session() as s:
        return s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def all_sent(db, n):
    rows = outbox_rows(db)
    return len(rows) == n and all(r.state == "sent" for r in rows)


def figures(name: str, db, sim: PeerSimulator, ticket_ids: list[int], **extra) -> dict:
    rows = outbox_rows(db)
    st = sim.state()
    expected = {r.idempotency_key for r in rows}
    fig = {"test": name, "sent": len(ticket_ids), "rows_sent": sum(r.state == "sent" for r in rows),
           "dead": sum(r.state == "dead" for r in rows), "attempts": sum(r.attempts for r in rows),
           "requests_at_receiver": st["arrivals"], "delivered": st["delivered"], "unique": st["unique"],
           "duplicates": st["duplicates"], "lost": len(expected - sim.unique_keys()), **extra}
    with open(FIGURES, "a") as f:
        f.write(json.dumps(fig, ensure_ascii=False) + "\n")
    print(f"\nFIGURES {json.dumps(fig, ensure_ascii=False)}")
    return fig


def test_110_down_then_recovery_every_message_arrives_exactly_once(seeded_db, redis_url, enqueue_to, sim,
                                                                   start_worker):
    n = 30
    sim.mode.down = True
    enqueue_to(redis_url)
    start_worker(HOTLINE_PEER_URL_POLICE110=sim.url)
    ids = push_tickets(seeded_db, n)
    # 110 stays down until every message has failed at least twice.
    assert len(outbox_rows(seeded_db)) == n
    # A claim counts its attempt before the request reaches 110, so wait for
    # the arrivals too.
    wait_for(lambda: all(r.attempts >= 2 for r in outbox_rows(seeded_db))
             and sim.state()["arrivals"] >= 2 * n, timeout=150, what="two failed attempts per message")
    failed_while_down = sim.state()["arrivals"]
    sim.mode.down = False
    wait_for(lambda: all_sent(seeded_db, n), timeout=90, every=0.3, what="every message sent")
    fig = figures("110_down_then_recovery", seeded_db, sim, ids, refused_while_down=failed_while_down)
    assert fig["rows_sent"] == n and fig["dead"] == 0
    assert fig["unique"] == n and fig["lost"] == 0
    assert fig["duplicates"] == 0, "no lease expired, so nothing may reach the receiver twice"
    assert failed_while_down >= 2 * n
    # The worker records each 110 acknowledgement on its ticket (just after
    # marking the message sent).
    def states():
        with seeded_db.session() as s:
            return sorted(s.scalars(select(Linkage.state).where(Linkage.ticket_id.in_(ids))).all())
    wait_for(lambda: states() == ["acknowledged"] * n, timeout=20, what="every acknowledgement recorded")


def test_worker_killed_mid_delivery_loses_nothing(seeded_db, redis_url, enqueue_to, sim, start_worker):
    n = 10
    sim.mode.slow = 1.5
    enqueue_to(redis_url)
    env = dict(HOTLINE_PEER_URL_POLICE110=sim.url, HOTLINE_OUTBOX_READ_TIMEOUT="5",
               HOTLINE_OUTBOX_LEASE_SECONDS="8")
    first = start_worker(**env)
    ids = push_tickets(seeded_db, n)
    wait_for(lambda: sim.state()["arrivals"] >= 1, timeout=30, what="a delivery in flight")
    time.sleep(0.3)
    first.kill()   # SIGKILL to the worker, its work-horse and its scheduler
    in_flight = [r.id for r in outbox_rows(seeded_db) if r.attempts >= 1 and r.state == "pending"]
    assert in_flight, "the kill must interrupt a claimed delivery"
    sim.mode.slow = 0
    start_worker(**env)
    wait_for(lambda: all_sent(seeded_db, n), timeout=90, every=0.3, what="every message sent")
    fig = figures("worker_killed_mid_delivery", seeded_db, sim, ids, interrupted=len(in_flight))
    assert fig["rows_sent"] == n and fig["dead"] == 0
    # The interrupted deliveries were claimed again once their lease ran out.
    assert all(r.attempts >= 2 for r in outbox_rows(seeded_db) if r.id in in_flight)
    assert fig["unique"] == n and fig["lost"] == 0
    # The receiver may have finished the interrupted request after the
    # sender died: that copy is a duplicate it drops by Idempotency-Key.
    assert fig["duplicates"] <= len(in_flight)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_redis_down_at_commit_is_recovered_by_the_sweep(seeded_db, redis_url, redis_conn, enqueue_to, sim,
                                                         start_worker):
    n = 10
    enqueue_to(f"redis://127.0.0.1:{_closed_port()}/0")
    ids = push_tickets(seeded_db, n)
    rows = outbox_rows(seeded_db)
    assert len(rows) == n and all(r.state == "pending" and r.attempts == 0 for r in rows), \
        "the tickets and their messages are committed although nothing could be enqueued"
    assert redis_conn.llen("rq:queue:outbox") == 0
    enqueue_to(redis_url)
    start_worker(HOTLINE_PEER_URL_POLICE110=sim.url)
    wait_for(lambda: all_sent(seeded_db, n), timeout=60, every=0.3, what="the sweep to deliver everything")
    fig = figures("redis_down_at_commit", seeded_db, sim, ids)
    assert fig["rows_sent"] == n and fig["unique"] == n and fig["lost"] == 0 and fig["duplicates"] == 0


def test_110_slower_than_the_read_timeout_is_delivered_not_dead(seeded_db, redis_url, enqueue_to, sim,
                                                                start_worker):
    """110 answers after 1.5 s; the first attempt waits 1 s.  Before, every
    attempt timed out the same way and the message ended dead with 110
    holding every copy; now the retry waits twice as long."""
    n = 3
    sim.mode.slow = 1.5
    enqueue_to(redis_url)
    start_worker(HOTLINE_PEER_URL_POLICE110=sim.url, HOTLINE_OUTBOX_READ_TIMEOUT="1",
                 HOTLINE_OUTBOX_MAX_READ_TIMEOUT="4", HOTLINE_OUTBOX_MAX_ATTEMPTS="4",
                 HOTLINE_OUTBOX_LEASE_SECONDS="8")
    t0 = time.monotonic()
    ids = push_tickets(seeded_db, n)
    wait_for(lambda: all_sent(seeded_db, n), timeout=120, every=0.3, what="every message sent")
    fig = figures("110_slower_than_read_timeout", seeded_db, sim, ids, seconds=round(time.monotonic() - t0, 1),
                  timeouts=sum(r.timeouts for r in outbox_rows(seeded_db)))
    assert fig["rows_sent"] == n and fig["dead"] == 0 and fig["lost"] == 0 and fig["unique"] == n
    # Each copy 110 got beyond the first is one it drops by its key.
    assert fig["duplicates"] == fig["delivered"] - n <= fig["timeouts"]
    assert all(r.timeouts >= 1 for r in outbox_rows(seeded_db)), "the first wait was too short for each"


@pytest.mark.parametrize("critical", ["police110", ""], ids=["110-critical", "not-critical"])
def test_an_outage_longer_than_the_backoff_is_redriven_when_110_answers_again(seeded_db, redis_url, enqueue_to,
                                                                           sim, start_worker, critical):
    """110 is down until every message has failed more often than
    max_attempts allows.  Critical (the default for 110): still pending,
    retried with a capped backoff; not critical: dead-lettered.  Either way
    the health probe sees 110 answer again and re-drives them at once
    (the capped backoff here is a minute: the probe, not a retry, delivers)."""
    n = 6
    sim.mode.down = True
    enqueue_to(redis_url)
    start_worker(HOTLINE_PEER_URL_POLICE110=sim.url, HOTLINE_OUTBOX_MAX_ATTEMPTS="2",
                 HOTLINE_OUTBOX_BASE_DELAY_MS="200", HOTLINE_OUTBOX_CRITICAL_MAX_DELAY_SECONDS="1",
                 HOTLINE_OUTBOX_MAX_DELAY_SECONDS="1", HOTLINE_OUTBOX_PROBE_SECONDS="1",
                 HOTLINE_OUTBOX_CRITICAL_PEERS=critical)
    ids = push_tickets(seeded_db, n)
    if critical:
        wait_for(lambda: all(r.attempts >= 3 for r in outbox_rows(seeded_db)), timeout=90,
                 what="every message failed more often than max_attempts")
        assert all(r.state == "pending" for r in outbox_rows(seeded_db)), "a critical peer's message never dies"
    else:
        wait_for(lambda: all(r.state == "dead" for r in outbox_rows(seeded_db)), timeout=90,
                 what="every message dead-lettered")
        assert {r.dead_reason for r in outbox_rows(seeded_db)} == {"exhausted"}
    # From now on a retry would wait a minute: only a re-drive delivers fast.
    with seeded_db.session() as s:
        from sqlalchemy import update

        s.execute(update(OutboxMessage).where(OutboxMessage.state == "pending")
                  .values(next_attempt_at=utcnow() + dt.timedelta(seconds=60)))
    failed_while_down = sim.state()["arrivals"]
    back = time.monotonic()
    sim.mode.down = False
    wait_for(lambda: all_sent(seeded_db, n), timeout=60, every=0.2, what="every message re-driven and sent")
    recovered = time.monotonic() - back
    fig = figures(f"110_outage_longer_than_backoff_{critical or 'not_critical'}", seeded_db, sim, ids,
                  refused_while_down=failed_while_down, seconds_to_recover=round(recovered, 1))
    assert fig["rows_sent"] == n and fig["unique"] == n and fig["lost"] == 0 and fig["duplicates"] == 0
    accepted = [d["key"] for d in sim.deliveries if d["accepted"]]
    assert accepted == [r.idempotency_key for r in outbox_rows(seeded_db)], "oldest first"
    assert recovered < 45, "re-driven by the probe, not by the minute-long backoff"
