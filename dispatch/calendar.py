"""The working-day calendar of mainland China: which local dates are working days.

Owns the holiday data.  Each year lives in one JSON file, ``<year>.json``, in
``data/calendar/`` (shipped) or in the directory named by the environment
variable ``HOTLINE_CALENDAR_DIR`` (the admin's; a year found there replaces the
shipped one, so an official schedule can be dropped in without a release)::

    {"year": 2026, "provisional": false, "source": "...",
     "holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}, ...],
     "workdays": [{"name": "春节调休上班", "date": "2026-02-14"}, ...]}

Rules: a date is a working day when it is listed under ``workdays`` (调休: a
Saturday or Sunday made a working day), or when it is Monday to Friday and not
listed under ``holidays``.  Dates are local dates in Asia/Shanghai.

A year without a file is an error (:class:`CalendarYearMissing`), never a
guess.  A file marked ``"provisional": true`` (statutory days worked out from
the rules before the State Council published the year's schedule) is used, but
its status is visible: :attr:`WorkCalendar.provisional_years` and a
:class:`ProvisionalCalendarWarning` the first time each such year is consulted.
"""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "calendar"
ENV_DIR = "HOTLINE_CALENDAR_DIR"
DEFAULT_DAY_START = time(9, 0)


class CalendarError(Exception):
    """The calendar data cannot answer."""


class CalendarYearMissing(CalendarError, LookupError):
    """No calendar file for a year that a computation needed."""

    def __init__(self, year: int, searched: Iterable[Path] = ()):
        self.year = year
        self.searched = tuple(searched)
        where = ", ".join(str(d) for d in self.searched) or str(SHIPPED_DIR)
        super().__init__(
            f"no working-day calendar for {year}: add {year}.json "
            f"(holidays and 调休 working days from the State Council notice for {year}) "
            f"to {SHIPPED_DIR} or to ${ENV_DIR}; searched: {where}"
        )


class CalendarFileInvalid(CalendarError, ValueError):
    """A calendar file that does not follow the format."""


class ProvisionalCalendarWarning(UserWarning):
    """A provisional year (not yet the official schedule) was used."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's rest days and adjusted working days, as loaded from its file."""

    year: int
    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    provisional: bool = False
    note: str = ""
    source: str = ""
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_file(cls, path: Path) -> YearSchedule:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CalendarFileInvalid(f"{path}: {exc}") from exc
        return cls.from_dict(doc, path=Path(path))

    @classmethod
    def from_dict(cls, doc: Mapping, path: Path | None = None) -> YearSchedule:
        where = str(path) if path else "calendar data"

        def fail(msg: str) -> CalendarFileInvalid:
            return CalendarFileInvalid(f"{where}: {msg}")

        if not isinstance(doc, Mapping):
            raise fail("expected a JSON object")
        year = doc.get("year")
        if not isinstance(year, int) or isinstance(year, bool):
            raise fail('"year" must be an integer')
        if path is not None and path.stem != str(year):
            raise fail(f'"year" is {year} but the file is named {path.name}')
        provisional = doc.get("provisional", False)
        if not isinstance(provisional, bool):
            raise fail('"provisional" must be true or false')
        holidays = _expand(doc.get("holidays"), "holidays", year, fail)
        workdays = _expand(doc.get("workdays"), "workdays", year, fail)
        both = sorted(set(holidays) & set(workdays))
        if both:
            raise fail(f"listed both as holiday and as working day: {both[0]}")
        for d in workdays:
            if d.weekday() < 5:
                raise fail(f"workdays lists {d}, a weekday: only Saturdays and Sundays can be 调休 working days")
        return cls(
            year=year,
            holidays=MappingProxyType(holidays),
            workdays=MappingProxyType(workdays),
            provisional=provisional,
            note=str(doc.get("note", "")),
            source=str(doc.get("source", "")),
            path=path,
        )


