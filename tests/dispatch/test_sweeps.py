"""SLA warnings and overdue notices, with frozen time: the periodic sweep
(the embedded default's only timer and everyone's safety net) and the rq
jobs enqueued at each clock's warning and due."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from dispatch import events as bus
from dispatch import sweeps
from runtime import jobs
from dispatch.calendar import LOCAL_TZ
from dispatch.intake import IntakeData
from models import SlaClock, SupervisionItem, TicketEvent
from tests.dispatch import factories as f
from tests.helpers import WAGES

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ)   # a Monday


@pytest.fixture
def inline_jobs(seeded_db):
    f.wire(seeded_db)
    seen: list = []
    bus.unsubscribe_all()
    bus.subscribe(lambda name, payload, rooms: seen.append((name, payload, rooms)))
    yield seen
    bus.unsubscribe_all()
    jobs.reset()


def at(minutes: float):
    return time_machine.travel(T0 + dt.timedelta(minutes=minutes), tick=False)


def intake(db, svc, urgency="emergency"):
    t, _ = svc.create_ticket(f.user_actor(db, "agent"), IntakeData(channel="phone", subject=WAGES[0],
                                                                   description=WAGES[1], urgency=urgency))
    return t


def actions(db, tid):
    with db.session() as s:
        return [e.action for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid)
                                            .order_by(TicketEvent.id))]


def test_sweep_warns_at_80_percent_then_raises_a_supervision_item_when_overdue(seeded_db, inline_jobs):
    db, svc = seeded_db, f.service(seeded_db)
    with at(0):
        t = intake(db, svc)
    assert t.sign_due_at == T0 + dt.timedelta(minutes=15)
    with at(5):
        assert sweeps.sweep() == {}
    with at(12.5):
        assert sweeps.sweep() == {"sla_warning": 1}
        assert sweeps.sweep() == {}
    assert actions(db, t.id)[-1] == "sla_warning"
    assert any(n == "sla.warning" for n, _, _ in inline_jobs)
    with at(16):
        assert sweeps.sweep() == {"sla_overdue": 1}
        assert sweeps.sweep() == {}, "idempotent"
    with db.session() as s:
        items = s.scalars(select(SupervisionItem)).all()
    assert [(i.kind, i.ticket_id, i.platform_id) for i in items] == [("sign_overdue", t.id, t.platform_id)]
    live = [(p, r) for n, p, r in inline_jobs if n == "supervision.new"]
    assert len(live) == 1 and {f"unit:{t.platform_id}", "role:coordinator"} <= set(live[0][1])
    assert live[0][0]["ticket"]["id"] == t.id and live[0][0]["kind"] == "sign_overdue"
    # Signing for late stops the sign clock; the close clock (2 h) goes on.
    with at(20):
        svc.act(f.user_actor(db, "gy_rsj"), t.id, "sign_for")
    with at(97):
        assert sweeps.sweep() == {"sla_warning": 1}
    with at(121):
        assert sweeps.sweep() == {"sla_overdue": 1}
    with db.session() as s:
        assert sorted(i.kind for i in s.scalars(select(SupervisionItem))) == ["overdue", "sign_overdue"]


def test_neither_awaiting_the_citizen_nor_an_extension_counts_as_overdue(seeded_db, inline_jobs):
    db, svc = seeded_db, f.service(seeded_db)
    dept = f.user_actor(db, "gy_rsj")
    with at(0):
        t = intake(db, svc)
        svc.act(dept, t.id, "sign_for")
    with at(30):
        svc.act(dept, t.id, "await_citizen", {"reason": "等群众补充"})
    with at(600):
        assert sweeps.sweep() == {}, "paused: no warning, not overdue"
    with at(630):
        resumed = svc.act(dept, t.id, "resume", {"reason": "已补充"})
    assert resumed.due_at == T0 + dt.timedelta(minutes=630 + 90)
    with at(700):
        svc.act(dept, t.id, "request_extension", {"reason": "需协调", "days": 1})
        svc.act(f.user_actor(db, "dispatcher"), t.id, "approve_extension", {"reason": "同意"})
    with at(800):
        assert "sla_overdue" not in sweeps.sweep()
    assert "sla_overdue" not in actions(db, t.id)


def test_a_stopped_clock_is_left_alone(seeded_db, inline_jobs):
    db, svc = seeded_db, f.service(seeded_db)
    with at(0):
        t = intake(db, svc)
    with at(1):
        svc.act(f.user_actor(db, "gy_rsj"), t.id, "sign_for")
    with db.session() as s:
        sign = s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == "sign"))
    with at(30):
        assert sweeps.check_clock(sign.id) == "stopped"


def test_timers_are_enqueued_at_the_warning_and_the_due_on_rq(seeded_db, redis_conn, redis_url):
    from rq import Queue

    db = seeded_db
    svc = f.wire(db, redis_url=redis_url)
    bus.unsubscribe_all()
    try:
        with at(0):
            t = intake(db, svc)
        with db.session() as s:
            clocks = s.scalars(select(SlaClock).where(SlaClock.ticket_id == t.id)).all()
        reg = Queue(jobs.QUEUE_SLA, connection=redis_conn).scheduled_job_registry
        when = sorted(reg.get_scheduled_time(j) for j in reg.get_job_ids())
        expected = sorted(x + dt.timedelta(seconds=1) for c in clocks for x in (c.warn_at, c.due_at))
        assert when == [x.replace(microsecond=0) for x in expected]
        # What the job does when it fires at the due of the sign clock:
        sign = next(c for c in clocks if c.stage == "sign")
        with at(15 + 1 / 60 + 0.01):
            assert sweeps.check_clock(sign.id) == "sla_overdue"
            assert sweeps.check_clock(sign.id) == "nothing"
    finally:
        jobs.reset()
