"""SLA timers: the warning at 80 % and the overdue notice of every running
clock (models.SlaClock).

Each clock gets rq jobs at its exact warning and due moments
(:func:`schedule`, called after commit by dispatch.tickets); the periodic
:func:`sweep` (hotline/wiring.py lists it) is the safety net for a lost job, a Redis that
was down, or the embedded default (no rq: the sweep is the only timer).
Both end in :func:`check_clock`, which is idempotent: the service refuses a
second warning or overdue notice for the same clock (the clock records
``warned_at``/``overdue_at``), and a clock that was stopped, paused or moved
meanwhile is simply checked against its current due.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, or_, select

from runtime import jobs
from dispatch.access import SYSTEM
from dispatch.errors import DomainError
from models import SlaClock, utcnow

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 60
SWEEP_BATCH = 500


def schedule(clock_id: int, at: dt.datetime) -> None:
    """An rq job at ``at`` (one second after, so "now > due" holds)."""
    when = at + dt.timedelta(seconds=1)
    jobs.enqueue(check_clock, clock_id, queue=jobs.QUEUE_SLA, at=when,
                 job_id=f"sla-{clock_id}-{int(when.timestamp())}")


def check_clock(clock_id: int) -> str:
    """Record the warning or the overdue notice that is due for one clock."""
    db = jobs.database()
    now = utcnow()
    with db.session() as s:
        c = s.get(SlaClock, clock_id)
        if c is None or c.stopped_at is not None:
            return "stopped"
        ticket_id = c.ticket_id
        if c.due_at is not None and now > c.due_at and c.overdue_at is None:
            action = "sla_overdue"
        elif c.warn_at is not None and now >= c.warn_at and c.warned_at is None and \
                (c.due_at is None or now <= c.due_at):
            action = "sla_warning"
        else:
            return "nothing"
    try:
        jobs.tickets().act(SYSTEM, ticket_id, action, {"clock_id": clock_id})
    except DomainError as e:
        # Someone moved the ticket meanwhile (signed for, replied, paused):
        # nothing to notice any more.
        log.info("sla check of clock %s (ticket %s): %s", clock_id, ticket_id, e.code)
        return e.code
    log.info("sla check of clock %s (ticket %s): %s", clock_id, ticket_id, action)
    return action


def sweep() -> dict:
    """Check every running clock whose warning or due has passed unnoticed."""
    db = jobs.database()
    now = utcnow()
    with db.session() as s:
        ids = s.scalars(select(SlaClock.id).where(
            SlaClock.stopped_at.is_(None),
            or_(and_(SlaClock.due_at.is_not(None), SlaClock.due_at < now, SlaClock.overdue_at.is_(None)),
                and_(SlaClock.warn_at.is_not(None), SlaClock.warn_at <= now, SlaClock.warned_at.is_(None))),
        ).order_by(SlaClock.due_at).limit(SWEEP_BATCH)).all()
    done: dict[str, int] = {}
    for cid in ids:
        r = check_clock(cid)
        done[r] = done.get(r, 0) + 1
    if ids:
        log.info("sla sweep: %s", done)
    return done
