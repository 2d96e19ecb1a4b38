"""督办 and the SLA clock's own events: manual supervision, the warning and
overdue timers (dispatch.sweeps, as the system actor), and dues counted
again after a calendar year is imported."""
from __future__ import annotations

from sqlalchemy import select

from dispatch import clock_keeping, clocks, rooms
from dispatch.change import Change, iso, state_of
from dispatch.errors import Conflict
from dispatch.supervision_items import raise_item, resolve_items
from dispatch.ticket_json import summary
from models import SlaClock


def supervise(c: Change) -> dict:
    item = raise_item(c, "manual", str(c.p["reason"]))
    return {"item_id": item.id}


def recompute_dues(c: Change) -> dict:
    """Dues of the running clocks counted again on the calendar in force
    (after `calendar import` loaded a year); refused when nothing moves."""
    t = c.t
    before = {"sign_due_at": t.sign_due_at, "due_at": t.due_at, "due_state": t.due_state}
    for stage in ("sign", "close"):
        clock = clock_keeping.running(c.s, t, stage)
        if clock is not None:
            clock_keeping.recompute(c, clock)
            continue
        # Signed for or replied while the due was pending: judged now.
        last = c.s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == stage)
                          .order_by(SlaClock.id.desc()).limit(1))
        if last is not None and last.due_state == clocks.PENDING and last.outcome in ("met", "late"):
            clock_keeping.apply(last, clocks.clock_due(last.started_at, last.urgency, stage, last.pauses))
            if last.due_at is not None:
                last.outcome = "met" if last.stopped_at <= last.due_at else "late"
            setattr(t, "due_at" if stage == "close" else "sign_due_at", last.due_at)
            states = {k.due_state for k in c.s.scalars(select(SlaClock).where(
                SlaClock.ticket_id == t.id, SlaClock.round == last.round))}
            t.due_state = clocks.PENDING if clocks.PENDING in states else \
                clocks.PROVISIONAL if clocks.PROVISIONAL in states else ""
    after = {"sign_due_at": t.sign_due_at, "due_at": t.due_at, "due_state": t.due_state}
    if after == before:
        raise Conflict("时限无变化", code="nothing_to_do", current=state_of(t))
    if t.due_state != clocks.PENDING:
        resolve_items(c, "calendar_pending")
    return {"year": c.p.get("year"), "before": before, "after": after}


def sla_warning(c: Change) -> dict:
    clock = clock_keeping.clock_for(c)
    if clock.warned_at is not None or clock.warn_at is None or c.now < clock.warn_at:
        raise Conflict("无需预警", code="nothing_to_do", current=state_of(c.t))
    clock.warned_at = c.now
    c.notices.append(("sla.warning", {"ticket": summary(c.t), "stage": clock.stage, "due_at": iso(clock.due_at)},
                      {rooms.unit(c.t.responsible_unit_id), rooms.unit(c.t.platform_id)}))
    return {"clock_id": clock.id, "stage": clock.stage, "due_at": clock.due_at}


def sla_overdue(c: Change) -> dict:
    clock = clock_keeping.clock_for(c)
    if clock.overdue_at is not None or clock.due_at is None or c.now <= clock.due_at:
        raise Conflict("未超时", code="nothing_to_do", current=state_of(c.t))
    clock.overdue_at = c.now
    kind = "sign_overdue" if clock.stage == "sign" else "overdue"
    unit = c.t.responsible_unit.name if c.t.responsible_unit else ""
    raise_item(c, kind, f"{unit}{'签收' if clock.stage == 'sign' else '办理'}超时",
               detail={"clock_id": clock.id, "due_at": iso(clock.due_at)}, dedupe=f"overdue:{clock.id}")
    return {"clock_id": clock.id, "stage": clock.stage, "due_at": clock.due_at}


HANDLERS = {"supervise": supervise, "recompute_dues": recompute_dues, "sla_warning": sla_warning,
            "sla_overdue": sla_overdue}
