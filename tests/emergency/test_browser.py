"""Emergencies in a real headless Chromium: the banner while typing on
受理登记 and the 119 hand-over, the ticket on top of the coordinator's
board with its clock; the banner while a call streams on 来电受理 (before
the call ends); an unacknowledged 110 hand-over alarming the coordinator
(the sweep's clock injected, no sleeping)."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from integrations import emergency, peers
from integrations.simulate import TelephonySimulator
from models import Linkage, Ticket
from tests.emergency.test_flow import BILL, GAS, KNIFE, create
from tests.helpers import bearer, browser_login, free_port
from tests.integrations.conftest import live_url  # noqa: F401  (the app over real HTTP)


def login(browser, base, username, path):
    page = browser.new_context(locale="zh-CN").new_page()
    browser_login(page, base, username, path)
    page.wait_for_selector("#live.on", timeout=15000)
    return page


def test_gas_leak_typed_on_intake_shows_the_banner_hands_over_to_119_and_tops_the_board(
        browser, live_url, client, seeded_db):
    board = login(browser, live_url, "coordinator", "/linkage")
    board.click("#sound-toggle")
    earlier = create(client, bearer(seeded_db, "agent"), KNIFE)  # an earlier emergency: its clock runs out first
    agent = login(browser, live_url, "agent", "/intake")
    agent.type("textarea[name=description]", GAS, delay=5)
    agent.wait_for_selector("#emergency-banner:not([hidden])", timeout=10000)
    # the banner can rise on a prefix of the text; it follows the whole of it
    agent.wait_for_function("(document.querySelector('#em-words') || {}).innerText?.includes('煤气')", timeout=10000)
    assert agent.inner_text("#em-kind").startswith("火情")
    assert agent.input_value("select[name=urgency]") == "emergency"
    agent.click("#emergency-banner button[data-target=fire119]")
    assert agent.input_value(".em-handover input[name=em_number]") == "119"
    agent.fill(".em-handover input[name=em_operator]", "消防接警员 王 0817")
    agent.fill(".em-handover input[name=em_outcome]", "119已受理，消防车出动")
    agent.click(".em-handover button[data-submit=handover]")
    number = agent.wait_for_selector("#em-ticket", timeout=15000).inner_text()
    with seeded_db.session() as s:
        t = s.scalar(select(Ticket).where(Ticket.number == number))
        assert t.urgency == "emergency" and t.extra["emergency"]["kind"] == "fire119"
        lk = s.scalar(select(Linkage).where(Linkage.ticket_id == t.id, Linkage.peer == "fire119"))
        assert lk.state == "handed_over" and lk.detail["handovers"][0]["operator"] == "消防接警员 王 0817"
    # The coordinator's board: both emergencies live, the 119 one (handed
    # over, later clock) below the earlier, each with its ticking clock.
    board.wait_for_function(f"document.querySelector('#emergencies').innerText.includes('{number}')", timeout=15000)
    first = board.inner_text("#emergencies tbody tr:first-child")
    assert earlier["number"] in first and "剩" in first
    mine = board.inner_text(f"#emergencies tbody tr[data-ticket='{t.id}']")
    assert "火情" in mine and "已移交" in mine and "剩" in mine
    assert board.inner_text("#emergency-count") == "2 件紧急工单"
    # closing (here: cancelling) the older one takes it off the board, live
    r = client.post(f"/api/v1/tickets/{earlier['id']}/actions/cancel", json={"reason": "来电人撤回"},
                    headers=bearer(seeded_db, "agent"))
    assert r.status_code == 200
    board.wait_for_selector(f"#emergencies tr[data-ticket='{earlier['id']}']", state="detached", timeout=10000)
    assert number in board.inner_text("#emergencies tbody tr:first-child")


def test_an_emergency_call_shows_the_banner_before_the_call_ends(browser, live_url, client, seeded_db):
    agent = login(browser, live_url, "agent", "/calls")
    sim = TelephonySimulator(live_url)
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    sim.send({"type": "call.ringing", "call_id": call_id, "caller_phone": "13985011111", "agent": "agent"})
    sim.send({"type": "call.answered", "call_id": call_id, "agent": "agent"})
    said = ["喂 喂 你好", "我爸刚才突然倒在厨房地上了", "叫他也没反应 嘴唇都发紫了"]
    for i, seg in enumerate(said, start=1):
        sim.send({"type": "transcript", "call_id": call_id, "seq": i, "text": seg, "final": True, "speaker": "caller"})
    agent.wait_for_selector("#emergency-banner:not([hidden])", timeout=15000)
    assert agent.inner_text("#call-state") == "通话中"  # the call has not ended
    assert agent.inner_text("#em-kind").startswith("急救")
    agent.click("#emergency-banner button[data-target=medical120]")
    agent.fill(".em-handover input[name=em_outcome]", "120已派车")
    agent.click(".em-handover button[data-submit=handover]")
    number = agent.wait_for_selector("#em-ticket", timeout=15000).inner_text()
    sim.send({"type": "call.ended", "call_id": call_id, "recording_ref": f"rec://{call_id}.wav"})
    agent.wait_for_selector("#call-state:has-text('已挂机')")
    with seeded_db.session() as s:
        t = s.scalar(select(Ticket).where(Ticket.number == number))
        assert t.urgency == "emergency" and t.call_id == call_id


def test_an_unacknowledged_110_handover_alarms_the_coordinator(browser, live_url, client, seeded_db, app):
    peers.override("police110", f"http://127.0.0.1:{free_port()}")  # 110 never answers
    try:
        board = login(browser, live_url, "coordinator", "/linkage")
        agent = bearer(seeded_db, "agent")
        t = create(client, agent, KNIFE)
        r = client.post(f"/api/v1/tickets/{t['id']}/emergency/handover", json={"target": "police110"}, headers=agent)
        assert r.status_code == 200
        row = board.wait_for_selector(f"#linkages tr:has-text('{t['number']}')", timeout=15000)
        assert "未回执告警" not in row.inner_text()
        board.click(f"#linkages button[data-seen]")  # the coordinator has seen the push
        board.wait_for_selector("#linkages tr.escalation", state="detached", timeout=10000)
        db = app.extensions["hotline.db"]
        with db.session() as s:
            lk = s.scalar(select(Linkage).where(Linkage.ticket_id == t["id"], Linkage.peer == "police110"))
            pushed = dt.datetime.fromisoformat(lk.detail["pushed_at"])
        # frozen time: the sweep is told it is 3 min 1 s after the push
        assert emergency.alarm_unacknowledged(db, now=pushed + dt.timedelta(seconds=181))
        row = board.wait_for_selector("#linkages tr.alarm", timeout=10000)
        assert t["number"] in row.inner_text() and "未回执告警" in row.inner_text()
        assert board.inner_text("#alert-count") == "1 条待处理联动"
    finally:
        peers.override("police110", None)


def test_a_look_alike_shows_no_banner(browser, live_url, seeded_db):
    agent = login(browser, live_url, "agent", "/intake")
    agent.fill("textarea[name=description]", BILL)
    agent.dispatch_event("textarea[name=description]", "input")
    agent.wait_for_selector("#emergency-banner[data-checked]", state="attached", timeout=15000)
    assert agent.is_hidden("#emergency-banner")
