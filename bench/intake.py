"""Sustained ticket intake over HTTP against PostgreSQL.

Runs the real service (`python -m hotline serve`) and a bare Flask endpoint
that only inserts a row (bench/bare_app.py) on the same PostgreSQL server,
drives both with the same concurrent HTTP clients in alternating rounds, and
prints tickets/s beside the bare insert rate, with latency percentiles.  The
ratio is the figure to quote: the machine is shared and noisy.

    python bench/intake.py [--seconds 10] [--clients 8] [--rounds 2] [--burst]
        [--admin-url postgresql+psycopg://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port, start, stop, token, wait_http  # noqa: E402

def shipped_texts() -> list[tuple[str, str]]:
    """Real citizen messages (the classifier's shipped training data), split
    into a subject-like head and the body, so intake meets varied text."""
    import csv
    import gzip

    with gzip.open(ROOT / "classifier" / "data" / "train.csv.gz", "rt", encoding="utf-8", newline="") as f:
        return [(r["text"][:20], r["text"][:1500]) for r in csv.DictReader(f)]


ADDRESSES = ["贵阳市南明区中华南路", "贵阳市云岩区中华北路", "贵阳市花溪区", "贵阳市观山湖区", ""]
# Five texts repeated: the worst case for duplicate detection (a burst).
BURST_TEXTS = [
    ("小区停水三天", "我们小区从周一开始停水，到现在已经三天了，请尽快恢复供水。"),
    ("拖欠工资", "某建筑公司拖欠农民工工资三个月，多次讨要无果，请劳动监察部门帮助追讨。"),
    ("学位问题", "孩子今年上小学，片区学校说学位已满，请问如何安排入学。"),
    ("噪音扰民", "工地夜间施工噪音很大，影响居民休息，请环保部门查处。"),
    ("公交线路", "希望增开一条通往新区的公交线路，方便市民出行。"),
]


def drive(url: str, headers: dict, seconds: float, clients: int, make_body) -> tuple[int, list[float], int]:
    until = time.time() + seconds
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(i: int):
        s = requests.Session()
        mine: list[float] = []
        bad = 0
        while time.time() < until:
            t0 = time.perf_counter()
            r = s.post(url, json=make_body(), headers=headers, timeout=30)
            if r.status_code != 201:
                bad += 1
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat), lat, errors[0]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--burst", action="store_true",
                    help="post five texts over and over (a hot event) instead of varied real messages")
    ap.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL",
                                                          "postgresql+psycopg://postgres@127.0.0.1/postgres"))
    args = ap.parse_args()

    name = "hotline_bench_intake"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    print(f"[1/4] database {name} created; migrating and seeding…", flush=True)
    from models import Database
    from models.migrate import upgrade
    from hotline.seed import seed_demo

    upgrade(url)
    db = Database(url)
    seed_demo(db, password="bench-password")
    tok = token(db, "agent")
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret-key-0123456789", HOTLINE_ENV="test")
    env.pop("REDIS_URL", None)
    p_svc, p_bare = free_port(), free_port()
    print("[2/4] starting the service and the bare endpoint (the first start may train the classifier)…",
          flush=True)
    # Server logs go to files: an undrained pipe would stall the servers.
    svc = start(["serve", "--port", str(p_svc)], env, log_path="/tmp/bench-intake-service.log")
    bare = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_app.py"), url, str(p_bare)], cwd=ROOT,
                            stdout=open("/tmp/bench-intake-bare.log", "w"), stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{p_svc}/api/v1/workflow", svc, timeout=180)
        wait_http(f"http://127.0.0.1:{p_bare}/ping", bare, timeout=60)

        texts = BURST_TEXTS if args.burst else shipped_texts()

        def body():
            subject, desc = random.choice(texts)
            return {"channel": "phone", "caller": {"name": "测试", "phone": f"138{random.randint(0, 99999999):08d}"},
                    "subject": subject, "description": desc, "address": random.choice(ADDRESSES)}

        results = {"service": [], "bare": []}
        print(f"[3/4] {args.rounds} alternating rounds of {args.seconds:.0f} s with {args.clients} clients each",
              flush=True)
        for r in range(args.rounds):
            for label, target, headers in (
                ("service", f"http://127.0.0.1:{p_svc}/api/v1/tickets", {"Authorization": f"Bearer {tok}"}),
                ("bare", f"http://127.0.0.1:{p_bare}/insert", {}),
            ):
                n, lat, errors = drive(target, headers, args.seconds, args.clients, body)
                results[label].append((n, lat, errors))
                print(f"  round {r + 1} {label:<8} {n / args.seconds:8.1f} req/s  p50 {pct(lat, .5):6.1f} ms  "
                      f"p95 {pct(lat, .95):6.1f} ms  errors {errors}", flush=True)
        print("[4/4] summary", flush=True)
        rate = {k: sum(n for n, _, _ in v) / (args.seconds * len(v)) for k, v in results.items()}
        lats = {k: [x for _, lat, _ in v for x in lat] for k, v in results.items()}
        for k in ("service", "bare"):
            print(f"  {k:<8} {rate[k]:8.1f} per s   p50 {pct(lats[k], .5):6.1f} ms   p95 {pct(lats[k], .95):6.1f} ms   "
                  f"errors {sum(e for _, _, e in results[k])}")
        print(f"  service / bare = {rate['service'] / rate['bare']:.2f}")
        with db.session() as s:
            stored = s.execute(text("select count(*) from tickets")).scalar()
        print(f"  tickets stored: {stored} (each with its events, classified and routed)")
    finally:
        for p in (svc, bare):
            stop(p)
        db.dispose()


if __name__ == "__main__":
    main()
