"""回访: the callback task a closed ticket gets, its tries, the recorded
satisfaction, and redo (重办) after 不满意."""
from __future__ import annotations

from sqlalchemy import select

from dispatch import clock_keeping, clocks
from dispatch.actions.dispatching import assign, dispatchable_unit
from dispatch.change import Change
from dispatch.errors import Invalid
from dispatch.workflow import CALLBACK_TRIES, SATISFACTION
from models import CallbackTask


def callback_task(c: Change) -> CallbackTask:
    task = CallbackTask(ticket_id=c.t.id, platform_id=c.t.platform_id, round=clock_keeping.last_round(c),
                        due_at=clocks.next_working_morning(c.now), created_at=c.now)
    c.s.add(task)
    c.s.flush()
    return task


def _open_task(c: Change) -> CallbackTask:
    task = c.s.scalar(select(CallbackTask).where(CallbackTask.ticket_id == c.t.id, CallbackTask.state == "open")
                      .order_by(CallbackTask.id.desc()).limit(1))
    return task if task is not None else callback_task(c)


def callback_no_answer(c: Change) -> dict:
    task = _open_task(c)
    if task.attempts >= CALLBACK_TRIES - 1:
        raise Invalid(f"第{CALLBACK_TRIES}次未接通请记录为“无法联系”",
                      {"satisfaction": "record unreachable"}, code="last_try_is_unreachable")
    task.attempts += 1
    return {"attempts": task.attempts}


def callback(c: Change) -> dict:
    result = str(c.p["satisfaction"])
    if result not in SATISFACTION or result == "unsatisfied":
        raise Invalid("回访结果无效（不满意请用重办）", {"satisfaction": "one of satisfied, "
                      f"basically_satisfied, unreachable; not {result!r}"})
    task = _open_task(c)
    if result == "unreachable":
        if task.attempts < CALLBACK_TRIES - 1:
            raise Invalid(f"需先{CALLBACK_TRIES - 1}次未接通，第{CALLBACK_TRIES}次才可记为无法联系",
                          {"satisfaction": "not yet"}, code="too_few_tries")
    task.attempts += 1
    note = str(c.p.get("note") or "")
    task.state, task.result, task.note = "done", result, note
    task.completed_at, task.completed_by_id = c.now, c.actor.user_id
    return {"satisfaction": result, "note": note, "attempts": task.attempts}


def redo(c: Change) -> dict:
    if c.p["satisfaction"] != "unsatisfied":
        raise Invalid("重办需回访结果为不满意", {"satisfaction": "must be unsatisfied"})
    t = c.t
    task = _open_task(c)
    note = str(c.p.get("note") or c.p.get("reason") or "")
    task.attempts += 1
    task.state, task.result, task.note = "done", "unsatisfied", note
    task.completed_at, task.completed_by_id = c.now, c.actor.user_id
    unit = t.responsible_unit
    if c.p.get("unit_id"):
        unit = dispatchable_unit(c.s, c.actor, c.int_param("unit_id"))
    if unit is None or unit.is_platform:
        raise Invalid("重办需指定承办单位", {"unit_id": "required: the ticket has no handling unit"})
    round_ = clock_keeping.last_round(c) + 1
    assign(c, unit, round_=round_, keep_assists=True)
    t.replied_at = t.closed_at = None
    return {"satisfaction": "unsatisfied", "note": note, "round": round_, "unit": unit.code}


HANDLERS = {"callback_no_answer": callback_no_answer, "callback": callback, "redo": redo}
