"""受理登记 for speed, in a real headless Chromium: the knowledge base beside
the suggestion answers a call directly (直办) and the ticket records the
entry; the caller's history appears as soon as the phone number is typed;
the keyboard path (Enter to the next field, Ctrl+Enter to submit), the
Chinese field checks, the counter and a draft that survives a reload."""
from __future__ import annotations

import requests

from tests.helpers import WATER, bearer, browser_login

PENSION_SUBJECT = "农村养老保险户口迁走后还能续交吗"
PENSION = "我以前是农业户口，一直交农村养老保险，后来户口迁到外地了，以前交的农村养老保险还能继续交吗？"


def _page(browser, server, user="agent", path=""):
    page = browser.new_context(locale="zh-CN").new_page()
    browser_login(page, server, user, path)
    page.wait_for_selector("#live.on", timeout=15000)
    return page


def test_a_knowledge_base_answer_and_the_callers_history(browser, server, seeded_db):
    agent = bearer(seeded_db, "agent")
    earlier = requests.post(f"{server}/api/v1/tickets", headers=agent, timeout=30, json={
        "subject": WATER[0], "description": WATER[1], "caller": {"name": "刘女士", "phone": "13985019999"}}).json()
    page = _page(browser, server)
    page.fill("input[name=caller_phone]", "13985019999")
    page.wait_for_selector(f"#history-list:has-text('{earlier['number']}')")
    assert "共 1 件" in page.inner_text("#caller-history")
    page.fill("input[name=subject]", PENSION_SUBJECT)
    page.fill("textarea[name=description]", PENSION)
    page.wait_for_selector("#sug-category")          # the suggestion and the knowledge base side by side
    page.wait_for_selector(f"#knowledge[data-q='{PENSION_SUBJECT} {PENSION}'] #kb-list li")
    first = page.query_selector("#kb-list li")
    entry_id = int(first.get_attribute("data-kb"))
    assert "养老保险" in page.inner_text("#kb-list")
    first.query_selector("button.kb-answer").click()
    page.wait_for_selector("#new-number")
    assert "已直办" in page.inner_text("#intake-result") and f"#{entry_id}" in page.inner_text("#intake-result")
    number = page.inner_text("#new-number")
    found = requests.get(f"{server}/api/v1/tickets?status=closed", headers=agent, timeout=30).json()["items"]
    t = next(x for x in found if x["number"] == number)
    evs = requests.get(f"{server}/api/v1/tickets/{t['id']}/events", headers=agent, timeout=30).json()["items"]
    assert evs[-1]["action"] == "direct_answer" and evs[-1]["payload"]["knowledge_id"] == entry_id
    entry = requests.get(f"{server}/api/v1/knowledge/{entry_id}", headers=agent, timeout=30).json()
    assert t["reply_text"] == entry["answer"]
    # the same caller again: now two tickets in the history
    page.fill("input[name=caller_phone]", "13985019999")
    page.wait_for_selector(f"#history-list:has-text('{number}')")
    assert "共 2 件" in page.inner_text("#caller-history")


def test_the_keyboard_path_of_an_intake_with_checks_counter_and_draft(browser, server, seeded_db):
    page = _page(browser, server)
    assert "Ctrl" in page.inner_text("#shortcuts") and "Alt" in page.inner_text("#shortcuts")
    page.focus("input[name=caller_name]")
    page.keyboard.type("张先生")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "caller_phone"
    page.keyboard.type("abc")
    for _ in range(5):                       # phone → channel → type → urgency → subject → address
        page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "address"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.name") == "description"
    page.keyboard.type("停水")
    page.keyboard.press("Control+Enter")
    # the phone field's pattern works in Chromium: refused, named in Chinese
    page.wait_for_selector("#intake-error:has-text('联系电话格式不正确')")
    assert page.get_attribute("input[name=caller_phone]", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.name") == "caller_phone"

    page.fill("input[name=caller_phone]", "13800001234")
    page.fill("textarea[name=description]", "停" * 5001)
    page.wait_for_selector("#desc-count.over")
    assert "5001 / 5000" in page.inner_text("#desc-count")
    page.focus("textarea[name=description]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#intake-error:has-text('诉求内容不能超过 5000 字（现 5001 字）')")
    assert page.input_value("textarea[name=description]") == "停" * 5001, "never cut silently"

    # a draft survives a reload
    page.fill("textarea[name=description]", WATER[1])
    page.wait_for_function("t => (localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith('hotline.intake.draft'))) || '').includes(t)", arg=WATER[1][:20])
    page.reload()
    page.wait_for_selector("#draft-note:not([hidden])")
    assert page.input_value("textarea[name=description]") == WATER[1]
    assert page.input_value("input[name=caller_name]") == "张先生"
    page.wait_for_selector("#desc-count:not(.over)")
    page.focus("textarea[name=description]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#new-number")
    assert page.input_value("textarea[name=description]") == ""
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hotline.intake.draft')).length") == 0
