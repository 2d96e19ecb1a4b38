"""Screenshots of every console page, for docs/screenshots.

Starts the service on a throwaway SQLite database with the demo data, makes
a few tickets in different states through the API, then visits each page in
headless Chromium as the role that uses it.

    python scripts/screenshots.py [--out docs/screenshots]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, stop, wait_http  # noqa: E402

PAGES = [  # (file, user, path, selector to wait for)
    ("01-login", None, "/login", "form"),
    ("02-intake", "agent", "/intake", "#intake-form"),
    ("03-calls", "agent", "/calls", "body"),
    ("04-inbox-department", "gy_rsj", "/inbox", "#inbox tbody tr"),
    ("05-ticket", "gy_rsj", "/tickets/1", "#events li"),
    ("06-review", "dispatcher", "/review", "body"),
    ("07-board", "coordinator", "/board", "body"),
    ("08-callbacks", "agent", "/callbacks", "body"),
    ("09-linkage", "coordinator", "/linkage", "body"),
    ("10-figures", "supervisor", "/figures", "body"),
    ("11-admin", "admin", "/admin", "#rules tbody tr"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/shots.db", SECRET_KEY="screenshot-secret-key-0123",
               HOTLINE_ENV="development", HOTLINE_DEMO_PASSWORD="shots-password")
    env.pop("REDIS_URL", None)
    for cmd in (["init-db"], ["seed-demo"]):
        subprocess.run([sys.executable, "-m", "hotline", *cmd], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    tok = subprocess.run([sys.executable, "-m", "hotline", "create-token", "agent"], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    atok = subprocess.run([sys.executable, "-m", "hotline", "create-token", "admin"], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    dtok = subprocess.run([sys.executable, "-m", "hotline", "create-token", "gy_rsj"], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "hotline", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        proc.log_path = str(tmp / "server.log")
        wait_http(f"{base}/api/v1/workflow", proc)
        h = {"Authorization": f"Bearer {tok}"}
        samples = [
            ("公司拖欠农民工工资三个月", "我在某建筑公司工作，老板拖欠农民工工资三个月共两万元，多次讨要无果，请劳动监察部门帮助追讨。", "贵阳市南明区"),
            ("小区停水三天无人处理", "我们小区从周一开始停水，到现在已经三天了，自来水公司电话打不通，请尽快恢复供水。", "贵阳市云岩区中华北路"),
            ("孩子入学学位问题", "孩子今年要上小学，片区学校说学位已满，请问教育局如何安排入学。", "贵阳市观山湖区"),
            ("社保卡补办", "社保卡丢失了，请问在哪里补办，需要带什么材料，多久可以拿到新卡。", ""),
            ("你好", "请问一下", ""),
        ]
        ids = []
        for subject, desc, addr in samples:
            r = requests.post(f"{base}/api/v1/tickets", headers=h, timeout=60, json={
                "subject": subject, "description": desc, "address": addr,
                "caller": {"name": "张先生", "phone": "13812345678"}})
            r.raise_for_status()
            ids.append(r.json()["id"])
        dh = {"Authorization": f"Bearer {dtok}"}
        requests.post(f"{base}/api/v1/tickets/{ids[0]}/actions/sign_for", headers=dh, json={}, timeout=30)
        requests.post(f"{base}/api/v1/tickets/{ids[0]}/actions/reply", headers=dh, timeout=30,
                      json={"reply_text": "经核查，已责令该公司三日内足额支付拖欠工资。"})
        print("retraining a candidate model for the admin page (runs inline, about a minute)…", flush=True)
        requests.post(f"{base}/api/v1/admin/models/retrain", headers={"Authorization": f"Bearer {atok}"},
                      json={}, timeout=600).raise_for_status()
        shoot(base, out)
    finally:
        stop(proc)
    print(f"screenshots in {out}")


def shoot(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for name, user, path, selector in PAGES:
            ctx = b.new_context(locale="zh-CN", viewport={"width": 1360, "height": 860})
            page = ctx.new_page()
            if user:
                page.goto(f"{base}/login")
                page.fill("input[name=username]", user)
                page.fill("input[name=password]", "shots-password")
                page.click("button[type=submit]")
                page.wait_for_load_state("networkidle")
            page.goto(base + path)
            page.wait_for_selector(selector, timeout=15_000)
            if name == "02-intake":
                page.fill("input[name=subject]", "小区停水三天无人处理")
                page.fill("input[name=address]", "贵阳市云岩区中华北路")
                page.fill("textarea[name=description]", "我们小区从周一开始停水，到现在已经三天了，自来水公司电话打不通，"
                                                         "老人小孩生活非常不便，请尽快恢复供水。")
                page.wait_for_selector("#sug-category", timeout=15_000)
            page.wait_for_load_state("networkidle")
            time.sleep(0.8)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(f"  {name}.png  ({user or 'anonymous'} {path})", flush=True)
            ctx.close()
        b.close()


if __name__ == "__main__":
    main()
