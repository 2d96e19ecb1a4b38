"""SLA deadlines across weekends, 国庆, 春节 and 调休 working weekend days.

Every expected date below is worked out by hand in the comment beside it,
from the 2026 schedule: 春节 Feb 15-23 (Sat Feb 14 and Sat Feb 28 worked),
国庆 Oct 1-7 (Sun Sep 20 and Sat Oct 10 worked).  A working day's clock runs
09:00 to 09:00 (Asia/Shanghai).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch import sla
from dispatch.calendar import SHIPPED_DIR, CalendarYearMissing, ProvisionalCalendarWarning, WorkCalendar
from dispatch.sla import (
    DEFAULT_LIMITS,
    WORKING_DAYS,
    Limit,
    SlaLimits,
    add_working_days,
    close_due,
    due_with_pauses,
    extend_due,
    is_overdue,
    sign_due,
    warning_at,
    working_time_between,
)

CST = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CST)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar.from_directories(SHIPPED_DIR)


# --- working-day limits -------------------------------------------------------

@pytest.mark.parametrize("start, expected, why", [
    (at(2026, 11, 20, 16), at(2026, 11, 23, 16), "Fri 16:00 → Mon 16:00"),
    (at(2026, 11, 23, 10), at(2026, 11, 24, 10), "Mon 10:00 → Tue 10:00"),
    (at(2026, 11, 20, 20), at(2026, 11, 23, 20), "Fri evening belongs to Friday's working day"),
    (at(2026, 11, 21, 14), at(2026, 11, 24, 9), "Sat: clock starts Mon 09:00, due Tue 09:00"),
    (at(2026, 11, 23, 8), at(2026, 11, 24, 9), "Mon 08:00 is before the day starts: as Saturday"),
    (at(2026, 10, 3, 11), at(2026, 10, 9, 9), "国庆 Sat Oct 3: starts Thu Oct 8 09:00, due Fri 09:00"),
    (at(2026, 10, 9, 15), at(2026, 10, 10, 15), "Fri Oct 9 → Sat Oct 10, a 调休 working day"),
    (at(2026, 9, 19, 10), at(2026, 9, 21, 9), "Sat Sep 19: next working day is Sun Sep 20 (调休)"),
    (at(2026, 2, 13, 10), at(2026, 2, 14, 10), "Fri before 春节 → Sat Feb 14 (调休)"),
    (at(2026, 2, 14, 10), at(2026, 2, 24, 10), "Sat Feb 14 → 春节 Feb 15-23 → Tue Feb 24"),
])
def test_sign_due_general(cal, start, expected, why):
    assert sign_due(start, "general", cal) == expected, why


def test_close_due_general_over_guoqing_counts_the_working_saturday(cal):
    # Wed Sep 30 15:00 + 7 working days: Oct 8 (1), 9 (2), Sat 10 (3, 调休),
    # 12 (4), 13 (5), 14 (6), 15 (7) → Thu Oct 15 15:00.  Without the
    # 调休 Saturday it would be Fri Oct 16.
    assert close_due(at(2026, 9, 30, 15), "general", cal) == at(2026, 10, 15, 15)


def test_close_due_general_over_chunjie(cal):
    # Fri Feb 13 10:00 + 7: Sat Feb 14 (1), Tue 24 (2), 25 (3), 26 (4),
    # Fri 27 (5), Sat 28 (6, 调休), Mon Mar 2 (7) → Mar 2 10:00.
    assert close_due(at(2026, 2, 13, 10), "general", cal) == at(2026, 3, 2, 10)


def test_close_due_complex_15_working_days(cal):
    # Mon Sep 28 10:00 + 15: Sep 29 (1), 30 (2), Oct 8 (3), 9 (4), 10 (5),
    # 12-16 (6-10), 19-23 (11-15) → Fri Oct 23 10:00.
    assert close_due(at(2026, 9, 28, 10), "complex", cal) == at(2026, 10, 23, 10)


def test_utc_in_utc_out(cal):
    # 08:00Z Friday is 16:00 in Shanghai → Monday 16:00 CST = 08:00Z.
    due = sign_due(datetime(2026, 11, 20, 8, tzinfo=timezone.utc), "general", cal)
    assert due == datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
    assert due.tzinfo is timezone.utc


def test_local_date_not_utc_date_decides(cal):
    # Thu 2026-10-07 20:00Z = Fri Oct 8 04:00 CST, before 09:00 on the first
    # working day after 国庆: clock starts Oct 8 09:00, due Oct 9 09:00 CST.
    due = sign_due(datetime(2026, 10, 7, 20, tzinfo=timezone.utc), "general", cal)
    assert due == at(2026, 10, 9, 9)


def test_into_provisional_2027_warns(cal):
    # Thu Dec 31 10:00 + 1: Jan 1 2027 元旦, Jan 2-3 weekend → Mon Jan 4 10:00.
    with pytest.warns(ProvisionalCalendarWarning):
        assert sign_due(at(2026, 12, 31, 10), "general", cal) == at(2027, 1, 4, 10)


@pytest.mark.filterwarnings("ignore::dispatch.calendar.ProvisionalCalendarWarning")
def test_missing_year_raises(cal):
    with pytest.raises(CalendarYearMissing, match="2028"):
        close_due(at(2027, 12, 28, 10), "complex", cal)


# --- wall-clock limits -------------------------------------------------------

def test_emergency_and_utility_are_wall_clock_on_a_holiday(cal):
    start = at(2026, 10, 3, 3)  # 03:00 on a 国庆 Saturday
    assert sign_due(start, "emergency", cal) == at(2026, 10, 3, 3, 15)
    assert close_due(start, "emergency", cal) == at(2026, 10, 3, 5)
    assert sign_due(start, "utility", cal) == at(2026, 10, 3, 3, 30)
    assert close_due(start, "utility", cal) == at(2026, 10, 4, 3)


def test_unknown_urgency_and_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError):
        sign_due(at(2026, 11, 20, 16), "whenever", cal)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_due(datetime(2026, 11, 20, 16), "general", cal)


# --- working time ------------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    (at(2026, 11, 20, 16), at(2026, 11, 23, 16), 24 * H),   # Fri 16:00 → Mon 16:00
    (at(2026, 11, 20, 16), at(2026, 11, 21, 12), 17 * H),   # Friday's day ends Sat 09:00
    (at(2026, 11, 21, 10), at(2026, 11, 23, 10), 1 * H),    # only Mon 09:00-10:00
    (at(2026, 9, 30, 9), at(2026, 10, 8, 9), 24 * H),       # only Sep 30 over 国庆
    (at(2026, 10, 8, 9), at(2026, 10, 12, 9), 72 * H),      # Thu, Fri, Sat(调休)
    (at(2026, 11, 23, 16), at(2026, 11, 20, 16), -24 * H),  # reversed
])
def test_working_time_between(cal, a, b, expected):
    assert working_time_between(a, b, cal) == expected


def test_add_working_days_zero_and_negative(cal):
    start = at(2026, 11, 21, 14)
    assert add_working_days(start, 0, cal) == start
    with pytest.raises(ValueError):
        add_working_days(start, -1, cal)


# --- pauses -----------------------------------------------------------------

def test_awaiting_citizen_pause_moves_the_close_due(cal):
    start = at(2026, 11, 2, 10)  # Monday
    # Unpaused: Nov 3, 4, 5, 6, 9, 10, 11 → Wed Nov 11 10:00.
    assert close_due(start, "general", cal) == at(2026, 11, 11, 10)
    # Paused Wed Nov 4 10:00 → Mon Nov 9 10:00.  Used before: 2 days; left:
    # 5 days from Mon Nov 9 10:00: Nov 10, 11, 12, 13, 16 → Mon Nov 16 10:00.
    pause = [(at(2026, 11, 4, 10), at(2026, 11, 9, 10))]
    assert due_with_pauses(start, "general", pause, cal) == at(2026, 11, 16, 10)
    assert extend_due(at(2026, 11, 11, 10), *pause[0], cal, wall_clock=False) == at(2026, 11, 16, 10)


def test_open_pause_stops_the_clock(cal):
    start = at(2026, 11, 2, 10)
    assert due_with_pauses(start, "general", [(at(2026, 11, 4, 10), None)], cal) is None


def test_pause_after_the_due_changes_nothing(cal):
    start = at(2026, 11, 2, 10)
    late = [(at(2026, 11, 12, 10), at(2026, 11, 20, 10))]
    assert due_with_pauses(start, "general", late, cal) == at(2026, 11, 11, 10)
    assert due_with_pauses(start, "general", [(at(2026, 11, 12, 10), None)], cal) == at(2026, 11, 11, 10)


def test_wall_clock_pauses_merge_when_they_overlap(cal):
    # 2 h from 10:00; paused 10:30-11:00 and 10:45-11:15 = 45 min → 12:45.
    start = at(2026, 11, 21, 10)
    pauses = [(at(2026, 11, 21, 10, 45), at(2026, 11, 21, 11, 15)),
              (at(2026, 11, 21, 10, 30), at(2026, 11, 21, 11))]
    assert due_with_pauses(start, "emergency", pauses, cal) == at(2026, 11, 21, 12, 45)


def test_pause_on_sign_stage(cal):
    # Sign for within 30 min from 10:00, paused 10:10-10:40 → 11:00.
    start = at(2026, 11, 21, 10)
    pause = [(at(2026, 11, 21, 10, 10), at(2026, 11, 21, 10, 40))]
    assert due_with_pauses(start, "utility", pause, cal, stage="sign") == at(2026, 11, 21, 11)


def test_pause_over_a_weekend_costs_no_working_time(cal):
    # Fri Nov 20 16:00, 1 day → Mon 16:00.  A pause Sat 10:00 → Mon 09:00 lies in
    # rest time: nothing to give back.
    start = at(2026, 11, 20, 16)
    pause = [(at(2026, 11, 21, 10), at(2026, 11, 23, 9))]
    assert due_with_pauses(start, "general", pause, cal, stage="sign") == at(2026, 11, 23, 16)


# --- warnings and overdue ---------------------------------------------------

def test_warning_at_wall_clock_and_working_time(cal):
    assert warning_at(at(2026, 11, 21, 10), at(2026, 11, 21, 12)) == at(2026, 11, 21, 11, 36)
    start, due = at(2026, 11, 20, 16), at(2026, 11, 23, 16)
    # Wall clock: 72 h × 0.8 = 57 h 36 min → Mon 01:36 (at night).
    assert warning_at(start, due) == at(2026, 11, 23, 1, 36)
    # Working time: 24 h × 0.8 = 19 h 12 min: 17 h to Sat 09:00, then 2 h 12 min
    # from Mon 09:00 → Mon 11:12.
    assert warning_at(start, due, cal=cal) == at(2026, 11, 23, 11, 12)
    with pytest.raises(ValueError):
        warning_at(start, due, fraction=1.5)


def test_is_overdue_with_frozen_clock(cal):
    due = sign_due(at(2026, 11, 20, 16), "general", cal)  # Mon Nov 23 16:00 CST
    with time_machine.travel(at(2026, 11, 23, 15, 59), tick=False):
        assert not is_overdue(due)
    with time_machine.travel(at(2026, 11, 23, 16), tick=False):
        assert not is_overdue(due)  # the due itself is still on time
    with time_machine.travel(at(2026, 11, 23, 16, 1), tick=False):
        assert is_overdue(due)
        # Paused (awaiting citizen) since before the due: the clock is stopped.
        assert not is_overdue(due, paused_since=at(2026, 11, 23, 15))
        # Paused only after it was already late: stays overdue.
        assert is_overdue(due, paused_since=at(2026, 11, 23, 16, 1))
        assert not is_overdue(None)


def test_frozen_now_gives_the_deadline_of_a_ticket_received_now(cal):
    # A ticket dispatched "now" on the 国庆 holiday is due at 09:00 the day
    # after the first working day: Fri Oct 9 09:00.
    with time_machine.travel(at(2026, 10, 5, 13), tick=False):
        now = datetime.now(timezone.utc)
        assert sign_due(now, "general", cal) == at(2026, 10, 9, 9)
        # Close 7: the clock starts Thu Oct 8 09:00 and runs through the working
        # days Oct 8, 9, 10 (调休), 12, 13, 14, 15, each ending 09:00 the next
        # morning → Fri Oct 16 09:00.
        assert close_due(now, "general", cal) == at(2026, 10, 16, 9)


# --- configuration ----------------------------------------------------------

def test_limits_are_configurable(cal):
    limits = SlaLimits.from_mapping({"close": {"general": "10wd"}, "sign": {"emergency": "5min"}})
    assert limits.close_general == Limit(10, WORKING_DAYS)
    assert limits.close_complex == DEFAULT_LIMITS.close_complex
    assert sign_due(at(2026, 11, 21, 10), "emergency", cal, limits) == at(2026, 11, 21, 10, 5)
    # Mon Nov 23 10:00 + 10: Nov 24-27 (4), Nov 30-Dec 4 (9), Dec 7 (10).
    assert close_due(at(2026, 11, 23, 10), "general", cal, limits) == at(2026, 12, 7, 10)
    assert dataclasses.replace(DEFAULT_LIMITS, sign_general=Limit(2, WORKING_DAYS)).sign_general.amount == 2
    with pytest.raises(ValueError):
        SlaLimits.from_mapping({"close": {"someday": "1h"}})
    with pytest.raises(ValueError):
        Limit.parse("soon")
    assert str(Limit.parse("15 minutes")) == "15min"


def test_later_day_start_moves_rest_day_clocks(cal):
    late = WorkCalendar.from_directories(SHIPPED_DIR, day_start=cal.day_start.replace(hour=8, minute=30))
    # Saturday ticket: clock starts Mon 08:30, due Tue 08:30.
    assert sign_due(at(2026, 11, 21, 14), "general", late) == at(2026, 11, 24, 8, 30)


def test_urgency_enum_is_accepted_like_its_string(cal):
    start = at(2026, 11, 20, 16)
    assert sign_due(start, sla.Urgency.GENERAL, cal) == sign_due(start, "general", cal)


@pytest.mark.filterwarnings("ignore::dispatch.calendar.ProvisionalCalendarWarning")
def test_adding_and_measuring_working_time_agree(cal):
    # Property, over seeded random starts in 2026 (every weekend and holiday
    # included): the working time from start to start + d is d, and the result
    # never lands in rest time unless d is zero.
    import random

    rng = random.Random(12345)
    for _ in range(300):
        start = at(2026, 1, 1) + timedelta(minutes=rng.randrange(0, 364 * 24 * 60))
        amount = timedelta(minutes=rng.randrange(1, 15 * 24 * 60))
        end = sla.add_working_time(start, amount, cal)
        assert working_time_between(start, end, cal) == amount, (start, amount)
        shifted = end.astimezone(CST) - timedelta(hours=9, minutes=1)
        assert cal.is_working_day(shifted.date()) or end.astimezone(CST).time() == cal.day_start
