"""The workflow's paths through the service: SLA clocks from the working-day
calendar, returns as disputes, extensions, awaiting the citizen, co-handling,
callback and redo, merge, direct answer, two-level platforms."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from dispatch.access import visible_clause
from dispatch.calendar import LOCAL_TZ
from dispatch.errors import Conflict, Forbidden, Invalid
from dispatch.intake import IntakeData
from models import (Assignment, CallbackTask, LabelCorrection, SlaClock, SupervisionItem, Ticket, TicketEvent)
from tests.dispatch import factories as f
from tests.helpers import SCHOOL, WAGES, WATER


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def intake(db, svc, who="agent", text=WAGES, **kw):
    subject, body = text
    t, _ = svc.create_ticket(f.user_actor(db, who), IntakeData(channel="phone", subject=subject, description=body,
                                                               caller_phone=kw.pop("caller_phone", "13812345678"),
                                                               **kw))
    return t


def events(db, tid) -> list[TicketEvent]:
    with db.session() as s:
        return s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id)).all()


def clocks_of(db, tid) -> list[SlaClock]:
    with db.session() as s:
        return s.scalars(select(SlaClock).where(SlaClock.ticket_id == tid).order_by(SlaClock.id)).all()


def test_deadlines_follow_the_working_day_calendar_and_clocks_are_recorded_separately(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    # Friday 2026-10-09 16:00, after the National Day holiday; Saturday
    # 10-10 is a working day (调休).
    with time_machine.travel(local(2026, 10, 9, 16, 0), tick=False):
        t = intake(db, svc)
    assert t.status == "dispatched" and t.responsible_unit.code == "gy_rsj"
    assert t.sign_due_at == local(2026, 10, 10, 16, 0), "the 调休 Saturday is the next working day"
    sign, close = clocks_of(db, t.id)
    assert (sign.stage, close.stage) == ("sign", "close") and sign.due_at == t.sign_due_at
    assert close.due_at == t.due_at == local(2026, 10, 19, 16, 0), "10-10, 10-12..16, 10-19"
    assert sign.warn_at < sign.due_at and sign.stopped_at is None
    dept = f.user_actor(db, "gy_rsj")
    with time_machine.travel(local(2026, 10, 12, 10, 0), tick=False):
        svc.act(dept, t.id, "sign_for")
    sign, close = clocks_of(db, t.id)
    assert sign.outcome == "late" and close.stopped_at is None
    assert events(db, t.id)[-1].payload == {"on_time": False}
    with time_machine.travel(local(2026, 10, 12, 11, 0), tick=False):
        svc.act(dept, t.id, "reply", {"reply_text": "已责令支付。"})
        svc.act(dept, t.id, "close")
    assert clocks_of(db, t.id)[1].outcome == "met"
    assert events(db, t.id)[-1].payload == {"on_time": True}


def test_routing_by_place_parses_the_address(seeded_db):
    svc = f.service(seeded_db, label="城乡建设")
    t = intake(seeded_db, svc, text=("占道经营", "小区门口占道经营严重，请城管执法处理。"),
               address="贵阳市南明区花果园小区", category="城乡建设/城市建设和市政管理/城管执法")
    assert t.division_code == "520102"
    assert t.responsible_unit.code == "gy_nmq"


def test_return_is_a_dispute_upheld_with_a_correction_or_rejected_with_the_clock_running(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    t = intake(db, svc)
    dept, dispatcher = f.user_actor(db, "gy_rsj"), f.user_actor(db, "dispatcher")
    with pytest.raises(Invalid) as e:
        svc.act(dept, t.id, "return", {"reason": "不归我们管"})
    assert "suggested_unit" in e.value.fields
    svc.act(dept, t.id, "return", {"reason": "学位问题", "suggested_unit": "教育局"})
    due_before = clocks_of(db, t.id)[1].due_at
    svc.act(dispatcher, t.id, "reject_return", {"reason": "工资问题属人社"})
    after = f.load(db, t.id)
    assert after.status == "handling" and after.due_at == due_before, "reject keeps the unit's clock running"
    assert len(clocks_of(db, t.id)) == 2

    svc.act(dept, t.id, "return", {"reason": "确属教育", "suggested_unit": "教育局"})
    jyj = f.unit(db, "gy_jyj")
    t2 = svc.act(dispatcher, t.id, "uphold_return", {"unit_id": jyj.id, "reason": "同意", "category": "教育文体"})
    assert t2.status == "dispatched" and t2.responsible_unit_id == jyj.id and t2.return_count == 2
    cl = clocks_of(db, t.id)
    assert len(cl) == 4 and [c.outcome for c in cl[:2]] == ["met", "superseded"] and cl[2].unit_id == jyj.id
    with db.session() as s:
        corr = s.scalars(select(LabelCorrection).where(LabelCorrection.ticket_id == t.id)).all()
    assert [(c.predicted_label, c.label, c.source) for c in corr] == [("劳动和社会保障", "教育文体", "return_upheld")]
    ev = events(db, t.id)[-1]
    assert ev.action == "uphold_return" and ev.payload["category_changed"] is True


def test_the_third_return_goes_to_a_coordinator(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    t = intake(db, svc)
    dispatcher, coordinator = f.user_actor(db, "dispatcher"), f.user_actor(db, "coordinator")
    units = ["gy_rsj", "gy_jyj", "gy_mzj"]
    for i, code in enumerate(units):
        svc.act(f.user_actor(db, code), t.id, "return", {"reason": f"第{i + 1}次", "suggested_unit": "?"})
        if i < 2:
            svc.act(dispatcher, t.id, "uphold_return", {"unit_id": f.unit(db, units[i + 1]).id, "reason": "改派"})
    with pytest.raises(Forbidden) as e:
        svc.act(dispatcher, t.id, "reject_return", {"reason": "驳回"})
    assert e.value.code == "coordinator_review"
    with db.session() as s:
        items = s.scalars(select(SupervisionItem).where(SupervisionItem.ticket_id == t.id)).all()
    assert [i.kind for i in items] == ["third_return"] and items[0].resolved_at is None
    svc.act(coordinator, t.id, "reject_return", {"reason": "由民政局办理"})
    with db.session() as s:
        assert s.get(SupervisionItem, items[0].id).resolved_at is not None
    assert "escalate" in [e.action for e in events(db, t.id)]


def test_extension_pauses_the_close_clock_and_the_citizen_is_told(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    with time_machine.travel(local(2026, 11, 2, 10, 0), tick=False):   # a Monday
        t = intake(db, svc)
    dept, dispatcher = f.user_actor(db, "gy_rsj"), f.user_actor(db, "dispatcher")
    due = t.due_at
    assert due == local(2026, 11, 11, 10, 0)
    with time_machine.travel(local(2026, 11, 3, 10, 0), tick=False):
        svc.act(dept, t.id, "sign_for")
        svc.act(dept, t.id, "request_extension", {"reason": "需现场勘查", "days": 3})
        with pytest.raises(Conflict):
            svc.act(dept, t.id, "request_extension", {"reason": "再申请", "days": 2})
        after = svc.act(dispatcher, t.id, "approve_extension", {"reason": "同意"})
    assert after.due_at == local(2026, 11, 16, 10, 0), "three working days later (over a weekend)"
    evs = events(db, t.id)
    assert [e.action for e in evs[-2:]] == ["notify_citizen", "approve_extension"] or \
        [e.action for e in evs[-2:]] == ["approve_extension", "notify_citizen"]
    note = next(e for e in evs if e.action == "notify_citizen")
    assert note.payload["kind"] == "extension_approved" and "3个工作日" in note.payload["text"]
    with pytest.raises(Conflict) as e:
        svc.act(dispatcher, t.id, "refuse_extension", {"reason": "无申请"})
    assert e.value.code == "no_pending_extension"


def test_awaiting_the_citizen_pauses_the_clock(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    dept = f.user_actor(db, "gy_rsj")
    with time_machine.travel(local(2026, 11, 2, 10, 0), tick=False):
        t = intake(db, svc)
        svc.act(dept, t.id, "sign_for")
    due = t.due_at
    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        paused = svc.act(dept, t.id, "await_citizen", {"reason": "请群众补充材料"})
    assert paused.status == "awaiting_citizen" and paused.due_at is None
    with time_machine.travel(local(2026, 11, 6, 10, 0), tick=False):   # two working days later
        resumed = svc.act(dept, t.id, "resume", {"reason": "材料已补"})
    assert resumed.status == "handling" and resumed.due_at == due + dt.timedelta(days=2), \
        "two working days paused move the due two working days"
    assert events(db, t.id)[-1].payload["paused_for_s"] == 2 * 86400


def test_co_handling_lead_replies_after_assisting_units_or_their_time(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    agent = f.user_actor(db, "agent")
    t = intake(db, svc, confidence=0.2) if False else intake(db, f.service(db, confidence=0.2))
    assert t.status == "accepted" and t.needs_review
    jyj, mzj = f.unit(db, "gy_jyj"), f.unit(db, "gy_mzj")
    with time_machine.travel(local(2026, 11, 2, 10, 0), tick=False):
        t = svc.act(agent, t.id, "dispatch", {"unit_id": f.unit(db, "gy_rsj").id,
                                             "assist_unit_ids": [jyj.id, mzj.id]})
    lead = f.user_actor(db, "gy_rsj")
    with time_machine.travel(local(2026, 11, 3, 10, 0), tick=False):
        svc.act(lead, t.id, "sign_for")
        with pytest.raises(Conflict) as e:
            svc.act(lead, t.id, "reply", {"reply_text": "已处理"})
        assert e.value.code == "assist_pending" and set(e.value.fields["assist_unit_ids"]) == {jyj.id, mzj.id}
        svc.act(f.user_actor(db, "gy_jyj"), t.id, "give_input", {"reply_text": "学位已协调"})
        with db.session() as s:
            assert s.scalar(select(Ticket).where(Ticket.id == t.id,
                                                 visible_clause(f.user_actor(db, "gy_jyj"), assisting=True)))
        with pytest.raises(Conflict):
            svc.act(lead, t.id, "reply", {"reply_text": "已处理"})
    # 民政局 never answers; after half the close time its part times out.
    with time_machine.travel(local(2026, 11, 9, 10, 0), tick=False):
        done = svc.act(lead, t.id, "reply", {"reply_text": "已处理"})
    assert done.status == "replied"
    with db.session() as s:
        states = {a.unit_id: a.state for a in s.scalars(select(Assignment).where(Assignment.ticket_id == t.id))}
    assert states == {f.unit(db, "gy_rsj").id: "pending", jyj.id: "given", mzj.id: "timed_out"}


def test_callback_unreachable_after_three_tries_and_unsatisfied_means_redo(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    dept, agent = f.user_actor(db, "gy_rsj"), f.user_actor(db, "agent")

    def to_closed():
        t = intake(db, svc)
        svc.act(dept, t.id, "sign_for")
        svc.act(dept, t.id, "reply", {"reply_text": "已处理"})
        with time_machine.travel(local(2026, 11, 6, 15, 0), tick=False):   # a Friday
            return svc.act(dept, t.id, "close")

    t = to_closed()
    with db.session() as s:
        task = s.scalar(select(CallbackTask).where(CallbackTask.ticket_id == t.id))
    assert task.due_at == local(2026, 11, 9, 9, 0), "next working day, 09:00"
    with pytest.raises(Invalid):
        svc.act(agent, t.id, "callback", {"satisfaction": "unreachable"})
    svc.act(agent, t.id, "callback_no_answer")
    svc.act(agent, t.id, "callback_no_answer")
    with pytest.raises(Invalid):
        svc.act(agent, t.id, "callback_no_answer")
    done = svc.act(agent, t.id, "callback", {"satisfaction": "unreachable", "note": "三次未接通"})
    assert done.status == "archived"
    assert events(db, t.id)[-1].payload == {"satisfaction": "unreachable", "note": "三次未接通", "attempts": 3}

    t = to_closed()
    with pytest.raises(Invalid):
        svc.act(agent, t.id, "redo", {"satisfaction": "satisfied", "reason": "?"})
    redo = svc.act(agent, t.id, "redo", {"satisfaction": "unsatisfied", "reason": "工资仍未发放"})
    assert redo.status == "dispatched" and redo.responsible_unit_id == dept.unit_id
    cl = clocks_of(db, t.id)
    assert [c.round for c in cl] == [1, 1, 2, 2] and cl[2].stopped_at is None and redo.due_at == cl[3].due_at
    assert events(db, t.id)[-1].payload["satisfaction"] == "unsatisfied"


def test_merge_keeps_both_histories_carries_the_earliest_clock_and_answers_every_caller(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    dept, dispatcher = f.user_actor(db, "gy_rsj"), f.user_actor(db, "dispatcher")
    with time_machine.travel(local(2026, 11, 2, 10, 0), tick=False):
        first = intake(db, svc, caller_phone="13900000001")
    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        lead = intake(db, svc, caller_phone="13900000002")
        merged = svc.act(dispatcher, first.id, "merge", {"into_ticket_id": lead.id, "reason": "同一诉求"})
    assert merged.status == "merged" and merged.merged_into_id == lead.id
    lead_now = f.load(db, lead.id)
    assert lead_now.due_at == first.due_at, "the lead carries the earliest clock"
    svc.act(dept, lead.id, "sign_for")
    svc.act(dept, lead.id, "reply", {"reply_text": "已协调发放"})
    svc.act(dept, lead.id, "close")
    first_events = [e.action for e in events(db, first.id)]
    assert first_events[:2] == ["accept", "dispatch"] and "merge" in first_events
    assert first_events[-1] == "notify_citizen"
    assert "已协调发放" in events(db, first.id)[-1].payload["text"]
    assert "absorb" in [e.action for e in events(db, lead.id)]


def test_direct_answer_closes_at_intake_with_a_callback(seeded_db):
    db, svc = seeded_db, f.service(seeded_db, confidence=0.2)
    t = intake(db, svc, text=SCHOOL)
    done = svc.act(f.user_actor(db, "agent"), t.id, "direct_answer", {"reply_text": "按就近入学政策，请联系片区学校。"})
    assert done.status == "closed" and done.responsible_unit_id is None
    with db.session() as s:
        assert s.scalar(select(CallbackTask).where(CallbackTask.ticket_id == t.id)) is not None


def test_province_forwards_a_city_matter_and_each_level_sees_its_own(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    t = intake(db, svc, who="province_agent", address="贵阳市云岩区某小区")
    assert t.platform.code == "gy12345" and t.status == "dispatched" and t.responsible_unit.code == "gy_rsj"
    acts = [e.action for e in events(db, t.id)]
    assert acts == ["accept", "forward", "dispatch"]
    with db.session() as s:
        def sees(who):
            return s.scalar(select(Ticket.id).where(Ticket.id == t.id, visible_clause(f.user_actor(db, who))))
        assert sees("admin") and sees("dispatcher") and sees("gy_rsj")
        assert not sees("gy_jyj")
    # The province can also forward by hand a ticket it holds.
    held = f.ticket(db, "accepted", platform_code="gz12345")
    fwd = svc.act(f.role_actor(db, "dispatcher"), held, "forward", {"unit_id": f.unit(db, "gy12345").id})
    assert fwd.status == "accepted" and fwd.platform_id == f.unit(db, "gy12345").id and fwd.needs_review
    with pytest.raises(Invalid):
        svc.act(f.role_actor(db, "dispatcher"), held, "dispatch", {"unit_id": f.unit(db, "gy12345").id})


def test_duplicates_are_shown_at_intake(seeded_db):
    db, svc = seeded_db, f.service(seeded_db, label="城乡建设")
    cat = "城乡建设/城市建设和市政管理/自来水供应"
    a = intake(db, svc, text=WATER, address="贵阳市南明区", category=cat, caller_phone="13700000001")
    b = intake(db, svc, text=WATER, address="贵阳市南明区", category=cat, caller_phone="13700000002")
    c = intake(db, svc, text=WAGES, caller_phone="13700000001")
    dups_b = events(db, b.id)[0].payload["duplicates"]
    assert [(d["ticket_id"], d["reason"]) for d in dups_b] == [(a.id, "similar_text")]
    dups_c = events(db, c.id)[0].payload["duplicates"]
    assert [(d["ticket_id"], d["reason"]) for d in dups_c] == [(a.id, "same_caller")]


def test_a_burst_of_similar_tickets_raises_a_hot_event(seeded_db):
    from dispatch import duplicates, events as bus

    db, svc = seeded_db, f.service(seeded_db, label="城乡建设")
    seen = []
    bus.subscribe(lambda name, payload, rooms: seen.append((name, payload, rooms)))
    try:
        cat = "城乡建设/城市建设和市政管理/自来水供应"
        for i in range(duplicates.HOT_COUNT + 1):
            intake(db, svc, text=WATER, address="贵阳市南明区", category=cat, caller_phone=f"1370000010{i}")
    finally:
        bus.unsubscribe_all()
    with db.session() as s:
        items = s.scalars(select(SupervisionItem).where(SupervisionItem.kind == "hot_event")).all()
    assert len(items) == 1 and items[0].detail["count"] == duplicates.HOT_COUNT
    live = [p for n, p, r in seen if n == "supervision.new"]
    assert len(live) == 1 and live[0]["kind"] == "hot_event"
    assert "role:coordinator" in [r for n, p, r in seen if n == "supervision.new"][0]


def test_merge_into_a_ticket_not_yet_dispatched_carries_the_clock_to_its_dispatch(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    dispatcher = f.user_actor(db, "dispatcher")
    with time_machine.travel(local(2026, 11, 2, 10, 0), tick=False):
        first = intake(db, svc)
    with time_machine.travel(local(2026, 11, 3, 10, 0), tick=False):
        lead = intake(db, f.service(db, confidence=0.2))
        assert lead.status == "accepted"
        svc.act(dispatcher, first.id, "merge", {"into_ticket_id": lead.id, "reason": "同一诉求"})
    with time_machine.travel(local(2026, 11, 4, 10, 0), tick=False):
        done = svc.act(dispatcher, lead.id, "dispatch", {"unit_id": f.unit(db, "gy_rsj").id})
    assert done.due_at == first.due_at, "the close clock starts when the first caller's did"
    assert done.sign_due_at == local(2026, 11, 5, 10, 0), "signing for is the new unit's own clock"


def test_an_agent_choosing_a_city_platform_at_intake_forwards_the_ticket(seeded_db):
    db, svc = seeded_db, f.service(seeded_db)
    city = f.unit(db, "gy12345")
    t = intake(db, svc, who="province_agent", unit_id=city.id)
    assert t.platform_id == city.id and t.responsible_unit.code == "gy_rsj"
    assert [e.action for e in events(db, t.id)] == ["accept", "forward", "dispatch"]
