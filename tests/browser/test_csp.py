"""Every console page works under the strict Content-Security-Policy: each
role opens each page its capabilities allow, in a real Chromium, and not one
CSP violation (or script error) is reported.  Pages added later are found
from the navigation bar, so they are checked too."""
from __future__ import annotations

from tests.helpers import browser_login

# Between them these accounts reach every page (each path is opened once,
# by the first of them whose navigation offers it).
ROLES = ["admin", "gy_rsj", "secadmin", "auditor", "agent"]


def test_no_page_breaks_the_content_security_policy(browser, server):
    visited: set[str] = set()
    for username in ROLES:
        ctx = browser.new_context(locale="zh-CN")
        page = ctx.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" and ("Content Security Policy" in m.text or "Refused" in m.text) else None)
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        # Violations are also events in the page; collect them from the DOM side.
        page.add_init_script("""window.__csp = [];
            document.addEventListener('securitypolicyviolation',
              (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));""")
        browser_login(page, server, username)
        links = sorted({a for a in page.eval_on_selector_all("header nav a", "els => els.map(e => e.pathname)")})
        assert links, f"{username} sees a navigation bar"
        for path in links:
            if path in visited and path != "/inbox":
                continue
            visited.add(path)
            page.goto(server + path)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__csp") == [], (username, path)
            assert page.evaluate("typeof window.hotlineConsole") == "object", (username, path, "console.js ran")
        assert problems == [], (username, problems)
        ctx.close()
    assert {"/intake", "/inbox", "/admin", "/security", "/audit", "/account"} <= visited
