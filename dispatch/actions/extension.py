"""延期: a unit applies for more working days, the hotline approves (the
close clock pauses for them and the citizen is told the new date) or
refuses."""
from __future__ import annotations

from sqlalchemy import select

from dispatch import clock_keeping, clocks
from dispatch.change import Change, state_of
from dispatch.errors import Conflict, Invalid
from models import ExtensionRequest


def _pending(c: Change) -> ExtensionRequest | None:
    return c.s.scalar(select(ExtensionRequest).where(ExtensionRequest.ticket_id == c.t.id,
                                                     ExtensionRequest.state == "pending"))


def _decide(c: Change, state: str) -> ExtensionRequest:
    req = _pending(c)
    if req is None:
        raise Conflict("没有待审批的延期申请", code="no_pending_extension", current=state_of(c.t))
    req.state, req.decided_by_id, req.decided_at = state, c.actor.user_id, c.now
    req.decision_reason = str(c.p.get("reason") or "")
    return req


def tell_due(c: Change, kind: str, reason: str) -> None:
    due = c.t.due_at.astimezone(clocks.LOCAL_TZ)
    c.record(c.t, "notify_citizen", reason, {
        "kind": kind, "text": f"您反映的问题（工单 {c.t.number}）已恢复办理，预计于{due:%Y年%m月%d日%H:%M}前办结。"})


def request_extension(c: Change) -> dict:
    days = c.int_param("days")
    if not 1 <= days <= 30:
        raise Invalid("延期天数应为 1–30", {"days": "1..30"})
    if _pending(c) is not None:
        raise Conflict("已有待审批的延期申请", code="extension_pending", current=state_of(c.t))
    req = ExtensionRequest(ticket_id=c.t.id, unit_id=c.t.responsible_unit_id, days=days,
                           reason=str(c.p["reason"]), requested_by_id=c.actor.user_id, requested_at=c.now)
    c.s.add(req)
    c.s.flush()
    return {"extension_id": req.id, "days": days}


def approve_extension(c: Change) -> dict:
    req = _decide(c, "approved")
    clock = clock_keeping.running(c.s, c.t, "close")
    if clock is not None:
        clock.pauses = clocks.extension_pause(clock.pauses, c.now, req.days, req.id)
        clock_keeping.recompute(c, clock)
    text = f"您反映的问题（工单 {c.t.number}）承办单位申请延期{req.days}个工作日，已获批准"
    if c.t.due_at is not None:
        text += f"，预计于{c.t.due_at.astimezone(clocks.LOCAL_TZ):%Y年%m月%d日%H:%M}前办结。"
    elif c.t.due_state == clocks.PENDING:
        text += "，办结期限待节假日安排公布后另行告知。"
    else:
        # Awaiting the citizen: the clock is stopped, the date follows the resume.
        text += "，计时在您补充材料、恢复办理后继续，届时告知办结期限。"
    c.record(c.t, "notify_citizen", "延期告知", {"kind": "extension_approved", "text": text})
    return {"extension_id": req.id, "days": req.days, "due_at": c.t.due_at}


def refuse_extension(c: Change) -> dict:
    req = _decide(c, "refused")
    return {"extension_id": req.id}


HANDLERS = {"request_extension": request_extension, "approve_extension": approve_extension,
            "refuse_extension": refuse_extension}
