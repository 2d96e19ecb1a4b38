"""The SLA clocks of a ticket inside a change (models.SlaClock).

Every dispatch, re-dispatch and redo starts a sign-for clock and a close
clock for the unit (dispatch.actions.dispatching ``assign``); signing for
stops the first, the unit's reply stops the second, each recording ``met``
or ``late``.  An approved extension pauses the close clock for its working
days; awaiting the citizen pauses it until the unit resumes.  A clock whose
due moved goes into ``c.timers``: after commit the service asks its timer
scheduler for a job at each warning and due (dispatch.sweeps), with the
periodic sweep as the safety net.  The deadline maths are dispatch.clocks.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import clocks
from dispatch.change import Change, state_of
from dispatch.errors import Conflict
from dispatch.supervision_items import raise_item
from models import SlaClock, Ticket


def running(s: Session, t: Ticket, stage: str) -> SlaClock | None:
    return s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == stage,
                                           SlaClock.stopped_at.is_(None)).order_by(SlaClock.id.desc()).limit(1))


def last_round(c: Change) -> int:
    last = c.s.scalar(select(SlaClock.round).where(SlaClock.ticket_id == c.t.id)
                      .order_by(SlaClock.id.desc()).limit(1))
    return last or 1


def stop(c: Change, stage: str, outcome: str | None = None) -> SlaClock | None:
    clock = running(c.s, c.t, stage)
    if clock is None:
        return None
    if clocks.is_open(clock.pauses):
        clock.pauses, _ = clocks.close_pauses(clock.pauses, c.now)
        apply(clock, clocks.clock_due(clock.started_at, clock.urgency, clock.stage, clock.pauses))
    clock.stopped_at = c.now
    clock.outcome = outcome or ("met" if clock.due_at is None or c.now <= clock.due_at else "late")
    return clock


def apply(clock: SlaClock, k: clocks.Clock) -> None:
    clock.due_at, clock.warn_at = k.due_at, k.warn_at
    clock.due_state, clock.missing_year = k.state, k.missing_year


def dues_state(c: Change) -> None:
    """The ticket's ``due_state`` from its running clocks; a pending due
    goes on the platform's 督办 board (one item per ticket and year)."""
    ks = [k for k in (running(c.s, c.t, "sign"), running(c.s, c.t, "close")) if k]
    states = {k.due_state for k in ks}
    c.t.due_state = clocks.PENDING if clocks.PENDING in states else \
        clocks.PROVISIONAL if clocks.PROVISIONAL in states else ""
    for k in ks:
        if k.due_state == clocks.PENDING:
            raise_item(c, "calendar_pending", f"缺少{k.missing_year}年工作日历，时限待定（导入国务院放假通知后重算）",
                       detail={"year": k.missing_year, "clock_id": k.id},
                       dedupe=f"calendar:{k.missing_year}:{c.t.id}")


def start(c: Change, unit_id: int, round_: int) -> tuple[SlaClock, SlaClock]:
    """Fresh sign-for and close clocks of ``c.t`` for ``unit_id`` (the
    running ones are superseded); a merged ticket's earlier close clock
    (``close_clock_from``, see the merge action) carries into round 1."""
    t, now = c.t, c.now
    for stage in ("sign", "close"):
        stop(c, stage, outcome="superseded")
    made = []
    carried = (t.extra or {}).get("close_clock_from")
    for stage in ("sign", "close"):
        begin = now
        if stage == "close" and carried and round_ == 1:
            begin = min(now, dt.datetime.fromisoformat(carried))
        clock = SlaClock(ticket_id=t.id, stage=stage, round=round_, unit_id=unit_id, urgency=t.urgency,
                         started_at=begin, pauses=[], outcome="")
        apply(clock, clocks.clock_due(begin, t.urgency, stage))
        c.s.add(clock)
        made.append(clock)
    t.sign_due_at, t.due_at = made[0].due_at, made[1].due_at
    c.s.flush()
    dues_state(c)
    c.timers += made
    return made[0], made[1]


def recompute(c: Change, clock: SlaClock) -> None:
    apply(clock, clocks.clock_due(clock.started_at, clock.urgency, clock.stage, clock.pauses))
    # A due moved into the future may warn and go overdue again.
    if clock.warn_at is not None and clock.warn_at > c.now:
        clock.warned_at = None
    if clock.due_at is not None and clock.due_at > c.now:
        clock.overdue_at = None
    if clock.stage == "close":
        c.t.due_at = clock.due_at
    else:
        c.t.sign_due_at = clock.due_at
    c.s.flush()
    dues_state(c)
    c.timers.append(clock)


def timers(c: Change) -> list[tuple[int, dt.datetime]]:
    """(clock id, moment) for each warning and due of the clocks the change
    started or moved and that still run: what to time after commit."""
    out = []
    for clock in {k.id: k for k in c.timers}.values():
        if clock.stopped_at is not None:
            continue
        out += [(clock.id, at) for at in (clock.warn_at, clock.due_at) if at is not None]
    return out


def clock_for(c: Change) -> SlaClock:
    """The running clock named by the ``clock_id`` parameter (SLA timers)."""
    clock = c.s.get(SlaClock, c.int_param("clock_id"))
    if clock is None or clock.ticket_id != c.t.id or clock.stopped_at is not None:
        raise Conflict("计时已结束", code="clock_stopped", current=state_of(c.t))
    return clock
