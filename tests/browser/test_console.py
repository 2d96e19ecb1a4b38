"""The console in a real headless Chromium (Debian's chromium, driven by
Playwright): an agent takes a complaint, the department sees it arrive live,
signs for it, replies and closes it, and the agent sees the status change
without reloading."""
from __future__ import annotations

import os
from pathlib import Path

from tests.helpers import browser_login

login = browser_login


def shot(page, name):
    target = os.environ.get("SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


def test_intake_to_closure_live_in_two_windows(browser, server):
    agent_ctx, dept_ctx = browser.new_context(locale="zh-CN"), browser.new_context(locale="zh-CN")
    agent, dept = agent_ctx.new_page(), dept_ctx.new_page()
    login(agent, server, "agent")
    assert agent.url.endswith("/intake")
    login(dept, server, "gy_rsj")
    assert dept.url.endswith("/inbox")
    dept.wait_for_selector("#live.on")
    agent.wait_for_selector("#live.on")
    shot(dept, "inbox-empty")

    agent.fill("input[name=caller_name]", "张先生")
    agent.fill("input[name=caller_phone]", "13812345678")
    agent.fill("input[name=subject]", "公司拖欠农民工工资三个月")
    agent.fill("textarea[name=description]", "我在某建筑公司工作，老板拖欠农民工工资三个月共两万元，多次讨要无果，"
                                              "请劳动监察部门帮助追讨工资，维护劳动者合法权益。")
    agent.wait_for_selector("#sug-category")
    assert "劳动和社会保障" in agent.inner_text("#sug-category")
    assert "%" in agent.inner_text("#sug-confidence")
    assert "人力资源和社会保障局" in agent.inner_text("#sug-unit")
    shot(agent, "intake-suggestion")
    agent.click("#submit-ticket")
    agent.wait_for_selector("#new-number")
    number = agent.inner_text("#new-number")
    assert number.isdigit() and len(number) >= 14

    # The department's inbox shows the ticket without a reload.
    row = dept.wait_for_selector(f"#inbox tbody tr:has-text('{number}')", timeout=30_000)
    assert "已派单" in row.inner_text()
    shot(dept, "inbox-new-ticket")
    dept.click(f"#inbox a:has-text('{number}')")
    dept.wait_for_selector("#act-sign_for")
    assert "138****5678" in dept.inner_text("#t-fields"), "the department sees a masked phone number"
    dept.click("#act-sign_for")
    dept.wait_for_selector("#act-reply")
    # The agent's window follows live.
    agent.wait_for_selector(f"#my-tickets tr:has-text('{number}') .s-handling", timeout=30_000)

    dept.click("#act-reply")
    dept.fill("#action-inputs textarea[name=reply_text]", "经核查，已责令该公司三日内足额支付拖欠工资。")
    dept.click("#action-form button[type=submit]")
    dept.wait_for_selector("#act-close", timeout=90_000)
    dept.click("#act-close")
    # Generous bound for a loaded CI machine (the first close in a fresh
    # process is the slowest request of the run); still a wait on a condition.
    dept.wait_for_selector("#t-status .s-closed", timeout=90_000)
    # The page draws the status first and the history after its own request:
    # wait for the history to show the closure too, not just the status.
    dept.wait_for_selector("#events li:has-text('办结')")
    shot(dept, "ticket-closed")
    agent.wait_for_selector(f"#my-tickets tr:has-text('{number}') .s-closed", timeout=30_000)
    shot(agent, "intake-after-close")
    # the history is re-read after the status: wait for it, not for time
    dept.wait_for_selector("#events li:has-text('办结')")
    events = dept.inner_text("#events")
    for label in ("受理", "派单", "签收", "答复", "办结"):
        assert label in events
    agent_ctx.close()
    dept_ctx.close()


def test_login_page_rejects_bad_password_readably(browser, server):
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "agent")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("[role=alert]")
    page.close()
