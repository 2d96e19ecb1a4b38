"""SLA maths: when a ticket must be signed for and closed.  Pure functions.

Rules
-----
* Urgency classes: ``emergency`` (life and property), ``utility`` (water,
  power, gas, heating), ``general``, ``complex``.  Default limits (see
  :class:`SlaLimits`, all configurable):

  ===========  ===============  ================
  urgency      sign for within  close within
  ===========  ===============  ================
  emergency    15 minutes       2 hours
  utility      30 minutes       24 hours
  general      1 working day    7 working days
  complex      1 working day    15 working days
  ===========  ===============  ================

* Minute and hour limits are wall-clock: an emergency does not wait for
  Monday, and a 24-hour utility repair on a Saturday is due on Sunday.
* Working-day limits count working time on the calendar
  (:mod:`dispatch.calendar`, Asia/Shanghai dates, holidays and 调休 included).
  A working day's clock runs for 24 hours from its ``day_start`` (09:00 by
  default) to 09:00 the next morning; the hours from 09:00 on a rest day to
  09:00 on the next working day do not count.  Hence:

  - received Friday 16:00, 1 working day: due the next working day at 16:00
    (usually Monday; a 调休 Saturday counts as that next working day);
  - received on a rest day (weekend, holiday), or before 09:00 on the first
    working day after one: the clock starts at 09:00 on the next working day,
    and 1 working day later is 09:00 the working day after (in practice "by
    the end of the next working day");
  - received on a working day after office hours (say Friday 20:00): the
    evening still belongs to Friday's working day, due Monday 20:00.  This is
    the price of a clock that never depends on office hours except at its start.
    So does the night before 09:00 on the first rest day (Saturday 08:00: one
    hour of Friday's working day is left; 1 January 08:00 belongs to
    31 December).

  Asia/Shanghai has no daylight saving time, so local wall time is used as a
  uniform scale.
* Pauses: while an extension (延期) is approved or the ticket is awaiting the
  citizen, the clock stops; when it resumes, the time that was left is counted
  from the resume, by the same rule as the limit (wall-clock or working time).
  Pauses may overlap: the clock stops during their union.  A pause that
  starts at or after the due does not move it: an overdue ticket stays
  overdue while paused.
* All datetimes must be timezone-aware (naive ones raise ``ValueError``);
  results are returned in the timezone of the input ``start``/``due``.
* A year without calendar data raises ``dispatch.calendar.CalendarYearMissing``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from dispatch.calendar import LOCAL_TZ, WorkCalendar

MINUTES, HOURS, WORKING_DAYS = "minutes", "hours", "working_days"
WORKING_DAY = timedelta(hours=24)  # one working day of working time
_DAY = timedelta(days=1)  # a calendar day on the shifted local scale
SIGN, CLOSE = "sign", "close"


class Urgency(StrEnum):
    EMERGENCY = "emergency"  # life and property
    UTILITY = "utility"      # water, power, gas, heating
    GENERAL = "general"
    COMPLEX = "complex"


@dataclass(frozen=True)
class Limit:
    """A time limit: ``Limit(15, MINUTES)``, ``Limit(7, WORKING_DAYS)``."""

    amount: int
    unit: str

    def __post_init__(self):
        if self.unit not in (MINUTES, HOURS, WORKING_DAYS):
            raise ValueError(f"unknown limit unit {self.unit!r}")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool) or self.amount <= 0:
            raise ValueError(f"limit amount must be a positive integer, got {self.amount!r}")

    @property
    def wall_clock(self) -> bool:
        return self.unit != WORKING_DAYS

    @property
    def duration(self) -> timedelta:
        """Wall-clock length, or working time (24 h per working day) for working days."""
        if self.unit == MINUTES:
            return timedelta(minutes=self.amount)
        if self.unit == HOURS:
            return timedelta(hours=self.amount)
        return self.amount * WORKING_DAY

    _PATTERN = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|wd|working[ _]days?)\s*$", re.I)

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"15min"``, ``"2h"``, ``"7wd"``, ``"1 working day"`` → Limit."""
        m = cls._PATTERN.match(text)
        if not m:
            raise ValueError(f"cannot read limit {text!r}: use e.g. 15min, 2h, 7wd")
        unit = m.group(2).lower()
        unit = MINUTES if unit.startswith("m") else HOURS if unit.startswith("h") else WORKING_DAYS
        return cls(int(m.group(1)), unit)

    def __str__(self) -> str:
        names = {MINUTES: "min", HOURS: "h", WORKING_DAYS: "wd"}
        return f"{self.amount}{names[self.unit]}"


