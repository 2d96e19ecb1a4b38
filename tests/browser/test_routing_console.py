"""Unit routing in the console, in a real headless Chromium: intake shows
the matter, the unit and why, and the agent's choice of unit wins; the
dispatcher's manual form preselects the suggested unit and orders the rest
by score; the admin adds, tests and disables a lexicon entry."""
from __future__ import annotations

import requests

from tests.helpers import browser_login

STREET_LIGHT = "我们小区门口那条路的路灯坏了半个多月，晚上漆黑一片，老人小孩出行很不安全，请尽快派人维修路灯。"
VAGUE = "我想反映一个情况，麻烦你们看看怎么处理，谢谢。"


def test_intake_shows_matter_unit_and_why_and_the_agent_may_correct_the_unit(browser, server, seeded_db):
    page = browser.new_context(locale="zh-CN").new_page()
    browser_login(page, server, "agent")
    page.fill("textarea[name=description]", STREET_LIGHT)
    page.wait_for_selector("#sug-reasons")
    assert "城市公共设施" in page.inner_text("#sug-category")
    assert "城市管理局" in page.inner_text("#sug-unit")
    assert "路灯" in page.inner_text("#sug-reasons")
    assert "候选单位" in page.inner_text("#sug-unit-top")
    # The unit list offers the router's best first; the agent picks 水务 instead.
    page.wait_for_function("document.querySelectorAll('#unit-select option').length > 20")
    first = page.eval_on_selector("#unit-select", "s => s.options[1].textContent")
    assert "城市管理局" in first
    page.select_option("#unit-select", label=page.eval_on_selector(
        "#unit-select", "s => [...s.options].find(o => o.textContent.includes('水务管理局')).textContent"))
    page.click("#submit-ticket")
    page.wait_for_selector("#new-number")
    assert "水务管理局" in page.inner_text("#intake-result")


def test_the_dispatchers_form_preselects_the_suggestion_and_orders_by_score(browser, server, seeded_db):
    from tests.helpers import token

    headers = {"Authorization": f"Bearer {token(seeded_db, 'agent')}"}
    t = requests.post(f"{server}/api/v1/tickets", headers=headers, timeout=30, json={
        "channel": "web", "caller": {"name": "李", "phone": "13800000009"}, "description": VAGUE}).json()
    assert t["needs_review"] and t["responsible_unit"] is None
    dheaders = {"Authorization": f"Bearer {token(seeded_db, 'dispatcher')}"}
    routing = requests.get(f"{server}/api/v1/tickets/{t['id']}/routing", headers=dheaders, timeout=30).json()

    page = browser.new_context(locale="zh-CN").new_page()
    browser_login(page, server, "dispatcher", f"/tickets/{t['id']}")
    page.click("#act-dispatch")
    page.wait_for_selector("#unit-choice")
    assert page.input_value("#unit-choice") == str(routing["suggested_unit_id"])
    options = page.eval_on_selector("#unit-choice", "s => [...s.options].map(o => Number(o.value))")
    ranked = [u["id"] for u in routing["units"]]
    assert options[:len(ranked)] == ranked
    assert "推荐" in page.eval_on_selector("#unit-choice", "s => s.options[0].textContent")
    page.click("#action-form button[type=submit]")
    page.wait_for_selector("#act-reassign")
    ticket = requests.get(f"{server}/api/v1/tickets/{t['id']}", headers=dheaders, timeout=30).json()
    assert ticket["responsible_unit"]["id"] == routing["suggested_unit_id"]


def test_the_admin_adds_tests_and_disables_a_lexicon_entry(browser, server, seeded_db):
    page = browser.new_context(locale="zh-CN").new_page()
    page.on("dialog", lambda d: d.accept("误判较多"))
    browser_login(page, server, "admin", "/admin")
    page.wait_for_selector("#lexicon tbody tr")
    page.fill("#lexicon-form input[name=phrase]", "牛圈粪水")
    page.fill("#lexicon-form input[name=category]", "环境保护/环境污染/水污染")
    page.fill("#lexicon-form input[name=note]", "养殖污染的说法")
    page.click("#lexicon-form button[type=submit]")
    row = page.wait_for_selector("#lexicon tbody tr[data-phrase='牛圈粪水']")
    assert "v1" in row.inner_text() and "启用" in row.inner_text()

    page.fill("#lexicon-test textarea[name=text]", "村里牛圈粪水横流，臭不可闻。")
    page.click("#lexicon-test button[type=submit]")
    page.wait_for_selector("#lexicon-test-result:has-text('牛圈粪水')")
    assert "生态环境局" in page.inner_text("#lexicon-test-unit")

    page.click("#lexicon tbody tr[data-phrase='牛圈粪水'] button")
    page.wait_for_selector("#lexicon tbody tr[data-phrase='牛圈粪水']:has-text('已停用')")
    assert "v2" in page.inner_text("#lexicon tbody tr[data-phrase='牛圈粪水']")
    # The change is in the audit log, which the auditor reads (三员分立).
    auditor = browser.new_context(locale="zh-CN").new_page()
    browser_login(auditor, server, "auditor", "/audit")
    auditor.wait_for_selector("#audit tbody tr:has-text('lexicon_entry.disable')")
    assert "误判较多" in auditor.inner_text("#audit tbody")
