"""Small plain factories for tests (no fixtures magic)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import select

from dispatch.access import Actor
from models import Database, Unit, User


ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, env, log_path=None):
    """A server process whose output goes to a file (a full pipe would stall it)."""
    import tempfile

    log = open(log_path, "w") if log_path else tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "hotline", *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log_path = log.name
    return proc


def wait_http(url, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {open(getattr(proc, 'log_path', '/dev/null')).read()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not come up")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def ensure_models() -> None:
    """The default topic model and unit router files exist (trained once if
    missing) before a server process loads them: a fresh clone would
    otherwise train them inside the server while the test waits for it."""
    from classifier import get_predictor, units

    get_predictor()
    units.get_router()


def actor(db: Database, username: str) -> Actor:
    with db.session() as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)))


def unit(db: Database, code: str) -> Unit:
    with db.session() as s:
        return s.scalar(select(Unit).where(Unit.code == code))


def token(db: Database, username: str) -> str:
    from hotline.auth import issue_token

    with db.session() as s:
        return issue_token(s, s.scalar(select(User).where(User.username == username)), "test")


def bearer(db: Database, username: str) -> dict:
    return {"Authorization": f"Bearer {token(db, username)}"}


# Real citizen messages in the style of the shared data (written for tests).
WATER = ("南明区某小区停水三天无人处理", "我们小区从周一开始停水，到现在已经三天了，自来水公司电话打不通，"
         "老人小孩生活非常不便，请尽快恢复供水。")
SCHOOL = ("孩子入学学位问题", "孩子今年要上小学，片区学校说学位已满，请问教育局如何安排入学，"
          "学区划分是否合理，义务教育阶段应该就近入学。")
WAGES = ("公司拖欠工资三个月", "我在某建筑公司工作，老板拖欠农民工工资三个月共两万元，多次讨要无果，"
         "请劳动监察部门帮助追讨工资，维护劳动者合法权益。")


def browser_login(page, base: str, username: str, next_path: str = "", password: str = "test-password") -> None:
    """Log in through the console's form (CSRF and all)."""
    page.goto(f"{base}/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def console_login(client, username: str, password: str = "test-password", address: str = "127.0.0.1"):
    """Log a Flask test client in through the console's form (a server-side
    session; a cookie made by hand is not one)."""
    import re

    env = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=env).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf},
                    environ_base=env)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client