@dataclass(frozen=True)
class SlaLimits:
    """The limits per stage and urgency.  ``dataclasses.replace`` or ``from_mapping`` to change."""

    sign_emergency: Limit = Limit(15, MINUTES)
    sign_utility: Limit = Limit(30, MINUTES)
    sign_general: Limit = Limit(1, WORKING_DAYS)
    sign_complex: Limit = Limit(1, WORKING_DAYS)
    close_emergency: Limit = Limit(2, HOURS)
    close_utility: Limit = Limit(24, HOURS)
    close_general: Limit = Limit(7, WORKING_DAYS)
    close_complex: Limit = Limit(15, WORKING_DAYS)

    def limit(self, stage: str, urgency: str) -> Limit:
        if stage not in (SIGN, CLOSE):
            raise ValueError(f"unknown SLA stage {stage!r}: expected {SIGN!r} or {CLOSE!r}")
        return getattr(self, f"{stage}_{Urgency(urgency).value}")

    @classmethod
    def from_mapping(cls, config: dict[str, dict[str, str]]) -> SlaLimits:
        """``{"close": {"general": "10wd"}}`` over the defaults; unknown keys raise."""
        known = {f.name for f in fields(cls)}
        changes = {}
        for stage, per_urgency in config.items():
            for urgency, text in per_urgency.items():
                name = f"{stage}_{urgency}"
                if name not in known:
                    raise ValueError(f"unknown SLA limit {stage}.{urgency}")
                changes[name] = text if isinstance(text, Limit) else Limit.parse(text)
        return cls(**changes)


DEFAULT_LIMITS = SlaLimits()


# --- working time -----------------------------------------------------------

def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment!r}")
    return moment


def _to_scale(moment: datetime, cal: WorkCalendar) -> datetime:
    """Naive local time shifted so that working days start at midnight."""
    local = moment.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return local - timedelta(hours=cal.day_start.hour, minutes=cal.day_start.minute)


def _from_scale(scaled: datetime, cal: WorkCalendar, tz) -> datetime:
    local = scaled + timedelta(hours=cal.day_start.hour, minutes=cal.day_start.minute)
    return local.replace(tzinfo=LOCAL_TZ).astimezone(tz)


def _midnight(d) -> datetime:
    return datetime(d.year, d.month, d.day)


def add_working_time(start: datetime, amount: timedelta, cal: WorkCalendar) -> datetime:
    """The moment when ``amount`` of working time has passed since ``start``."""
    _aware(start, "start")
    if amount < timedelta(0):
        raise ValueError(f"cannot add negative working time {amount}")
    if amount == timedelta(0):
        return start
    cur, left = _to_scale(start, cal), amount
    while True:
        day = cur.date()
        if cal.is_working_day(day):
            end = _midnight(day) + _DAY
            if left <= end - cur:
                return _from_scale(cur + left, cal, start.tzinfo)
            left -= end - cur
            cur = end
        else:
            cur = _midnight(cal.next_working_day(day))


def add_working_days(start: datetime, n: int, cal: WorkCalendar) -> datetime:
    """``start`` plus ``n`` working days (see the module rules)."""
    if n < 0:
        raise ValueError(f"cannot add a negative number of working days ({n})")
    return add_working_time(start, n * WORKING_DAY, cal)


