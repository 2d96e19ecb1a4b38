"""Regression tests for the six findings of issue 14 (clocks and figures an
evaluator can trust), each through the real service on real PostgreSQL with
frozen time.

1. a unit could stop its close clock for good (extension approved while
   awaiting the citizen, then resume);
2. 不满意 was charged to the unit holding the ticket after the redo;
3. attribution depended on when the figures ledger was refreshed;
4. an overdue ticket stopped being overdue while it waited for the citizen;
5. a missing calendar year silently shortened deadlines (tests/dispatch/
   test_calendar_pending.py);
6. 直办率's denominator counted tickets the province accepted and forwarded,
   and the weekend-start rule of docs/sla.md was not what the code did.
"""
from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select

from dispatch import clocks, figures as F, sla
from dispatch.calendar import LOCAL_TZ, SHIPPED_DIR, WorkCalendar
from dispatch.intake import IntakeData
from models import SlaClock, SupervisionItem, TicketEvent
from tests.dispatch import factories as f
from tests.helpers import SCHOOL, WAGES


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def at(moment):
    return time_machine.travel(moment, tick=False)


def intake(db, svc, who="agent", text=WAGES, **kw):
    subject, body = text
    t, _ = svc.create_ticket(f.user_actor(db, who), IntakeData(channel="phone", subject=subject, description=body,
                                                               caller_phone="13812345678", **kw))
    return t


def events(db, tid) -> list[TicketEvent]:
    with db.session() as s:
        return s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id)).all()


def close_clock(db, tid) -> SlaClock:
    with db.session() as s:
        return s.scalar(select(SlaClock).where(SlaClock.ticket_id == tid, SlaClock.stage == "close")
                        .order_by(SlaClock.id.desc()).limit(1))


def figures(db, username, month=(2026, 11), now=None):
    with db.session() as s:
        rep = F.unit_figures(s, f.user_actor(db, username), F.Period.month(*month),
                             now or local(2027, 1, 15, 12, 0))
    return {r["unit"]["code"]: r["figures"] for r in rep.rows}, rep.totals


