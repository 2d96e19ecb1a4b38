"""The working-day calendar: shipped data, admin overrides, missing and provisional years."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from dispatch.calendar import (
    SHIPPED_DIR,
    CalendarFileInvalid,
    CalendarYearMissing,
    ProvisionalCalendarWarning,
    WorkCalendar,
    YearSchedule,
    default_calendar,
)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar.from_directories(SHIPPED_DIR)


@pytest.mark.parametrize("year", [2025, 2026])
def test_official_years_match_chinesecalendar_day_by_day(cal, year):
    chinese_calendar = pytest.importorskip("chinese_calendar")
    d = date(year, 1, 1)
    while d.year == year:
        assert cal.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


@pytest.mark.parametrize("day, working, why", [
    (date(2026, 1, 1), False, "元旦, Thursday"),
    (date(2026, 1, 4), True, "Sunday worked for 元旦 (调休)"),
    (date(2026, 2, 14), True, "Saturday worked before 春节"),
    (date(2026, 2, 16), False, "除夕, Monday"),
    (date(2026, 2, 23), False, "last day of 春节, Monday"),
    (date(2026, 2, 24), True, "first day back after 春节"),
    (date(2026, 2, 28), True, "Saturday worked after 春节"),
    (date(2026, 5, 9), True, "Saturday worked for 劳动节"),
    (date(2026, 9, 20), True, "Sunday worked for 国庆"),
    (date(2026, 10, 7), False, "last day of 国庆, Wednesday"),
    (date(2026, 10, 10), True, "Saturday worked for 国庆"),
    (date(2026, 10, 11), False, "an ordinary Sunday"),
    (date(2026, 11, 27), True, "an ordinary Friday"),
    (date(2026, 11, 28), False, "an ordinary Saturday"),
])
def test_known_2026_days(cal, day, working, why):
    assert cal.is_working_day(day) is working, why


def test_names_and_adjusted_days(cal):
    assert cal.holiday_name(date(2026, 2, 17)) == "春节"
    assert cal.holiday_name(date(2026, 10, 1)) == "国庆节"
    assert cal.holiday_name(date(2026, 11, 28)) is None  # a weekend, not a holiday
    assert cal.is_adjusted_workday(date(2026, 10, 10))
    assert not cal.is_adjusted_workday(date(2026, 10, 9))


def test_next_working_day_skips_guoqing_but_not_its_working_saturday(cal):
    # Sep 30 (Wed) → Oct 1..7 holiday → Thu Oct 8.
    assert cal.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    # Fri Oct 9 → Sat Oct 10 is a 调休 working day.
    assert cal.next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)
    assert cal.next_working_day(date(2026, 10, 10), include=True) == date(2026, 10, 10)
    # Sep 28 Mon .. Oct 12 Mon: Sep 28, 29, 30, Oct 8, 9, 10 = 6.
    assert cal.working_days_between(date(2026, 9, 28), date(2026, 10, 12)) == 6


def test_missing_year_is_an_explicit_error_naming_year_and_file(cal):
    with pytest.raises(CalendarYearMissing) as err:
        cal.is_working_day(date(2028, 3, 1))
    assert err.value.year == 2028
    assert "2028" in str(err.value) and "2028.json" in str(err.value)
    with pytest.raises(CalendarYearMissing):
        cal.next_working_day(date(2027, 12, 31))  # the search runs into 2028


def test_2027_is_provisional_and_says_so(cal):
    assert cal.provisional_years == (2027,)
    assert cal.is_provisional(2027) and not cal.is_provisional(2026)
    with pytest.warns(ProvisionalCalendarWarning, match="2027"):
        assert not cal.is_working_day(date(2027, 1, 1))


def test_2027_statutory_days_and_make_up_days(cal):
    with pytest.warns(ProvisionalCalendarWarning):
        # 除夕 2027-02-05 (Fri) .. 初三 02-08 (Mon); 06/07 fall on the weekend,
        # made up on Tue 09 and Wed 10; Thu 11 is working.
        assert [cal.is_working_day(date(2027, 2, d)) for d in range(4, 12)] == [
            True, False, False, False, False, False, False, True]
    assert cal.holiday_name(date(2027, 10, 5)) == "国庆节补假"
    assert cal.holiday_name(date(2027, 9, 15)) == "中秋节"
    assert cal.holiday_name(date(2027, 6, 9)) == "端午节"
    assert cal.holiday_name(date(2027, 4, 5)) == "清明节"
    statutory = [d for d, n in cal.schedule(2027, warn=False).holidays.items() if "补假" not in n]
    assert len(statutory) == 13  # 1 + 4 + 1 + 2 + 1 + 1 + 3


def test_provisional_warning_is_given_once_per_year(cal, recwarn):
    cal.is_working_day(date(2027, 3, 1))
    cal.is_working_day(date(2027, 3, 2))
    assert len([w for w in recwarn if w.category is ProvisionalCalendarWarning]) == 1


def _write(directory, year, **doc):
    body = {"year": year, "holidays": [], "workdays": [], **doc}
    (directory / f"{year}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")


def test_env_directory_adds_years_and_replaces_shipped_ones(tmp_path, monkeypatch):
    _write(tmp_path, 2028, holidays=[{"name": "元旦", "date": "2028-01-01"}])  # Saturday
    _write(tmp_path, 2027, provisional=False,
           holidays=[{"name": "元旦", "date": "2027-01-01"}],
           workdays=[{"name": "测试调休上班", "date": "2027-01-02"}])
    monkeypatch.setenv("HOTLINE_CALENDAR_DIR", str(tmp_path))
    default_calendar.cache_clear()
    try:
        cal = default_calendar()
        assert cal.years == (2025, 2026, 2027, 2028)
        assert cal.provisional_years == ()
        assert cal.is_working_day(date(2027, 1, 2))  # Saturday made working by the override
        assert cal.is_working_day(date(2028, 1, 3))
    finally:
        default_calendar.cache_clear()


@pytest.mark.parametrize("doc, message", [
    ({"year": 2030, "holidays": [{"name": "x", "date": "2031-01-01"}], "workdays": []}, "not in 2030"),
    ({"year": 2030, "holidays": [], "workdays": [{"name": "x", "date": "2030-01-07"}]}, "weekday"),
    ({"year": 2030, "holidays": [{"name": "x", "date": "2030-01-05"}],
      "workdays": [{"name": "y", "date": "2030-01-05"}]}, "both"),
    ({"year": 2030, "workdays": []}, '"holidays" is missing'),
    ({"year": 2030, "holidays": [{"name": "x", "from": "2030-01-03", "to": "2030-01-01"}],
      "workdays": []}, "before"),
    ({"year": 2030, "holidays": [{"name": "x", "date": "01/01/2030"}], "workdays": []}, "YYYY-MM-DD"),
    ({"year": 2030, "provisional": "yes", "holidays": [], "workdays": []}, "provisional"),
])
def test_invalid_files_are_refused(doc, message):
    with pytest.raises(CalendarFileInvalid, match=message):
        YearSchedule.from_dict(doc)


def test_file_name_must_match_year(tmp_path):
    (tmp_path / "2030.json").write_text('{"year": 2031, "holidays": [], "workdays": []}')
    with pytest.raises(CalendarFileInvalid, match="2030.json"):
        WorkCalendar.from_directories(tmp_path)


def test_local_date_uses_shanghai():
    # 2026-10-07 16:30 UTC is 2026-10-08 00:30 in Shanghai.
    assert WorkCalendar.local_date(datetime(2026, 10, 7, 16, 30, tzinfo=timezone.utc)) == date(2026, 10, 8)
    with pytest.raises(ValueError):
        WorkCalendar.local_date(datetime(2026, 10, 7, 16, 30))
