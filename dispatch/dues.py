"""Calendar years loaded at run time, and the dues that wait for them.

``import_year`` is ``python -m hotline calendar import FILE``: it validates
a year file (dispatch.calendar's format), stores it in ``calendar_years``
(which every process overlays on the shipped files, dispatch.clocks.sync),
then asks the service to recompute the dues of every open ticket whose clock
was pending or provisional or runs into that year: each change is a
``recompute_dues`` event on its ticket, by the system actor.

``status`` is what the admin page and ``GET /api/v1/calendar`` show: the
years in force, which are provisional, and the open tickets whose dues are
pending for want of a year.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import and_, func, or_, select

from dispatch import clocks
from dispatch.access import SYSTEM
from dispatch.calendar import LOCAL_TZ, YearSchedule
from dispatch.errors import DomainError
from dispatch.workflow import CLOCKED
from models import CalendarYear, Database, SlaClock, Ticket, utcnow
from models.audit import record


def affected_tickets(session, year: int) -> list[int]:
    """Open tickets with a running clock that the year may change, and those
    whose unit signed for or replied while the due was pending."""
    start = dt.datetime(year - 1, 12, 31, 9, 0, tzinfo=LOCAL_TZ)
    running = and_(SlaClock.stopped_at.is_(None), Ticket.status.in_(CLOCKED),
                   or_(SlaClock.due_state.in_((clocks.PENDING, clocks.PROVISIONAL)), SlaClock.due_at >= start))
    # Signed for or replied while the due was pending: judged once the year is there.
    judged = and_(SlaClock.due_state == clocks.PENDING, SlaClock.outcome.in_(("met", "late")),
                  Ticket.status.in_(("replied", "closed", "archived") + tuple(CLOCKED)))
    q = (select(SlaClock.ticket_id).join(Ticket, Ticket.id == SlaClock.ticket_id)
         .where(or_(running, judged)).distinct())
    return sorted(session.scalars(q))


def import_year(db: Database, path: str | Path, service, by: str = "命令行", dry_run: bool = False) -> dict:
    """Load ``path`` as the year's calendar and recompute the open dues with
    ``service`` (the process's TicketService, from the composition root)."""
    schedule = YearSchedule.from_file(Path(path))          # CalendarFileInvalid names the problem

    document = json.loads(Path(path).read_text(encoding="utf-8"))
    with db.session() as s:
        tickets = affected_tickets(s, schedule.year)
        if dry_run:
            return {"year": schedule.year, "provisional": schedule.provisional, "tickets": len(tickets),
                    "changed": 0, "unchanged": 0, "dry_run": True}
        row = s.get(CalendarYear, schedule.year)
        if row is None:
            row = CalendarYear(year=schedule.year)
            s.add(row)
        row.document, row.provisional, row.source = document, schedule.provisional, schedule.source
        row.imported_at, row.imported_by = utcnow(), by
        record(s, "calendar.import", "calendar_year", schedule.year, f"{schedule.source}",
               {"provisional": schedule.provisional, "tickets": len(tickets)}, actor_label=by)
    changed = unchanged = 0
    for tid in tickets:
        try:
            service.act(SYSTEM, tid, "recompute_dues",
                        {"reason": f"导入{schedule.year}年工作日历，重算时限", "year": schedule.year})
            changed += 1
        except DomainError:
            # Moved meanwhile (replied, closed) or nothing to change.
            unchanged += 1
    return {"year": schedule.year, "provisional": schedule.provisional, "tickets": len(tickets),
            "changed": changed, "unchanged": unchanged, "dry_run": False}


def status(session) -> dict:
    """Years in force, provisional years, and open tickets whose dues are pending."""
    cal = clocks.sync(session)
    pending = session.execute(
        select(SlaClock.missing_year, func.count(func.distinct(SlaClock.ticket_id)))
        .join(Ticket, Ticket.id == SlaClock.ticket_id)
        .where(SlaClock.stopped_at.is_(None), SlaClock.due_state == clocks.PENDING, Ticket.status.in_(CLOCKED))
        .group_by(SlaClock.missing_year)).all()
    provisional_tickets = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.due_state == clocks.PROVISIONAL, Ticket.status.in_(CLOCKED)))
    imported = {r.year: {"imported_at": r.imported_at.isoformat(), "imported_by": r.imported_by,
                         "source": r.source} for r in session.scalars(select(CalendarYear))}
    return {
        "years": list(cal.years), "provisional_years": list(cal.provisional_years), "imported": imported,
        "missing": [{"year": y, "open_tickets": n} for y, n in sorted(pending, key=lambda x: x[0] or 0)],
        "provisional_open_tickets": provisional_tickets,
        "command": "python -m hotline calendar import FILE",
    }
