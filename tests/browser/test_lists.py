"""A department's 待办 in Chromium: open work by deadline, pages past the
first, search by words and by a phone's last four digits, "共 N 件"
following a live arrival, and bulk 签收 with a result per ticket."""
from __future__ import annotations

import requests

from models import Database
from tests.browser.test_console import shot
from tests.helpers import WAGES, browser_login, token


def _pager_is(page, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function("t => document.querySelector('#pager').textContent === t", arg=text, timeout=timeout)


def test_department_todo_pages_search_live_count_and_bulk_sign(browser, server, database_url):
    db = Database(database_url)
    try:
        agent = {"Authorization": f"Bearer {token(db, 'agent')}"}
        dept_api = {"Authorization": f"Bearer {token(db, 'gy_rsj')}"}
    finally:
        db.dispose()

    def take(i: int, extra: str = "") -> dict:
        r = requests.post(f"{server}/api/v1/tickets", headers=agent, timeout=60, json={
            "channel": "phone", "caller": {"name": "张先生", "phone": f"1380000{i:04d}"},
            "subject": f"{WAGES[0]}（{i}）", "description": WAGES[1] + extra, "category": "劳动和社会保障"})
        assert r.status_code == 201, r.text
        t = r.json()
        assert t["responsible_unit"]["code"] == "gy_rsj"
        return t

    made = [take(i, "工地门口的井盖也丢了。" if i == 7 else "") for i in range(22)]
    done = made[0]
    for action, body in (("sign_for", {}), ("reply", {"reply_text": "已督促公司支付工资。"}), ("close", {})):
        r = requests.post(f"{server}/api/v1/tickets/{done['id']}/actions/{action}", json=body, headers=dept_api,
                          timeout=60)
        assert r.status_code == 200, r.text

    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    browser_login(page, server, "gy_rsj")
    assert page.url.endswith("/inbox")
    page.wait_for_selector("#live.on")
    # 待办 by default: the closed ticket is not there; 21 open tickets, 20 a page.
    _pager_is(page, "共 21 件")
    assert page.input_value("#status-filter") == "todo" and page.input_value("#sort-filter") == "due"
    assert page.locator("#inbox tbody tr").count() == 20
    assert done["number"] not in page.inner_text("#inbox tbody")
    assert page.inner_text("#page-info") == "第 1 / 2 页"
    shot(page, "inbox-todo-paged")
    page.click("#page-next")
    page.wait_for_function("() => document.querySelector('#page-info').textContent === '第 2 / 2 页'")
    assert page.locator("#inbox tbody tr").count() == 1
    page.click("#page-prev")
    page.wait_for_function("() => document.querySelector('#page-info').textContent === '第 1 / 2 页'")

    # Search: words, then a phone's last four digits.
    page.fill("#list-q", "井盖")
    _pager_is(page, "共 1 件")
    assert made[7]["number"] in page.inner_text("#inbox tbody")
    shot(page, "inbox-search-words")
    page.fill("#list-q", "0013")     # the count was already 1: wait for the row itself
    page.wait_for_selector(f"#inbox tbody tr[data-id='{made[13]['id']}']")
    _pager_is(page, "共 1 件")
    page.fill("#list-q", "")
    _pager_is(page, "共 21 件")

    # A new ticket for the unit arrives live: the count follows.
    fresh = take(99)
    _pager_is(page, "共 22 件")
    page.fill("#list-q", fresh["number"])
    _pager_is(page, "共 1 件")
    page.fill("#list-q", "")
    _pager_is(page, "共 22 件")

    # Bulk 签收: two tickets picked; one is signed for elsewhere meanwhile,
    # so it fails on its own while the other is signed.
    a, b = made[1], made[2]
    for t in (a, b):
        row = page.locator(f"#inbox tbody tr[data-id='{t['id']}']")
        if row.count() == 0:    # on the second page by deadline
            page.click("#page-next")
            row.wait_for()
        row.locator("input.pick").check()
    assert page.inner_text("#bulk-count") == "2"
    r = requests.post(f"{server}/api/v1/tickets/{a['id']}/actions/sign_for", json={}, headers=dept_api, timeout=60)
    assert r.status_code == 200
    page.click("#bulk-sign")
    page.wait_for_selector(f"#bulk-result li[data-id='{b['id']}'].ok")
    failed = page.wait_for_selector(f"#bulk-result li[data-id='{a['id']}'].error")
    assert "签收失败" in failed.inner_text()
    assert "已签收" in page.inner_text(f"#bulk-result li[data-id='{b['id']}']")
    shot(page, "inbox-bulk-sign")
    for t in (a, b):
        got = requests.get(f"{server}/api/v1/tickets/{t['id']}", headers=dept_api, timeout=60).json()
        assert got["status"] == "handling"
    ctx.close()
