"""Two production web processes behind HAProxy (Debian's, started here) with
sticky sessions and Redis as the Socket.IO message queue.  A department's
console in Chromium, pinned to one process, sees a ticket made through the
other; when its process dies, the console reconnects through the balancer to
the survivor and fetches what changed while it was cut off (the catch-up
endpoint), then follows live again."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile

import pytest
import requests

from tests.conftest import IN_CI
from tests.helpers import WAGES, bearer, browser_login, ensure_models, free_port, start, stop, wait_http

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

CONFIG = """
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    retries 3
    option redispatch
frontend hotline
    bind 127.0.0.1:{port}
    default_backend web
backend web
    balance roundrobin
    # Sticky by cookie: a console's polling requests and its WebSocket reach
    # the process that holds its Socket.IO session.
    cookie HLSRV insert indirect nocache
    option httpchk GET /api/v1/workflow
    default-server inter 500ms fall 2 rise 1
    server a 127.0.0.1:{a} check cookie a
    server b 127.0.0.1:{b} check cookie b
"""


@pytest.fixture
def balanced(seeded_db, database_url, redis_url, redis_conn, tmp_path):
    if not os.path.exists(HAPROXY):
        if IN_CI:
            pytest.fail("CI is set but haproxy is missing (.ci/run installs Debian's haproxy)")
        pytest.skip("haproxy is not installed")
    ensure_models()  # the model files exist before the servers load them
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url,
               SECRET_KEY="balanced-test-secret-key-0123", HOTLINE_ENV="test")
    ports = {"a": free_port(), "b": free_port()}
    procs = {name: start(["serve", "--production", "--host", "127.0.0.1", "--port", str(p)], env)
             for name, p in ports.items()}
    lb_port = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(CONFIG.format(port=lb_port, **ports))
    lb_log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    lb = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=lb_log, stderr=subprocess.STDOUT)
    lb.log_path = lb_log.name
    try:
        for name, p in ports.items():
            wait_http(f"http://127.0.0.1:{p}/api/v1/workflow", procs[name])
        wait_http(f"http://127.0.0.1:{lb_port}/api/v1/workflow", lb)
        yield {"lb": f"http://127.0.0.1:{lb_port}", "direct": {n: f"http://127.0.0.1:{p}" for n, p in ports.items()},
               "procs": procs}
    finally:
        stop(lb)
        for proc in procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
            stop(proc)


def intake(base: str, headers: dict, note: str) -> str:
    subject, body = WAGES
    r = requests.post(f"{base}/api/v1/tickets", json={"subject": f"{subject}{note}", "description": body + note,
                                                      "category": "劳动和社会保障"}, headers=headers, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()["number"]


def test_console_follows_changes_across_processes_and_survives_losing_its_own(browser, balanced, seeded_db):
    ctx = browser.new_context(locale="zh-CN")
    page = ctx.new_page()
    browser_login(page, balanced["lb"], "gy_rsj")
    assert page.url.endswith("/inbox")
    page.wait_for_selector("#live.on", timeout=30_000)
    home = next(c["value"] for c in ctx.cookies() if c["name"] == "HLSRV")
    other = "b" if home == "a" else "a"
    agent = bearer(seeded_db, "agent")

    # A change made through the other process reaches this console live.
    first = intake(balanced["direct"][other], agent, "（一）")
    page.wait_for_selector(f"#inbox tbody tr:has-text('{first}')", timeout=20_000)

    # The console's own process freezes: a ticket made now cannot reach it
    # live.  Then the process dies; the console reconnects through HAProxy
    # to the survivor and must fetch the ticket it missed.
    home_proc = balanced["procs"][home]
    os.kill(home_proc.pid, signal.SIGSTOP)
    missed = intake(balanced["direct"][other], agent, "（二）")
    home_proc.kill()
    home_proc.wait(10)
    page.wait_for_selector(f"#inbox tbody tr:has-text('{missed}')", timeout=60_000)
    page.wait_for_selector("#live.on", timeout=30_000)
    assert next(c["value"] for c in ctx.cookies() if c["name"] == "HLSRV") == other, \
        "the balancer moved the console to the surviving process"

    # And it is live again on the survivor.
    after = intake(balanced["lb"], agent, "（三）")
    page.wait_for_selector(f"#inbox tbody tr:has-text('{after}')", timeout=20_000)
    assert page.locator(f"#inbox tbody tr:has-text('{missed}')").count() == 1
    ctx.close()
