"""The dispatch pages in headless Chromium: a dispatcher rejects a return on
the review page, a 督办 item appears live on the coordinator's board, an agent
records a callback, and the department's inbox shows countdowns."""
from __future__ import annotations


import requests

from tests.browser.test_console import shot
from tests.helpers import WAGES, token
from tests.helpers import browser_login as login


class Api:
    def __init__(self, base, db, username):
        self.base, self.h = base, {"Authorization": f"Bearer {token(db, username)}"}

    def post(self, path, body=None):
        r = requests.post(self.base + "/api/v1" + path, json=body or {}, headers=self.h, timeout=10)
        assert r.status_code in (200, 201), r.text
        return r.json()


def test_review_board_callbacks_and_inbox_in_the_browser(browser, server, seeded_db):
    agent, dept = Api(server, seeded_db, "agent"), Api(server, seeded_db, "gy_rsj")
    disp = Api(server, seeded_db, "dispatcher")
    body = {"channel": "phone", "subject": WAGES[0], "description": WAGES[1], "category": "劳动和社会保障",
            "caller": {"name": "张先生", "phone": "13812345678"}}
    returned = agent.post("/tickets", body)
    dept.post(f"/tickets/{returned['id']}/actions/return", {"reason": "应由劳动监察支队办理", "suggested_unit": "劳动监察支队"})
    closing = agent.post("/tickets", body)
    for action, extra in (("sign_for", {}), ("reply", {"reply_text": "已追回工资"}), ("close", {})):
        dept.post(f"/tickets/{closing['id']}/actions/{action}", extra)
    agent.post("/tickets", body)

    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Dispatcher: the return is a dispute with the unit's reason; reject it.
    login(page, server, "dispatcher")
    page.goto(f"{server}/review")
    row = page.wait_for_selector(f"#returns tr:has-text('{returned['number']}')")
    assert "应由劳动监察支队办理" in row.inner_text() and "劳动监察支队" in row.inner_text()
    shot(page, "review-returns")
    row.query_selector("button[data-do=reject_return]").click()
    page.fill("#review-form textarea[name=reason]", "拖欠工资属人社局职责")
    page.click("#review-submit")
    page.wait_for_selector("#returns td:has-text('暂无待审核退单')")

    # Coordinator: a 督办 item arrives live.
    cctx = browser.new_context(locale="zh-CN")
    board = cctx.new_page()
    board.on("pageerror", lambda e: errors.append(str(e)))
    login(board, server, "coordinator")
    board.goto(f"{server}/board")
    board.wait_for_selector("#live.on")
    disp.post(f"/tickets/{returned['id']}/actions/supervise", {"reason": "请三日内办结"})
    item = board.wait_for_selector("#board tr:has-text('请三日内办结')", timeout=10_000)
    assert "人工督办" in item.inner_text()
    shot(board, "board-live")
    item.query_selector("button[data-resolve]").click()
    board.wait_for_selector("#board td:has-text('暂无督办事项')")

    # Agent: the callback queue, recorded as satisfied.
    actx = browser.new_context(locale="zh-CN")
    cb = actx.new_page()
    cb.on("pageerror", lambda e: errors.append(str(e)))
    login(cb, server, "agent")
    cb.goto(f"{server}/callbacks")
    row = cb.wait_for_selector(f"#callbacks tr:has-text('{closing['number']}')")
    assert "13812345678" in row.inner_text()
    shot(cb, "callbacks")
    row.query_selector("button[data-cb=result]").click()
    cb.select_option("#cb-result", "satisfied")
    cb.click("#cb-submit")
    cb.wait_for_selector("#callbacks td:has-text('暂无待回访工单')")

    # Department: countdowns in the inbox.
    dctx = browser.new_context(locale="zh-CN")
    inbox = dctx.new_page()
    inbox.on("pageerror", lambda e: errors.append(str(e)))
    login(inbox, server, "gy_rsj")
    inbox.wait_for_selector("#inbox tbody tr")
    assert "剩" in inbox.inner_text("#inbox")
    shot(inbox, "inbox-countdowns")
    inbox.goto(f"{server}/tickets/{returned['id']}")
    inbox.wait_for_selector("#clocks tbody tr:has-text('签收')")
    assert "按时" in inbox.inner_text("#clocks") and "计时中" in inbox.inner_text("#clocks")
    shot(inbox, "ticket-clocks")
    assert not errors, errors
    for c in (ctx, cctx, actx, dctx):
        c.close()
