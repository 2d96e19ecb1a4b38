"""Read models of one ticket beyond its JSON shape (dispatch.ticket_json):
its SLA clocks, and the dispatcher's routing form (the intake's suggestion
and every unit of the platform ordered by the router's score).  The caller
has checked that the actor sees the ticket."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import clocks
from dispatch.change import iso
from dispatch.intake import unit_label
from models import SlaClock, Ticket, TicketEvent, Unit


def clocks_of(s: Session, ticket_id: int) -> list[dict]:
    rows = s.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.id)).all()
    return [{"id": c.id, "stage": c.stage, "round": c.round, "unit_id": c.unit_id,
             "started_at": iso(c.started_at), "due_at": iso(c.due_at),
             "warn_at": iso(c.warn_at), "paused": clocks.is_open(c.pauses),
             "pauses": clocks.normalise(c.pauses), "stopped_at": iso(c.stopped_at), "outcome": c.outcome,
             "due_state": c.due_state, "missing_year": c.missing_year}
            for c in rows]


def routing_form(s: Session, ticket_id: int) -> dict:
    """The suggested unit first and preselected, then the rest by score."""
    accept = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                TicketEvent.action == "accept").order_by(TicketEvent.id))
    routing = dict((accept.payload or {}).get("routing") or {}) if accept else {}
    t = s.get(Ticket, ticket_id)
    scores = routing.get("scores") or {}
    platform = s.get(Unit, t.platform_id)
    units = s.scalars(select(Unit).where(Unit.active.is_(True), Unit.path.startswith(platform.path),
                                         Unit.id != platform.id, Unit.kind.in_(("department", "district",
                                                                               "street")))).all()
    suggested = routing.get("unit")
    district = None
    if suggested == "district":
        ds = [u for u in units if u.kind == "district" and u.division_code
              and (t.division_code or "").startswith(u.division_code)]
        district = max(ds, key=lambda u: len(u.division_code)) if ds else None

    def score(u: Unit) -> float:
        if u.kind == "street":
            return -1.0
        return float(scores.get(unit_label(u), 0.0)) + (0.001 if district is not None and u.id == district.id else 0.0)

    ordered = sorted(units, key=lambda u: (-score(u), u.kind != "department", u.code))
    pick = district if district is not None else next((u for u in ordered if suggested and unit_label(u) == suggested
                                                       and u.kind != "street"), None)
    if pick is not None:
        ordered.remove(pick)
        ordered.insert(0, pick)
    return {
        "suggested_unit_id": pick.id if pick else None,
        "confidence": routing.get("confidence"), "matter": routing.get("matter"),
        "reasons": routing.get("reasons") or [],
        "units": [{"id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
                   "score": round(max(score(u), 0.0), 4)} for u in ordered],
    }
