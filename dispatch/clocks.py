"""Glue between the service layer and the pure SLA maths (dispatch.sla), the
working-day calendar (dispatch.calendar) and the address parser
(dispatch.places): the calendar and limits in force for this deployment.

* Limits come from ``dispatch.sla.DEFAULT_LIMITS``, overridden by the
  environment variable ``HOTLINE_SLA_LIMITS`` (JSON such as
  ``{"close": {"general": "10wd"}}``; a bad value raises at first use).
* A deadline that falls in a year the calendar does not know raises
  ``CalendarYearMissing`` from dispatch.sla; here it is caught, logged as an
  error and the deadline is counted in calendar days instead, with
  ``calendar_missing`` set on the result so the event records it: a ticket is
  never refused for want of next year's holiday schedule, and the gap is seen.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache

from dispatch import sla
from dispatch.calendar import LOCAL_TZ, CalendarYearMissing, WorkCalendar, default_calendar

log = logging.getLogger(__name__)
__all__ = ["LOCAL_TZ", "Clock", "deadlines", "clock_due", "division_of", "next_working_morning", "limits",
           "calendar"]

WARN_FRACTION = 0.8


def calendar() -> WorkCalendar:
    return default_calendar()


@lru_cache(maxsize=1)
def limits() -> sla.SlaLimits:
    raw = os.environ.get("HOTLINE_SLA_LIMITS", "").strip()
    return sla.SlaLimits.from_mapping(json.loads(raw)) if raw else sla.DEFAULT_LIMITS


@dataclass(frozen=True)
class Clock:
    due_at: dt.datetime | None      # None while an open pause holds
    warn_at: dt.datetime | None
    calendar_missing: int | None = None


def _pauses(raw: list) -> list[tuple[dt.datetime, dt.datetime | None]]:
    out = []
    for p_from, p_to in raw or []:
        out.append((_dt(p_from), _dt(p_to) if p_to else None))
    return out


def _dt(v) -> dt.datetime:
    return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)


def clock_due(started_at: dt.datetime, urgency: str, stage: str, pauses: list | None = None) -> Clock:
    """Due and warning time of a clock of ``stage`` started at ``started_at``
    with ``pauses`` (``[[from, to|None], …]``, datetimes or ISO strings)."""
    lim = limits().limit(stage, urgency)
    cal = calendar()
    try:
        due = sla.due_with_pauses(started_at, urgency, _pauses(pauses or []), cal, limits(), stage=stage)
        if due is None:
            return Clock(None, None)
        warn = sla.warning_at(started_at, due, WARN_FRACTION, None if lim.wall_clock else cal)
        return Clock(due, warn)
    except CalendarYearMissing as e:
        log.error("SLA for a clock started %s: %s; counting calendar days instead", started_at, e)
        days = lim.amount if not lim.wall_clock else 0
        due = started_at + (dt.timedelta(days=days) if days else lim.duration)
        for p_from, p_to in _pauses(pauses or []):
            if p_to is None:
                return Clock(None, None, e.year)
            if p_from < due:
                due += p_to - p_from
        return Clock(due, sla.warning_at(started_at, due, WARN_FRACTION), e.year)


def deadlines(start: dt.datetime, urgency: str) -> tuple[dt.datetime, dt.datetime]:
    """(sign-for due, close due) for a ticket dispatched at ``start``."""
    return clock_due(start, urgency, sla.SIGN).due_at, clock_due(start, urgency, sla.CLOSE).due_at


def working_days_later(start: dt.datetime, days: int) -> dt.datetime:
    try:
        return sla.add_working_days(start, days, calendar())
    except CalendarYearMissing as e:
        log.error("%s; counting calendar days instead", e)
        return start + dt.timedelta(days=days)


def next_working_morning(now: dt.datetime) -> dt.datetime:
    """09:00 (the calendar's day start) on the next working day after ``now``:
    when a callback is due."""
    cal = calendar()
    day = now.astimezone(LOCAL_TZ).date()
    try:
        nxt = cal.next_working_day(day)
    except CalendarYearMissing as e:
        log.error("%s; the callback is due the next calendar day", e)
        nxt = day + dt.timedelta(days=1)
    return dt.datetime.combine(nxt, cal.day_start, tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc)


def division_of(address: str, default: str | None) -> str:
    """The most specific division code named in ``address``; the platform's
    own division (``default``) only disambiguates, and is the answer when
    the address names no place at all."""
    from dispatch.places import parse_address

    default = default or ""
    province = default[:2] or None
    city = default[:4] if len(default) >= 4 else None
    try:
        place = parse_address(address, default_province=province, default_city=city)
    except FileNotFoundError:
        log.error("division tables missing: addresses are not parsed")
        return default
    return place.division_code or default
