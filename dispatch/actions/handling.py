"""What a unit does with a ticket it holds, and how the hotline ends it:
sign for, await the citizen and resume, an assisting unit's input, reply,
close, direct answer (直办), cancel."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from dispatch import clock_keeping, clocks, knowledge
from dispatch.actions.callback import callback_task
from dispatch.actions.extension import tell_due
from dispatch.actions.merge import answer_merged
from dispatch.change import Change, state_of
from dispatch.errors import Conflict, Forbidden
from models import Assignment, SlaClock


def sign_for(c: Change) -> dict:
    c.t.signed_at = c.now
    clock = clock_keeping.stop(c, "sign")
    return {"on_time": clock is None or clock.outcome == "met"}


def await_citizen(c: Change) -> dict:
    clock = clock_keeping.running(c.s, c.t, "close")
    if clock is not None:
        clock.pauses = clocks.open_pause(clock.pauses, clocks.CITIZEN, c.now)
        clock_keeping.recompute(c, clock)
    return {}


def resume(c: Change) -> dict:
    clock = clock_keeping.running(c.s, c.t, "close")
    paused_for = 0
    if clock is not None and clocks.is_open(clock.pauses, clocks.CITIZEN):
        opened = next(p for p in clocks.normalise(clock.pauses)
                      if p["kind"] == clocks.CITIZEN and p.get("to") is None)["from"]
        clock.pauses, held = clocks.close_pauses(clock.pauses, c.now, clocks.CITIZEN)
        paused_for = int(held.total_seconds())
        clock_keeping.recompute(c, clock)
        approved = [p for p in clocks.normalise(clock.pauses) if p["kind"] == clocks.EXTENSION
                    and dt.datetime.fromisoformat(p["from"]) >= dt.datetime.fromisoformat(opened)]
        if approved and c.t.due_at is not None:
            # The extension was approved while the ticket waited: the
            # citizen learns the date now that the clock runs again.
            tell_due(c, "extension_due_known", "恢复办理后告知办结期限")
    return {"paused_for_s": paused_for, "due_at": c.t.due_at}


def give_input(c: Change) -> dict:
    a = c.s.scalar(select(Assignment).where(Assignment.ticket_id == c.t.id, Assignment.unit_id == c.actor.unit_id,
                                            Assignment.role == "assist"))
    if a is None or c.actor.on_platform:
        raise Forbidden("本单位不是该工单的协办单位", code="not_an_assisting_unit")
    if a.state == "given":
        raise Conflict("已提交协办意见", code="input_already_given", current=state_of(c.t))
    on_time = a.due_at is None or c.now <= a.due_at
    a.state, a.input_text, a.given_at = "given", c.text_param("reply_text"), c.now
    return {"unit": c.actor.unit_id, "on_time": on_time, "reply_text": a.input_text}


def reply(c: Change) -> dict:
    t = c.t
    waiting = []
    for a in c.s.scalars(select(Assignment).where(Assignment.ticket_id == t.id, Assignment.role == "assist",
                                                  Assignment.state == "pending")):
        if a.due_at is not None and c.now > a.due_at:
            a.state = "timed_out"
        else:
            waiting.append(a.unit_id)
    if waiting:
        raise Conflict("协办单位尚未反馈且未超过协办时限", code="assist_pending", current=state_of(t),
                       fields={"assist_unit_ids": waiting})
    t.reply_text = c.text_param("reply_text")
    t.replied_at = c.now
    clock = clock_keeping.stop(c, "close")
    return {"reply_text": t.reply_text, "on_time": clock is None or clock.outcome == "met"}


def close(c: Change) -> dict:
    t = c.t
    t.closed_at = c.now
    clock = c.s.scalar(select(SlaClock).where(SlaClock.ticket_id == t.id, SlaClock.stage == "close")
                       .order_by(SlaClock.id.desc()).limit(1))
    if clock is not None and clock.stopped_at is None:
        clock = clock_keeping.stop(c, "close")
    on_time = clock.outcome == "met" if clock is not None else (t.due_at is None or c.now <= t.due_at)
    callback_task(c)
    answer_merged(c)
    return {"on_time": on_time}


def direct_answer(c: Change) -> dict:
    t = c.t
    # The knowledge-base entry answered from, when one was (its id and version).
    cited = knowledge.cited(c.s, c.p["knowledge_id"]) if c.p.get("knowledge_id") is not None else {}
    t.reply_text = c.text_param("reply_text")
    t.replied_at = t.closed_at = c.now
    t.needs_review = False
    callback_task(c)
    return {"reply_text": t.reply_text, **cited}


def cancel(c: Change) -> dict:
    for stage in ("sign", "close"):
        clock_keeping.stop(c, stage, outcome="cancelled")
    return {}


HANDLERS = {"sign_for": sign_for, "await_citizen": await_citizen, "resume": resume, "give_input": give_input,
            "reply": reply, "close": close, "direct_answer": direct_answer, "cancel": cancel}
