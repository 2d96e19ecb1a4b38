"""Glue between the service layer and the pure SLA maths (dispatch.sla) and
the working-day calendar (dispatch.calendar): the calendar and limits in
force for this deployment, and a clock's pauses as an interval set.

* Limits come from ``dispatch.sla.DEFAULT_LIMITS``, overridden by the
  environment variable ``HOTLINE_SLA_LIMITS`` (JSON such as
  ``{"close": {"general": "10wd"}}``; a bad value raises at first use).
* The calendar in force is the shipped files (and ``$HOTLINE_CALENDAR_DIR``)
  overlaid with the years imported into the database (``calendar_years``,
  ``python -m hotline calendar import FILE``); :func:`sync` re-reads the
  table when it changed, so every process sees an imported year.
* A deadline that needs a year the calendar does not have is **pending**, not
  guessed: ``Clock.state == "pending"``, no due, ``missing_year`` says which
  year.  The service marks the ticket (``due_state``), tells the platform's
  coordinators, and ``calendar import`` recomputes it.  A deadline computed
  on a provisional year is marked ``provisional``.

Pauses (``SlaClock.pauses``) are an interval set, each a dict:

* ``{"kind": "citizen", "from": iso, "to": iso|None}``: awaiting the
  citizen; opened by ``await_citizen``, closed exactly once (by ``resume``,
  or when the clock stops);
* ``{"kind": "extension", "from": iso, "days": n, "extension_id": id}``: an
  approved extension, the interval from its approval to ``days`` working
  days later (closed when it is made).

The clock is stopped during the *union* of the intervals: kinds may overlap
(an extension approved while awaiting the citizen) and overlapping time
counts once.  A pause that begins after the due does not cancel the lateness
(dispatch.sla), so an overdue ticket stays overdue while it waits.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

from dispatch import sla
from dispatch.calendar import (LOCAL_TZ, CalendarYearMissing, WorkCalendar, YearSchedule, calendar_dirs,
                               default_calendar)

log = logging.getLogger(__name__)
__all__ = ["LOCAL_TZ", "Clock", "clock_due", "next_working_morning", "limits",
           "calendar", "sync", "open_pause", "close_pauses", "extension_pause", "CITIZEN", "EXTENSION"]

WARN_FRACTION = 0.8
CITIZEN, EXTENSION = "citizen", "extension"
PENDING, PROVISIONAL = "pending", "provisional"

_imported: dict = {"marker": None, "calendar": None}
_lock = threading.Lock()


def calendar() -> WorkCalendar:
    """The calendar in force: files overlaid with the imported years (see :func:`sync`)."""
    return _imported["calendar"] or default_calendar()


def sync(session) -> WorkCalendar:
    """Re-read the imported years when the table changed (one small query)."""
    from sqlalchemy import func, select

    from models import CalendarYear

    marker = tuple(session.execute(select(func.count(), func.max(CalendarYear.imported_at))).one())
    if marker == _imported["marker"]:
        return calendar()
    rows = list(session.scalars(select(CalendarYear))) if marker[0] else []
    with _lock:
        base = default_calendar()
        if rows:
            years = {y: base.schedule(y, warn=False) for y in base.years}
            for r in rows:
                years[r.year] = YearSchedule.from_dict(r.document)
            cal = WorkCalendar(years.values(), day_start=base.day_start, searched=calendar_dirs())
        else:
            cal = None
        _imported.update(marker=marker, calendar=cal)
    return calendar()


def reset() -> None:
    """Forget the imported years (tests; the next :func:`sync` re-reads them)."""
    with _lock:
        _imported.update(marker=None, calendar=None)


@lru_cache(maxsize=1)
def limits() -> sla.SlaLimits:
    raw = os.environ.get("HOTLINE_SLA_LIMITS", "").strip()
    return sla.SlaLimits.from_mapping(json.loads(raw)) if raw else sla.DEFAULT_LIMITS


@dataclass(frozen=True)
class Clock:
    due_at: dt.datetime | None      # None while an open pause holds, or while pending
    warn_at: dt.datetime | None
    state: str = ""                 # "" | provisional | pending
    missing_year: int | None = None


# --- pauses -----------------------------------------------------------------

def _dt(v) -> dt.datetime:
    return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)


def _iso(v) -> str:
    return v.isoformat() if isinstance(v, dt.datetime) else str(v)


def normalise(raw: list | None) -> list[dict]:
    """Pauses as dicts; the ``[from, to]`` pairs of older rows read as an open
    citizen pause (``to`` null) or a closed interval."""
    out = []
    for p in raw or []:
        if isinstance(p, dict):
            out.append(dict(p))
        else:
            p_from, p_to = p[0], p[1]
            out.append({"kind": CITIZEN if p_to is None else EXTENSION, "from": p_from, "to": p_to})
    return out


def open_pause(raw: list | None, kind: str, at: dt.datetime) -> list[dict]:
    """The set with a new open pause of ``kind``; one open pause per kind."""
    pauses = normalise(raw)
    if any(p["kind"] == kind and p.get("to") is None for p in pauses):
        raise ValueError(f"a {kind} pause is already open")
    return pauses + [{"kind": kind, "from": _iso(at), "to": None}]


def close_pauses(raw: list | None, at: dt.datetime, kind: str | None = None) -> tuple[list[dict], dt.timedelta]:
    """The set with every open pause (of ``kind``, or of any kind) closed at
    ``at``, and how long the closed ones had been open.  A pause is closed
    once: closed ones are left as they are."""
    pauses, held = normalise(raw), dt.timedelta(0)
    for p in pauses:
        if p["kind"] == EXTENSION or p.get("to") is not None or (kind and p["kind"] != kind):
            continue
        p["to"] = _iso(max(at, _dt(p["from"])))
        held += _dt(p["to"]) - _dt(p["from"])
    return pauses, held


def extension_pause(raw: list | None, at: dt.datetime, days: int, extension_id: int | None) -> list[dict]:
    return normalise(raw) + [{"kind": EXTENSION, "from": _iso(at), "days": int(days),
                              "extension_id": extension_id}]


def is_open(raw: list | None, kind: str | None = None) -> bool:
    return any(p.get("to") is None and p["kind"] != EXTENSION and (kind is None or p["kind"] == kind)
               for p in normalise(raw))


def intervals(raw: list | None, cal: WorkCalendar) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """(from, to|None) pairs; an extension ends ``days`` working days after it
    starts (raises CalendarYearMissing when that needs a missing year)."""
    out = []
    for p in normalise(raw):
        p_from = _dt(p["from"])
        if p["kind"] == EXTENSION and "days" in p:
            out.append((p_from, sla.add_working_days(p_from, int(p["days"]), cal)))
        else:
            out.append((p_from, _dt(p["to"]) if p.get("to") else None))
    return out


# --- dues -------------------------------------------------------------------

def _years(*moments) -> set[int]:
    """Local calendar years the working-day maths consulted between the moments
    (the day before 09:00 belongs to the previous date's working day)."""
    ms = [m for m in moments if m is not None]
    lo = min(ms).astimezone(LOCAL_TZ) - dt.timedelta(hours=9)
    hi = max(ms).astimezone(LOCAL_TZ)
    return set(range(lo.year, hi.year + 1))


def clock_due(started_at: dt.datetime, urgency: str, stage: str, pauses: list | None = None) -> Clock:
    """Due and warning time of a clock of ``stage`` started at ``started_at``
    with ``pauses`` (the interval set above)."""
    lim = limits().limit(stage, urgency)
    cal = calendar()
    try:
        spans = intervals(pauses, cal)
        due = sla.due_with_pauses(started_at, urgency, spans, cal, limits(), stage=stage)
        state = ""
        if not lim.wall_clock or any(p["kind"] == EXTENSION for p in normalise(pauses)):
            ends = [x for span in spans for x in span]
            if set(cal.provisional_years) & _years(started_at, due, *ends):
                state = PROVISIONAL
        if due is None:
            return Clock(None, None, state)
        warn = sla.warning_at(started_at, due, WARN_FRACTION, None if lim.wall_clock else cal)
        return Clock(due, warn, state)
    except CalendarYearMissing as e:
        log.error("SLA for a clock started %s: %s; the due is pending until the year is imported",
                  started_at, e)
        return Clock(None, None, PENDING, e.year)


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