def working_time_between(a: datetime, b: datetime, cal: WorkCalendar) -> timedelta:
    """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    _aware(a, "a"), _aware(b, "b")
    if b < a:
        return -working_time_between(b, a, cal)
    lo, hi = _to_scale(a, cal), _to_scale(b, cal)
    total, day = timedelta(0), lo.date()
    while _midnight(day) < hi:
        if cal.is_working_day(day):
            total += min(hi, _midnight(day) + _DAY) - max(lo, _midnight(day))
        day += timedelta(days=1)
    return total


# --- deadlines -------------------------------------------------------------

def due_after(start: datetime, limit: Limit, cal: WorkCalendar) -> datetime:
    """When ``limit`` runs out for a clock started at ``start``."""
    _aware(start, "start")
    if limit.wall_clock:
        return start + limit.duration
    return add_working_time(start, limit.duration, cal)


def sign_due(start: datetime, urgency: str, cal: WorkCalendar,
             limits: SlaLimits = DEFAULT_LIMITS) -> datetime:
    """When a ticket dispatched at ``start`` must be signed for."""
    return due_after(start, limits.limit(SIGN, urgency), cal)


def close_due(start: datetime, urgency: str, cal: WorkCalendar,
              limits: SlaLimits = DEFAULT_LIMITS) -> datetime:
    """When a ticket dispatched at ``start`` must be closed."""
    return due_after(start, limits.limit(CLOSE, urgency), cal)


def _merged(pauses: Iterable[tuple[datetime, datetime | None]], start: datetime):
    """Pauses sorted, clipped to after ``start`` and merged; an open pause (end None) last."""
    spans = []
    for p_from, p_to in pauses:
        _aware(p_from, "pause start")
        if p_to is not None and _aware(p_to, "pause end") < p_from:
            raise ValueError(f"pause ends before it starts: {p_from} .. {p_to}")
        p_from = max(p_from, start)
        if p_to is not None and p_to <= p_from:
            continue
        spans.append((p_from, p_to))
    spans.sort(key=lambda s: s[0])
    merged: list[list] = []
    for p_from, p_to in spans:
        if merged and (merged[-1][1] is None or p_from <= merged[-1][1]):
            last = merged[-1]
            last[1] = None if last[1] is None or p_to is None else max(last[1], p_to)
        else:
            merged.append([p_from, p_to])
    return merged


def due_with_pauses(start: datetime, urgency: str, pauses: Iterable[tuple[datetime, datetime | None]],
                    cal: WorkCalendar, limits: SlaLimits = DEFAULT_LIMITS, *,
                    stage: str = CLOSE) -> datetime | None:
    """The due of ``stage`` when the clock stopped during ``pauses``.

    ``pauses`` are ``(from, to)`` pairs; ``to`` is None for a pause still open.
    Returns None when an open pause stopped the clock before the due: there is
    no due until it resumes.
    """
    limit = limits.limit(stage, urgency)
    due = due_after(start, limit, cal)
    for p_from, p_to in _merged(pauses, start):
        if p_from >= due:
            break
        if p_to is None:
            return None
        due = extend_due(due, p_from, p_to, cal, wall_clock=limit.wall_clock)
    return due


def extend_due(due: datetime, paused_from: datetime, paused_to: datetime, cal: WorkCalendar, *,
               wall_clock: bool) -> datetime:
    """The new due after the clock stopped from ``paused_from`` to ``paused_to``.

    The time that was left at ``paused_from`` is counted again from
    ``paused_to`` (wall-clock or working time, as the limit is).  A pause that
    starts at or after the due changes nothing.
    """
    _aware(due, "due"), _aware(paused_from, "paused_from"), _aware(paused_to, "paused_to")
    if paused_to < paused_from:
        raise ValueError(f"pause ends before it starts: {paused_from} .. {paused_to}")
    if paused_from >= due:
        return due
    if wall_clock:
        return paused_to + (due - paused_from)
    left = working_time_between(paused_from, due, cal)
    return add_working_time(paused_to, left, cal).astimezone(due.tzinfo)


def warning_at(start: datetime, due: datetime, fraction: float = 0.8,
               cal: WorkCalendar | None = None) -> datetime:
    """When ``fraction`` of the time from ``start`` to ``due`` has gone.

    Without ``cal`` the fraction is of wall-clock time (right for minute and
    hour limits); with ``cal`` it is of working time, so a warning for a
    working-day limit lands in working time rather than at night.
    """
    _aware(start, "start"), _aware(due, "due")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if cal is None:
        return start + (due - start) * fraction
    return add_working_time(start, working_time_between(start, due, cal) * fraction, cal)


def is_overdue(due: datetime | None, now: datetime | None = None,
               paused_since: datetime | None = None) -> bool:
    """True when the due has passed (``now`` strictly after it).

    ``due`` None means an open pause stopped the clock (see
    :func:`due_with_pauses`): not overdue.  While paused (``paused_since``
    set) the clock is stopped at ``paused_since``: overdue only if it was
    already overdue then.
    """
    if due is None:
        return False
    _aware(due, "due")
    at = paused_since if paused_since is not None else now
    if at is None:
        at = datetime.now(timezone.utc)
    return _aware(at, "now") > due