def _expand(entries, key: str, year: int, fail) -> dict[date, str]:
    if entries is None:
        raise fail(f'"{key}" is missing (use [] for none)')
    if not isinstance(entries, list):
        raise fail(f'"{key}" must be a list')
    out: dict[date, str] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise fail(f'each entry of "{key}" needs a "name": {entry!r}')
        try:
            if "date" in entry:
                first = last = date.fromisoformat(entry["date"])
            else:
                first, last = date.fromisoformat(entry["from"]), date.fromisoformat(entry["to"])
        except (KeyError, TypeError, ValueError) as exc:
            raise fail(f'entry of "{key}" needs "date" or "from"/"to" as YYYY-MM-DD: {entry!r}') from exc
        if last < first:
            raise fail(f'"to" before "from" in {entry!r}')
        d = first
        while d <= last:
            if d.year != year:
                raise fail(f"{d} is not in {year}")
            if d in out:
                raise fail(f"{d} listed twice in {key}")
            out[d] = entry["name"]
            d += timedelta(days=1)
    return out


class WorkCalendar:
    """Working days by local (Asia/Shanghai) date, for the years it was given.

    ``day_start`` is the local time at which a working day's clock starts (see
    dispatch.sla): it is part of the calendar because every SLA computation
    made with this calendar must agree on it.
    """

    def __init__(self, schedules: Iterable[YearSchedule], day_start: time = DEFAULT_DAY_START,
                 searched: Iterable[Path] = ()):
        self._years = {s.year: s for s in schedules}
        self.day_start = day_start
        self._searched = tuple(searched)
        self._warned: set[int] = set()

    @classmethod
    def from_directories(cls, *dirs: Path | str, day_start: time = DEFAULT_DAY_START) -> WorkCalendar:
        """Load every ``<year>.json`` in ``dirs``; a later directory wins for a year."""
        schedules: dict[int, YearSchedule] = {}
        paths = [Path(d) for d in dirs]
        for directory in paths:
            if not directory.is_dir():
                raise CalendarError(f"calendar directory {directory} does not exist")
            for path in sorted(directory.glob("*.json")):
                if path.stem.isdigit():
                    s = YearSchedule.from_file(path)
                    schedules[s.year] = s
        return cls(schedules.values(), day_start=day_start, searched=paths)

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self._years))

    @property
    def provisional_years(self) -> tuple[int, ...]:
        return tuple(y for y in self.years if self._years[y].provisional)

    def is_provisional(self, year: int) -> bool:
        return self.schedule(year, warn=False).provisional

    def schedule(self, year: int, *, warn: bool = True) -> YearSchedule:
        try:
            s = self._years[year]
        except KeyError:
            raise CalendarYearMissing(year, self._searched) from None
        if s.provisional and warn and year not in self._warned:
            self._warned.add(year)
            warnings.warn(
                f"working-day calendar for {year} is provisional (statutory days only, no "
                f"official 调休 schedule), deadlines in {year} may move: replace "
                f"{s.path or f'{year}.json'} with the State Council schedule",
                ProvisionalCalendarWarning,
                stacklevel=3,
            )
        return s

    def is_working_day(self, d: date) -> bool:
        s = self.schedule(d.year)
        if d in s.workdays:
            return True
        return d.weekday() < 5 and d not in s.holidays

    def holiday_name(self, d: date) -> str | None:
        """The holiday a date belongs to (``"春节"``), or None."""
        return self.schedule(d.year).holidays.get(d)

    def is_adjusted_workday(self, d: date) -> bool:
        """True for a 调休 Saturday or Sunday that is worked."""
        return d in self.schedule(d.year).workdays

    def next_working_day(self, d: date, *, include: bool = False) -> date:
        """The first working day after ``d`` (or ``d`` itself when ``include``)."""
        if not include:
            d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def working_days_between(self, first: date, last: date) -> int:
        """Working days in ``[first, last)`` (calendar dates, both local)."""
        n, d = 0, first
        while d < last:
            n += self.is_working_day(d)
            d += timedelta(days=1)
        return n

    @staticmethod
    def local_date(moment: datetime) -> date:
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware datetime")
        return moment.astimezone(LOCAL_TZ).date()

    def __repr__(self) -> str:
        prov = f", provisional={list(self.provisional_years)}" if self.provisional_years else ""
        return f"<WorkCalendar years={list(self.years)}{prov} day_start={self.day_start:%H:%M}>"


def calendar_dirs() -> list[Path]:
    """The shipped directory, then the admin's directories from ``$HOTLINE_CALENDAR_DIR``."""
    extra = os.environ.get(ENV_DIR, "")
    return [SHIPPED_DIR] + [Path(p) for p in extra.split(os.pathsep) if p]


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """The calendar in force, loaded once per process (``default_calendar.cache_clear()`` reloads)."""
    return WorkCalendar.from_directories(*calendar_dirs())
