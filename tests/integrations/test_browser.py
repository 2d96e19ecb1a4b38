"""The linkage pages in a real headless Chromium: a simulated call streams
its transcript into the agent's form and becomes a ticket; a coordinator's
board raises and silences an alert for a new escalation, live."""
from __future__ import annotations

from sqlalchemy import select

from integrations.simulate import TelephonySimulator, split_segments
from models import Ticket
from tests.helpers import WATER, bearer, browser_login
from tests.integrations.test_outbox import create


def login(page, base, username, path):
    browser_login(page, base, username, path)
    page.wait_for_selector("#live.on", timeout=15000)


def test_a_call_fills_the_agents_form_live_and_becomes_a_ticket(browser, live_url, client, seeded_db):
    earlier = create(client, bearer(seeded_db, "agent"), WATER, caller={"name": "陈红", "phone": "13985012345"})
    page = browser.new_context(locale="zh-CN").new_page()
    login(page, live_url, "agent", "/calls")
    said = "我叫陈红，我的电话是13985012345。小区配电房门锁坏了，电线裸露，小孩经常进去玩。地址是南明区遵义路88号。"
    TelephonySimulator(live_url).replay("agent", "13985012345", said, delay=0.05)

    page.wait_for_function("document.querySelectorAll('#transcript li').length === %d" % (1 + len(split_segments(said))),
                           timeout=15000)
    assert earlier["number"] in page.inner_text("#caller-history")
    assert page.input_value("textarea[name=description]") == said
    assert page.input_value("input[name=caller_name]") == "陈红"
    assert page.input_value("input[name=caller_phone]") == "13985012345"
    assert page.input_value("input[name=address]") == "南明区遵义路88号"
    page.wait_for_selector("#call-state:has-text('已挂机')")
    page.click("#submit-call")
    page.wait_for_selector("#call-ticket", timeout=15000)
    number = page.inner_text("#call-ticket")
    with seeded_db.session() as s:
        t = s.scalar(select(Ticket).where(Ticket.number == number))
        assert t.call_id and t.transcript.startswith("坐席：您好") and t.caller_name == "陈红"


def test_the_board_alerts_on_a_new_escalation_and_the_coordinator_acknowledges_it(browser, live_url, client,
                                                                                   seeded_db):
    page = browser.new_context(locale="zh-CN").new_page()
    login(page, live_url, "coordinator", "/linkage")
    page.click("#sound-toggle")
    assert page.get_attribute("#sound-toggle", "aria-pressed") == "true"
    assert page.is_hidden("#alert-count")
    t = create(client, bearer(seeded_db, "agent"), ("有人打架", "楼下有人持刀砍人，已经有人受伤流血了，快来人啊"))
    row = page.wait_for_selector("#linkages tr.escalation", timeout=15000)
    assert t["number"] in row.inner_text() and "疑似警情待确认" in row.inner_text()
    assert page.inner_text("#alert-count") == "1 条待处理联动"
    page.click("#linkages button[data-seen]")
    page.wait_for_selector("#linkages tr.escalation", state="detached", timeout=10000)
    assert page.is_hidden("#alert-count")


def test_the_board_shows_an_undelivered_emergency_live_with_its_age_until_110_takes_it(browser, live_url, client,
                                                                                     seeded_db, sim110):
    from tests.integrations.test_outbox import drain, rows

    sim110.mode.down = True
    page = browser.new_context(locale="zh-CN").new_page()
    login(page, live_url, "coordinator", "/linkage")
    page.wait_for_selector("#undelivered td.muted")          # nothing undelivered yet
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/transfer_to_110", json={"reason": "来电人称遭人威胁"},
                    headers=agent)
    assert r.status_code == 200
    row = page.wait_for_selector("#undelivered tr.critical", timeout=15000)
    assert t["number"] in row.inner_text() and "重试中" in row.inner_text()
    assert page.inner_text("#undelivered-count") == "1 条紧急消息未送达"
    first = page.inner_text("#undelivered td.age")
    # The age ticks in the browser (from the first failure, server time).
    page.wait_for_function("(t) => document.querySelector('#undelivered td.age').textContent !== t", arg=first,
                           timeout=10000)
    sim110.mode.down = False
    drain(seeded_db, lambda: rows(seeded_db)[0].state == "sent")
    page.wait_for_selector("#undelivered tr.critical", state="detached", timeout=15000)
    assert page.is_hidden("#undelivered-count")