# ---------------------------------------------------------------- finding 1
def test_extension_approved_while_awaiting_the_citizen_does_not_stop_the_clock_for_good(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    dept, dispatcher = f.user_actor(db, "gy_rsj"), f.user_actor(db, "dispatcher")
    with at(local(2026, 11, 2, 10, 0)):                 # Monday; due 7 working days later
        t = intake(db, svc)
    assert t.due_at == local(2026, 11, 11, 10, 0)
    with at(local(2026, 11, 3, 10, 0)):
        svc.act(dept, t.id, "sign_for")
    with at(local(2026, 11, 4, 10, 0)):                 # five working days were left
        svc.act(dept, t.id, "await_citizen", {"reason": "请补充劳动合同"})
    with at(local(2026, 11, 5, 10, 0)):
        svc.act(dept, t.id, "request_extension", {"reason": "需现场核查", "days": 3})
        approved = svc.act(dispatcher, t.id, "approve_extension", {"reason": "同意"})
    assert approved.due_at is None, "still waiting for the citizen: no due yet"
    told = [e for e in events(db, t.id) if e.action == "notify_citizen"]
    assert "恢复办理" in told[-1].payload["text"], "the citizen learns when the date will be known"
    with at(local(2026, 11, 6, 10, 0)):
        resumed = svc.act(dept, t.id, "resume", {"reason": "材料已补"})
    # Stopped from 11-04 10:00 to the end of the extension (11-10 10:00, three
    # working days after its approval): the union of both pauses.  Five
    # working days were left: 11, 12, 13, 16, 17 November.
    assert resumed.status == "handling" and resumed.due_at == local(2026, 11, 17, 10, 0)
    ev = events(db, t.id)
    resume = next(e for e in ev if e.action == "resume")
    assert resume.payload["paused_for_s"] == 2 * 86400
    dated = [e for e in ev if e.action == "notify_citizen"][-1]
    assert dated.payload["kind"] == "extension_due_known" and "2026年11月17日10:00" in dated.payload["text"]
    clock = close_clock(db, t.id)
    assert not clocks.is_open(clock.pauses), "every pause is closed"
    assert [p["kind"] for p in clock.pauses] == ["citizen", "extension"]
    # A second wait is a second interval, closed by its own resume.
    with at(local(2026, 11, 16, 10, 0)):
        svc.act(dept, t.id, "await_citizen", {"reason": "再补充"})
    with at(local(2026, 11, 17, 10, 0)):
        again = svc.act(dept, t.id, "resume", {"reason": "已补"})
    assert again.due_at == local(2026, 11, 18, 10, 0)
    assert [p["to"] is not None for p in close_clock(db, t.id).pauses if p["kind"] == "citizen"] == [True, True]
    # The overdue notice fires, and a reply 13 days late is late.
    with at(local(2026, 11, 18, 11, 0)):
        svc.act(f.role_actor(db, "system"), t.id, "sla_overdue", {"clock_id": close_clock(db, t.id).id})
    with db.session() as s:
        assert s.scalar(select(SupervisionItem).where(SupervisionItem.ticket_id == t.id,
                                                      SupervisionItem.kind == "overdue")) is not None
    with at(local(2026, 12, 1, 10, 0)):
        svc.act(dept, t.id, "reply", {"reply_text": "已处理"})
    assert events(db, t.id)[-1].payload["on_time"] is False
    assert close_clock(db, t.id).outcome == "late"


def test_the_interval_set_merges_overlaps_and_closes_each_pause_once():
    start = local(2026, 11, 2, 10, 0)
    pauses = clocks.open_pause([], clocks.CITIZEN, local(2026, 11, 4, 10, 0))
    pauses = clocks.extension_pause(pauses, local(2026, 11, 5, 10, 0), 3, 1)
    try:
        clocks.open_pause(pauses, clocks.CITIZEN, local(2026, 11, 5, 11, 0))
        raise AssertionError("two open citizen pauses")
    except ValueError:
        pass
    assert clocks.clock_due(start, "general", "close", pauses).due_at is None
    closed, held = clocks.close_pauses(pauses, local(2026, 11, 6, 10, 0))
    again, held2 = clocks.close_pauses(closed, local(2026, 11, 9, 10, 0))
    assert held == dt.timedelta(days=2) and held2 == dt.timedelta(0) and again == closed
    assert clocks.clock_due(start, "general", "close", closed).due_at == local(2026, 11, 17, 10, 0)
    # Older rows stored [from, to] pairs: an open pair is a citizen pause.
    legacy = [[local(2026, 11, 4, 10, 0).isoformat(), None]]
    assert clocks.is_open(legacy, clocks.CITIZEN)


# ---------------------------------------------------------------- finding 2
def test_unsatisfied_is_charged_to_the_unit_whose_reply_was_rejected(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    rsj, jyj, agent = f.user_actor(db, "gy_rsj"), f.user_actor(db, "gy_jyj"), f.user_actor(db, "agent")
    with at(local(2026, 11, 2, 10, 0)):
        t = intake(db, svc)                             # to 人社局
        direct = intake(db, f.service(db, confidence=0.2), text=("咨询", "请问社保卡在哪里办理"))
        svc.act(rsj, t.id, "sign_for")
        svc.act(rsj, t.id, "reply", {"reply_text": "已处理"})
        svc.act(rsj, t.id, "close")
        svc.act(agent, direct.id, "direct_answer", {"reply_text": "请到政务大厅办理"})
    with at(local(2026, 11, 3, 10, 0)):
        # Redo sent to another unit: 教育局 does not carry 人社局's rejected reply.
        svc.act(agent, t.id, "redo", {"satisfaction": "unsatisfied", "reason": "未解决",
                                      "unit_id": f.unit(db, "gy_jyj").id})
        # Redo of a direct answer: the platform's answer was rejected.
        svc.act(agent, direct.id, "redo", {"satisfaction": "unsatisfied", "reason": "答复不对",
                                           "unit_id": f.unit(db, "gy_rsj").id})
    redo = [e for e in events(db, t.id) if e.action == "redo"][0]
    assert redo.charged_unit_id == f.unit(db, "gy_rsj").id and redo.unit_id == f.unit(db, "gy_jyj").id
    rows, totals = figures(db, "supervisor")
    assert rows["gy_rsj"]["unsatisfied"] == 1 and rows["gy_jyj"]["unsatisfied"] == 0
    assert rows["gy12345"]["unsatisfied"] == 1, "the redo of a direct answer is the platform's"
    assert totals["unsatisfied"] == 2
    with at(local(2026, 11, 4, 10, 0)):
        svc.act(jyj, t.id, "sign_for")
        svc.act(jyj, t.id, "reply", {"reply_text": "已重新处理"})
        svc.act(jyj, t.id, "close")
        svc.act(agent, t.id, "callback", {"satisfaction": "satisfied"})
    rows, _ = figures(db, "supervisor")
    assert rows["gy_jyj"]["satisfied"] == 1 and rows["gy_rsj"]["satisfied"] == 0


# ---------------------------------------------------------------- finding 3
def test_attribution_does_not_depend_on_when_the_ledger_was_refreshed(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    rsj, dispatcher = f.user_actor(db, "gy_rsj"), f.user_actor(db, "dispatcher")
    jyj = f.unit(db, "gy_jyj")
    with at(local(2026, 11, 2, 10, 0)):
        read_between, read_after = intake(db, svc), intake(db, svc)
    for t in (read_between, read_after):
        with at(local(2026, 11, 3, 10, 0)):
            svc.act(rsj, t.id, "sign_for")
            svc.act(rsj, t.id, "request_extension", {"reason": "需核查", "days": 2})
            svc.act(dispatcher, t.id, "approve_extension", {"reason": "同意"})
        if t is read_between:
            figures(db, "supervisor")                   # the ledger copies the events now
        with at(local(2026, 11, 3, 11, 0)):             # an hour later: reassigned to 教育局
            svc.act(dispatcher, t.id, "reassign", {"unit_id": jyj.id, "reason": "职责调整"})
    rows, _ = figures(db, "supervisor")
    assert rows["gy_rsj"]["extensions_approved"] == 2 and rows["gy_jyj"]["extensions_approved"] == 0
    assert rows["gy_rsj"]["extensions_requested"] == 2
    assert rows["gy_jyj"]["received"] == 2, "the tickets themselves are 教育局's now"
    with db.session() as s:
        s.execute(F.LEDGER.delete())                    # rebuilt from the events: the same answer
    again, _ = figures(db, "supervisor")
    assert again == rows


# ---------------------------------------------------------------- finding 4
def test_an_overdue_ticket_stays_overdue_while_it_waits_for_the_citizen(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    rsj = f.user_actor(db, "gy_rsj")
    with at(local(2026, 11, 2, 10, 0)):
        late, early = intake(db, svc), intake(db, svc)
        svc.act(rsj, late.id, "sign_for")
        svc.act(rsj, early.id, "sign_for")
    with at(local(2026, 11, 4, 10, 0)):                 # before the due: time is left, no due
        paused = svc.act(rsj, early.id, "await_citizen", {"reason": "补充材料"})
    assert paused.due_at is None
    with at(local(2026, 11, 12, 10, 0)):                # a day after the due (11-11 10:00)
        waiting = svc.act(rsj, late.id, "await_citizen", {"reason": "补充材料"})
    assert waiting.due_at == local(2026, 11, 11, 10, 0), "a pause after the due keeps the due"
    now = local(2026, 11, 20, 10, 0)
    rows, _ = figures(db, "supervisor", now=now)
    assert rows["gy_rsj"]["overdue_open"] == 1 and rows["gy_rsj"]["overdue"] == 1
    with db.session() as s:
        total, listed = F.overdue_tickets(s, f.user_actor(db, "coordinator"), now)
    assert total == 1 and listed[0].id == late.id, "on the 督办 list too"
    # The sweep's overdue notice fires for the paused-but-overdue clock.
    with at(local(2026, 11, 12, 11, 0)):
        svc.act(f.role_actor(db, "system"), late.id, "sla_overdue", {"clock_id": close_clock(db, late.id).id})
    with at(local(2026, 11, 13, 10, 0)):
        back = svc.act(rsj, late.id, "resume", {"reason": "已补"})
    assert back.due_at == local(2026, 11, 11, 10, 0), "the pause after the due did not move it"


# ---------------------------------------------------------------- finding 6
def test_direct_answer_rate_counts_what_each_platform_accepted_itself(seeded_db):
    db = seeded_db
    svc, unsure = f.service(db), f.service(db, confidence=0.2)
    agent = f.user_actor(db, "agent")
    with at(local(2026, 11, 2, 10, 0)):
        forwarded = intake(db, svc, who="province_agent", address="贵阳市云岩区某小区")
        assert [e.action for e in events(db, forwarded.id)][:2] == ["accept", "forward"]
        city_own = [intake(db, unsure, text=("咨询", f"请问公积金怎么提取{i}")) for i in range(2)]
        svc.act(agent, city_own[0].id, "direct_answer", {"reply_text": "请登录公积金网站办理"})
    rows, totals = figures(db, "admin")
    assert rows["gy12345"]["direct_answers"] == 1
    assert rows["gy12345"]["direct_answer_rate"] == 0.5, "1 of the 2 the city accepted, not of 3"
    assert rows["gz12345"]["direct_answer_rate"] == 0.0, "the forwarded ticket is the province's"
    assert totals["direct_answer_rate"] == round(1 / 3, 4)
    city_rows, city_totals = figures(db, "supervisor")
    assert city_totals["direct_answer_rate"] == 0.5


def test_weekend_start_rule_is_the_09_to_09_working_day_that_docs_sla_describes():
    cal = WorkCalendar.from_directories(SHIPPED_DIR)
    one = sla.Limit(1, sla.WORKING_DAYS)
    # docs/sla.md, "Rules": each example there, as written.
    assert sla.due_after(local(2026, 11, 6, 16, 0), one, cal) == local(2026, 11, 9, 16, 0)   # Fri 16:00
    assert sla.due_after(local(2026, 11, 7, 15, 0), one, cal) == local(2026, 11, 10, 9, 0)   # Sat 15:00
    assert sla.due_after(local(2026, 11, 9, 8, 0), one, cal) == local(2026, 11, 10, 9, 0)    # Mon 08:00
    assert sla.due_after(local(2026, 11, 6, 20, 0), one, cal) == local(2026, 11, 9, 20, 0)   # Fri 20:00
    # Before 09:00 on Saturday is still Friday's working day: one hour of it
    # is left, then the clock stops until Monday 09:00.
    assert sla.due_after(local(2026, 11, 7, 8, 0), one, cal) == local(2026, 11, 10, 8, 0)
    assert sla.due_after(local(2026, 9, 30, 15, 0), sla.Limit(7, sla.WORKING_DAYS), cal) == \
        local(2026, 10, 15, 15, 0)


def test_a_start_on_new_years_morning_2026_needs_no_missing_year():
    cal = WorkCalendar.from_directories(SHIPPED_DIR)
    # 1 January 2026 08:00 belongs to 31 December 2025's working day (shipped):
    # one hour left, then 元旦 until the 调休 Sunday 4 January 09:00.
    due = sla.due_after(local(2026, 1, 1, 8, 0), sla.Limit(1, sla.WORKING_DAYS), cal)
    assert due == local(2026, 1, 5, 8, 0)
    k = clocks.clock_due(local(2026, 1, 1, 8, 0), "general", "close")
    assert k.state == "" and k.due_at is not None
