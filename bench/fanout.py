"""Open consoles and live fan-out: the production server beside `serve`.

Starts each server in turn on the same fresh PostgreSQL database (and the
same Redis message queue when REDIS_URL or --redis-url is given), opens
Socket.IO consoles (WebSocket, authenticated as the department gy_rsj, so
they all watch one unit) in steps up to the largest level, and at each
level prints:

- connected / asked, and lost: notices a connected console never received;
- fan-out p50 / p95 / max: from the moment a supervisor POSTs a change
  (督办, ``actions/supervise``, on one of the department's tickets) until each
  console holds its notice; timed from the request, so it includes the
  write itself;
- GET p50 / p95 of a plain request (``/api/v1/workflow``) and p50 of a
  database read (``/api/v1/tickets``), 8 HTTP clients at once;
- CPU/督办: the server process's CPU time (user + system) per 督办 write
  and its fan-out, and the machine's load average: on a shared machine the
  wall-clock figures depend on how much CPU the server was given, the CPU
  time much less;
- POST p50 / p95 of ticket intake (``POST /api/v1/tickets`` as an agent,
  routed to that department: each one is also fanned out), one at a time,
  and the p50 of the 督办 writes.

    python bench/fanout.py [--levels 0,10,1000,2000] [--posts 10]
        [--servers production,serve] [--redis-url redis://127.0.0.1:6379/11]
        [--admin-url postgresql+psycopg://postgres@127.0.0.1/postgres]

The clients live in this one process on gevent (a greenlet per console), so
on a small machine they compete with the server for the CPU: the figures are
an upper bound on what the server alone would show.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import requests  # noqa: E402
import websocket  # noqa: E402  (websocket-client)
from sqlalchemy import create_engine, text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import WAGES, free_port, start, stop, token, wait_http  # noqa: E402

SERVERS = {
    "production": ["serve", "--production"],
    "serve": ["serve"],
}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


class Console:
    """One open console: a minimal Socket.IO (protocol 5) client over a raw
    WebSocket, recording when each 督办 notice arrived.  Kept this thin so
    that the clients' own CPU weighs little in the figures: python-socketio's
    client costs several times more per message."""

    def __init__(self, base: str, tok: str):
        self.url = base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.tok = tok
        self.arrived: dict[str, float] = {}  # 督办 reason -> when its notice arrived
        self.ws = None
        self.connected = False

    def open(self) -> bool:
        try:
            ws = websocket.create_connection(self.url, timeout=60)
            if not ws.recv().startswith("0"):  # Engine.IO open
                ws.close()
                return False
            ws.send("40" + json.dumps({"token": self.tok}))  # Socket.IO connect with auth
            if not ws.recv().startswith("40"):  # 44 = refused
                ws.close()
                return False
            ws.settimeout(None)
        except Exception:
            return False
        self.ws, self.connected = ws, True
        gevent.spawn(self._read)
        return True

    def _read(self) -> None:
        try:
            while True:
                msg = self.ws.recv()
                now = time.perf_counter()
                if not msg:
                    break
                if msg == "2":  # the server's ping
                    self.ws.send("3")
                elif msg.startswith('42["ticket.changed"'):
                    event = json.loads(msg[2:])[1].get("event", {})
                    if event.get("action") == "supervise":
                        self.arrived.setdefault(event.get("reason"), now)
        except Exception:
            pass
        self.connected = False

    def close(self) -> None:
        self.connected = False
        try:
            self.ws.close()
        except Exception:
            pass


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_latencies(url: str, headers: dict, clients: int = 8, each: int = 25) -> list[float]:
    lat: list[float] = []

    def worker():
        s = requests.Session()
        for _ in range(each):
            t0 = time.perf_counter()
            r = s.get(url, headers=headers, timeout=60)
            lat.append(time.perf_counter() - t0 if r.status_code == 200 else float("inf"))

    gevent.joinall([gevent.spawn(worker) for _ in range(clients)])
    return lat


def intake(s: requests.Session, base: str, agent_tok: str, note: str) -> tuple[float, dict]:
    subject, body = WAGES
    t0 = time.perf_counter()
    r = s.post(f"{base}/api/v1/tickets", json={"subject": subject, "description": f"{body}（{note}）",
                                               "category": "劳动和社会保障", "channel": "phone",
                                               "caller": {"name": "测试", "phone": "13800000000"}},
               headers={"Authorization": f"Bearer {agent_tok}"}, timeout=60)
    took = time.perf_counter() - t0
    if r.status_code != 201:
        raise RuntimeError(f"intake failed: {r.status_code} {r.text[:300]}")
    return took, r.json()


def fanout(base: str, tokens: dict, ticket_id: int, consoles: list[Console], posts: int, wait_s: float, tag: str):
    """``posts`` 督办 writes one after the other; after each, wait until every
    connected console has its notice (or ``wait_s`` passed)."""
    s = requests.Session()
    write_lat, delays, lost = [], [], 0
    for i in range(posts):
        reason = f"bench {tag} #{i + 1}"
        t0 = time.perf_counter()
        r = s.post(f"{base}/api/v1/tickets/{ticket_id}/actions/supervise", json={"reason": reason},
                   headers={"Authorization": f"Bearer {tokens['supervisor']}"}, timeout=60)
        write_lat.append(time.perf_counter() - t0)
        if r.status_code != 200:
            raise RuntimeError(f"supervise failed: {r.status_code} {r.text[:300]}")
        watching = [c for c in consoles if c.connected]
        deadline = time.perf_counter() + wait_s
        while time.perf_counter() < deadline and not all(reason in c.arrived for c in watching):
            gevent.sleep(0.005)
        for c in watching:
            if reason in c.arrived:
                delays.append(c.arrived[reason] - t0)
            else:
                lost += 1
    return write_lat, delays, lost


def run_server(kind: str, url: str, redis_url: str | None, levels: list[int], posts: int, wait_s: float,
               tokens: dict) -> list[dict]:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret-key-0123456789", HOTLINE_ENV="test")
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    port = free_port()
    proc = start([*SERVERS[kind], "--host", "127.0.0.1", "--port", str(port)], env,
                 log_path=f"/tmp/bench-fanout-{kind}.log")
    base = f"http://127.0.0.1:{port}"
    rows: list[dict] = []
    consoles: list[Console] = []
    try:
        wait_http(f"{base}/api/v1/workflow", proc, timeout=180)
        auth = {"Authorization": f"Bearer {tokens['agent']}"}
        get_latencies(f"{base}/api/v1/workflow", {}, clients=2, each=5)  # warm up
        http = requests.Session()
        ticket = intake(http, base, tokens["agent"], f"{kind}: the ticket supervised")[1]
        for level in levels:
            want = level - len(consoles)
            if want > 0:
                t0 = time.perf_counter()
                fresh = [Console(base, tokens["gy_rsj"]) for _ in range(want)]
                pool = gevent.pool.Pool(50)
                pool.map(lambda c: c.open(), fresh)
                consoles.extend(fresh)
                print(f"  {kind}: {sum(c.connected for c in consoles)}/{len(consoles)} consoles open "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
            open_now = sum(c.connected for c in consoles)
            plain = get_latencies(f"{base}/api/v1/workflow", {})
            listing = get_latencies(f"{base}/api/v1/tickets?per_page=20", auth)
            post_lat = [intake(http, base, tokens["agent"], f"{kind} {level} #{i}")[0] for i in range(posts)]
            cpu0 = cpu_seconds(proc.pid)
            write_lat, delays, lost = fanout(base, tokens, ticket["id"], consoles, posts, wait_s, f"{kind} {level}")
            cpu_write = (cpu_seconds(proc.pid) - cpu0) / posts
            row = {"server": kind, "consoles": level, "connected": open_now, "lost": lost,
                   "fan50": pct(delays, .5), "fan95": pct(delays, .95),
                   "fanmax": max(delays) * 1000 if delays else float("nan"),
                   "get50": pct(plain, .5), "get95": pct(plain, .95), "list50": pct(listing, .5),
                   "post50": pct(post_lat, .5), "post95": pct(post_lat, .95), "write50": pct(write_lat, .5),
                   "cpu": cpu_write * 1000, "load": os.getloadavg()[0]}
            rows.append(row)
            print_row(row)
    finally:
        stop(proc)  # the consoles see the server go; closing them one by one is not needed
        gevent.joinall([gevent.spawn(c.close) for c in consoles], timeout=30)
    return rows


HEADER = (f"{'server':<11}{'consoles':>9}{'connected':>10}{'lost':>6}{'fan p50':>9}{'p95':>8}{'max':>8}"
          f"{'GET p50':>9}{'p95':>8}{'list p50':>9}{'POST p50':>10}{'p95':>8}{'督办 p50':>9}{'CPU/督办':>9}{'load':>6}")


def print_row(r: dict) -> None:
    print(f"{r['server']:<11}{r['consoles']:>9}{r['connected']:>10}{r['lost']:>6}{r['fan50']:>9.0f}{r['fan95']:>8.0f}"
          f"{r['fanmax']:>8.0f}{r['get50']:>9.1f}{r['get95']:>8.1f}{r['list50']:>9.1f}{r['post50']:>10.1f}"
          f"{r['post95']:>8.1f}{r['write50']:>10.1f}{r['cpu']:>9.0f}{r['load']:>6.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="0,10,1000,2000", help="console counts to measure at, ascending")
    ap.add_argument("--posts", type=int, default=10, help="tickets posted (and fanned out) at each level")
    ap.add_argument("--wait", type=float, default=10.0, help="seconds a notice may take before it counts as lost")
    ap.add_argument("--servers", default="production,serve")
    ap.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                    help="Socket.IO message queue, as in production (default: $REDIS_URL; empty for none)")
    ap.add_argument("--admin-url", default=os.environ.get("BENCH_ADMIN_URL",
                                                          "postgresql+psycopg://postgres@127.0.0.1/postgres"))
    args = ap.parse_args()
    levels = sorted(int(x) for x in args.levels.split(","))

    name = "hotline_bench_fanout"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    print(f"database {name}; Redis message queue: {args.redis_url or 'none'}", flush=True)
    from hotline.seed import seed_demo
    from models import Database
    from models.migrate import upgrade

    upgrade(url)
    db = Database(url)
    seed_demo(db, password="bench-password")
    tokens = {u: token(db, u) for u in ("agent", "supervisor", "gy_rsj")}
    db.dispose()

    rows = []
    for kind in args.servers.split(","):
        print(f"[{kind}] {' '.join(SERVERS[kind])}", flush=True)
        print(HEADER, flush=True)
        rows += run_server(kind, url, args.redis_url or None, levels, args.posts, args.wait, tokens)
    print("\nsummary (times in ms)")
    print(HEADER)
    for r in rows:
        print_row(r)


if __name__ == "__main__":
    main()
