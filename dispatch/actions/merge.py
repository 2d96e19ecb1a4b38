"""并单: a repeat request merged into an open lead ticket, which carries the
earliest caller's clock and, when it closes, answers every merged caller."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from dispatch import clock_keeping
from dispatch.access import can_see
from dispatch.change import Change
from dispatch.errors import Invalid
from dispatch.workflow import OPEN
from models import Ticket


def merge(c: Change) -> dict:
    t = c.t
    into = c.s.scalar(select(Ticket).where(Ticket.id == c.int_param("into_ticket_id")).with_for_update(of=Ticket))
    if into is None or into.id == t.id or not can_see(c.actor, into) or into.status not in OPEN:
        raise Invalid("并入的工单无效（须为可见的未办结工单）", {"into_ticket_id": "no such open ticket"})
    t.merged_into_id = into.id
    mine = clock_keeping.running(c.s, t, "close")
    start = mine.started_at if mine is not None else t.created_at
    for stage in ("sign", "close"):
        clock_keeping.stop(c, stage, outcome="merged")
    carried = None
    theirs = clock_keeping.running(c.s, into, "close")
    if theirs is not None and start < theirs.started_at:
        # The lead now answers the earliest caller: it carries the earliest clock.
        theirs.started_at = start
        clock_keeping.recompute(c.on(into), theirs)
        carried = start
    elif theirs is None and into.status == "accepted":
        # Not dispatched yet: its first close clock will start from here.
        earlier = (into.extra or {}).get("close_clock_from")
        if earlier is None or start < dt.datetime.fromisoformat(earlier):
            into.extra = {**(into.extra or {}), "close_clock_from": start.isoformat()}
            carried = start
    into.updated_at = c.now
    c.record(into, "absorb", str(c.p.get("reason") or ""), {"from": t.number, "from_id": t.id,
                                                             "clock_started_at": carried})
    return {"into": into.number, "into_id": into.id}


def answer_merged(c: Change) -> None:
    """The lead closed: every caller whose ticket was merged into it is answered."""
    for m in c.s.scalars(select(Ticket).where(Ticket.merged_into_id == c.t.id).with_for_update(of=Ticket)):
        m.reply_text, m.replied_at, m.closed_at, m.updated_at = c.t.reply_text, c.now, c.now, c.now
        c.record(m, "notify_citizen", f"并单主工单 {c.t.number} 已办结", {
            "kind": "merged_lead_closed", "lead_id": c.t.id,
            "text": f"您反映的问题已与工单 {c.t.number} 合并办理，办理结果：{c.t.reply_text}"})


HANDLERS = {"merge": merge}
