"""Loopback simulators of the hotline's peers, for demos and tests.

    python -m integrations.simulate police110  [--port 8110] [--hotline URL] [--fail N] [--slow S] …
    python -m integrations.simulate governance [--port 8120] …
    python -m integrations.simulate telephony  --agent agent [--row N]
    python -m integrations.simulate redis-freeze --pid PID --seconds S
    python -m integrations.simulate db-drop --database-url URL --rounds N --every S

(``--help`` lists every fault it can play.)

``police110`` and ``governance`` are real HTTP servers (``POST /messages``)
that check our signature, acknowledge (an incident number / event id), drop
duplicates by ``Idempotency-Key`` (answering with the first response) and,
a moment later, send signed feedback / status webhooks back to the hotline.
They can be told — at start or live through ``POST /_sim/mode`` — to be
slow, to fail with 5xx, to drop connections, or to sign badly.  ``GET
/_sim/state`` shows what arrived: every delivery, the unique messages and
the duplicates.  ``telephony`` replays a call (ringing, answered, transcript
segments of a real message from the shared complaints data, ended).

Secrets: ``HOTLINE_WEBHOOK_SECRET_<PEER>`` or the demo secrets of
``integrations.signing`` — the same ones the hotline uses by default.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import logging
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from integrations import signing

log = logging.getLogger("integrations.simulate")
_numbers = itertools.count(1)


class Mode:
    """What the simulator does to the next requests (thread-safe enough:
    plain attribute writes)."""

    def __init__(self, fail: int = 0, down: bool = False, slow: float = 0.0, drop: int = 0,
                 bad_signature: bool = False, auto_reply: bool = True, reply_delay: float = 0.2,
                 webhook_retry_for: float = 600.0, slow_count: int = -1):
        self.fail, self.down, self.slow, self.drop = fail, down, slow, drop
        self.bad_signature, self.auto_reply, self.reply_delay = bad_signature, auto_reply, reply_delay
        # Real peers (110, 综治 platforms) keep retrying a webhook for
        # minutes while the hotline restarts; so does the simulator.
        self.webhook_retry_for = webhook_retry_for
        # How many requests ``slow`` applies to (-1: all of them).
        self.slow_count = slow_count

    def as_dict(self) -> dict:
        return dict(vars(self))


class PeerSimulator:
    """A 110 alarm desk or a 综治 platform on loopback."""

    def __init__(self, peer: str, hotline_url: str = "", port: int = 0, secret: str | None = None,
                 mode: Mode | None = None):
        if peer not in ("police110", "governance"):
            raise ValueError(f"no simulator for {peer}")
        self.peer = peer
        self.hotline_url = hotline_url.rstrip("/")
        self.secret = secret or signing.secret_for(peer) or ""
        self.mode = mode or Mode()
        self.lock = threading.Lock()
        self.deliveries: list[dict] = []          # every request that reached the handler
        self.responses: dict[str, dict] = {}      # Idempotency-Key → first response
        self.refused: list[str] = []              # why requests were refused
        self.webhooks_sent: list[dict] = []
        self.arrivals = 0                         # requests that reached /messages, answered or not
        self.webhook_tries = 0                    # POSTs of webhooks to the hotline, retries included
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PeerSimulator":
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"sim-{self.peer}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def go_away(self) -> None:
        """Stop listening: the hotline's connections are refused (a peer
        whose machine is down, not one answering 503)."""
        self._port = self.server.server_address[1]
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port."""
        self.server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        self.server.daemon_threads = True
        self.start()

    def play(self, down_for: float = 0.0, unreachable_for: float = 0.0) -> None:
        """Timed faults for the command line: 503 for ``down_for`` seconds,
        then refuse connections for ``unreachable_for`` seconds; then answer."""
        if down_for:
            self.mode.down = True
            log.info("%s: answering 503 for %.0f s", self.peer, down_for)
            time.sleep(down_for)
            self.mode.down = False
            log.info("%s: answering again", self.peer)
        if unreachable_for:
            log.info("%s: not listening for %.0f s", self.peer, unreachable_for)
            self.go_away()
            time.sleep(unreachable_for)
            self.come_back()
            log.info("%s: listening again on %s", self.peer, self.url)

    # -------------------------------------------------------------- figures
    def state(self) -> dict:
        with self.lock:
            keys = [d["key"] for d in self.deliveries if d["accepted"]]
            return {"peer": self.peer, "mode": self.mode.as_dict(), "delivered": len(keys),
                    "unique": len(set(keys)), "duplicates": len(keys) - len(set(keys)),
                    "refused": len(self.refused), "webhooks_sent": len(self.webhooks_sent),
                    "arrivals": self.arrivals}

    def unique_keys(self) -> set[str]:
        with self.lock:
            return {d["key"] for d in self.deliveries if d["accepted"]}

    # -------------------------------------------------------------- receiving
    def _handler(self):
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                log.debug("%s %s", sim.peer, fmt % args)

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The sender stopped waiting (its read timeout): the
                    # message was processed all the same, as at a real peer.
                    self.close_connection = True

            def do_GET(self):
                if self.path == "/_sim/state":
                    return self._send(200, sim.state())
                if self.path == "/health":
                    # What the hotline's health probe asks.
                    if sim.mode.down:
                        return self._send(503, {"status": "down (simulated)"})
                    return self._send(200, {"status": "ok"})
                return self._send(404, {"error": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path == "/_sim/mode":
                    try:
                        for k, v in json.loads(body or b"{}").items():
                            if hasattr(sim.mode, k):
                                setattr(sim.mode, k, type(getattr(sim.mode, k))(v))
                    except (ValueError, TypeError, AttributeError) as e:
                        return self._send(400, {"error": str(e)})
                    return self._send(200, sim.mode.as_dict())
                if self.path != "/messages":
                    return self._send(404, {"error": "not found"})
                with sim.lock:
                    sim.arrivals += 1
                m = sim.mode
                if m.drop > 0:
                    m.drop -= 1
                    # Hang up without answering (the sender sees a dropped connection).
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return None
                if m.slow and m.slow_count != 0:
                    if m.slow_count > 0:
                        m.slow_count -= 1
                    time.sleep(m.slow)
                if m.down or m.fail > 0:
                    if m.fail > 0:
                        m.fail -= 1
                    with sim.lock:
                        sim.deliveries.append({"key": self.headers.get("Idempotency-Key"), "accepted": False})
                    return self._send(503, {"error": "service unavailable (simulated)"})
                try:
                    signing.verify(sim.secret, self.headers, body)
                except signing.SignatureError as e:
                    sim.refused.append(str(e))
                    return self._send(401, {"error": "bad signature"})
                key = self.headers.get("Idempotency-Key") or ""
                if key != self.headers.get(signing.HEADER_MESSAGE_ID):
                    sim.refused.append("Idempotency-Key differs from the signed message id")
                    return self._send(400, {"error": "Idempotency-Key must equal the message id"})
                try:
                    msg = json.loads(body)
                except ValueError:
                    return self._send(400, {"error": "invalid json"})
                with sim.lock:
                    sim.deliveries.append({"key": key, "accepted": True, "kind": msg.get("kind")})
                    first = key not in sim.responses
                    if first:
                        sim.responses[key] = sim._answer(msg)
                    resp = sim.responses[key]
                if first and m.auto_reply:
                    threading.Thread(target=sim._follow_up, args=(msg, resp), daemon=True).start()
                return self._send(200 if not first else 201, resp)

        return Handler

    def _answer(self, msg: dict) -> dict:
        n = next(_numbers)
        stamp = time.strftime("%Y%m%d")
        if self.peer == "police110" and msg.get("kind") == "incident.create":
            return {"incident_number": f"JQ{stamp}{n:05d}", "status": "accepted"}
        if self.peer == "governance" and msg.get("kind") == "event.create":
            return {"event_id": f"ZZ{stamp}{n:05d}", "status": "received"}
        return {"status": "received"}

    # -------------------------------------------------------------- sending
    def send_webhook(self, data: dict, message_id: str | None = None, bad_signature: bool | None = None,
                     age: float = 0.0, retry_for: float | None = None) -> tuple[int, dict]:
        """POST a signed message to the hotline; retried on 5xx and
        connection errors with the same message id (a 409 then means
        "already had it") for ``retry_for`` seconds (default the mode's
        ``webhook_retry_for``), backing off from 0.2 s to 5 s."""
        body = json.dumps(data, ensure_ascii=False).encode()
        mid = message_id or f"{self.peer}-{uuid.uuid4().hex}"
        secret = self.secret
        if self.mode.bad_signature if bad_signature is None else bad_signature:
            secret = "not-the-shared-secret"
        deadline = time.monotonic() + (self.mode.webhook_retry_for if retry_for is None else retry_for)
        status, out, delay, tries = 0, {}, 0.2, 0
        while True:
            tries += 1
            with self.lock:
                self.webhook_tries += 1
            headers = {"Content-Type": "application/json",
                       **signing.signed_headers(secret, body, mid, now=time.time() - age)}
            try:
                r = requests.post(f"{self.hotline_url}/webhooks/{self.peer}", data=body, headers=headers,
                                  timeout=10)
                status = r.status_code
                try:
                    out = r.json()
                except ValueError:
                    out = {"text": r.text[:300]}
                if status < 500:
                    break
            except requests.RequestException as e:
                status, out = 0, {"error": str(e)}
            if time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(5.0, delay * 2)
        with self.lock:
            self.webhooks_sent.append({"message_id": mid, "type": data.get("type"), "status": status,
                                       "tries": tries})
        return status, out

    def _follow_up(self, msg: dict, resp: dict) -> None:
        if not self.hotline_url:
            return
        time.sleep(self.mode.reply_delay)
        p = msg.get("payload") or {}
        number = (p.get("ticket") or {}).get("number")
        if self.peer == "police110" and msg.get("kind") == "incident.create" and number:
            self.send_webhook({"type": "feedback", "ticket_number": number,
                               "incident_number": resp["incident_number"], "status": "handled",
                               "result": "民警已到场处置，当事人已带回派出所调查。"})
        elif self.peer == "governance" and msg.get("kind") == "event.create" and number:
            eid = resp["event_id"]
            for status, note in (("assigned", "已分派网格员"), ("handling", "网格员已到现场")):
                self.send_webhook({"type": "status", "event_id": eid, "ticket_number": number,
                                   "status": status, "note": note})
                time.sleep(self.mode.reply_delay)
            self.send_webhook({"type": "status", "event_id": eid, "ticket_number": number, "status": "closed",
                               "result": "经网格员现场调解，双方达成一致，隐患已整改完毕。"})

    def transfer(self, item: str, description: str, caller_phone: str = "", address: str = "",
                 incident_number: str | None = None) -> tuple[int, dict]:
        """110 → 12345: push a non-police matter."""
        return self.send_webhook({"type": "transfer", "incident_number": incident_number or
                                  f"JQ{time.strftime('%Y%m%d')}{next(_numbers):05d}", "item": item,
                                  "description": description, "caller": {"name": "", "phone": caller_phone},
                                  "address": address})


# ------------------------------------------------------------------ telephony
def sample_message(row: int = 0) -> tuple[str, str]:
    """(subject, body) of a real citizen message: the sample the project ships
    (data/complaints/calls_sample.csv.gz), else the shared unlabelled.csv."""
    from hotline.seed import DATA

    shipped = DATA / "complaints" / "calls_sample.csv.gz"
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "complaints" / "unlabelled.csv"
    for path in (shipped, shared):
        if path.exists():
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8", newline="") as f:
                for i, r in enumerate(csv.DictReader(f)):
                    if i >= row and 20 <= len(r["body"]) <= 400:
                        return r["subject"], r["body"]
    raise FileNotFoundError(f"no call sample: {shipped} is missing")


def split_segments(text: str) -> list[str]:
    parts = [p for p in re.split(r"(?<=[。！？!?；;，,])", text) if p.strip()]
    # Recognisers emit phrases, not single commas: join short pieces.
    out: list[str] = []
    for p in parts:
        if out and len(out[-1]) < 12:
            out[-1] += p
        else:
            out.append(p)
    return out


class TelephonySimulator:
    """Replays a call to the hotline's telephony webhook."""

    def __init__(self, hotline_url: str, secret: str | None = None):
        self.sender = PeerSimulator.__new__(PeerSimulator)
        self.sender.peer, self.sender.hotline_url = "telephony", hotline_url.rstrip("/")
        self.sender.secret = secret or signing.secret_for("telephony") or ""
        self.sender.mode, self.sender.lock, self.sender.webhooks_sent = Mode(), threading.Lock(), []
        self.sender.webhook_tries = 0

    def send(self, data: dict, **kw) -> tuple[int, dict]:
        return PeerSimulator.send_webhook(self.sender, data, **kw)

    def replay(self, agent: str, caller_phone: str, text: str, call_id: str | None = None,
               delay: float = 0.0, recording_ref: str = "") -> str:
        call_id = call_id or f"call-{uuid.uuid4().hex[:12]}"
        self.send({"type": "call.ringing", "call_id": call_id, "caller_phone": caller_phone, "agent": agent})
        time.sleep(delay)
        self.send({"type": "call.answered", "call_id": call_id, "agent": agent})
        self.send({"type": "transcript", "call_id": call_id, "seq": 0, "speaker": "agent", "final": True,
                   "text": "您好，12345政务服务便民热线，请讲。"})
        for i, seg in enumerate(split_segments(text), start=1):
            time.sleep(delay)
            self.send({"type": "transcript", "call_id": call_id, "seq": i, "text": seg, "final": True,
                       "speaker": "caller"})
        self.send({"type": "call.ended", "call_id": call_id,
                   "recording_ref": recording_ref or f"rec://{call_id}.wav"})
        return call_id


def freeze_redis(pid: int, seconds: float) -> None:
    """SIGSTOP a redis-server for ``seconds``: it accepts connections and
    answers nothing, like a stuck or swapping Redis; then SIGCONT."""
    import os
    import signal

    os.kill(pid, signal.SIGSTOP)
    print(f"redis-server {pid} frozen for {seconds:g} s", flush=True)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
        print(f"redis-server {pid} running again", flush=True)


def drop_db_connections(database_url: str, rounds: int, every: float) -> int:
    """pg_terminate_backend on every client connection to the database of
    ``database_url`` (but our own), ``rounds`` times, ``every`` seconds
    apart: what a fail-over or a proxy restart does to the service."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    total = 0
    try:
        for i in range(rounds):
            if i:
                time.sleep(every)
            with engine.connect() as c:
                n = c.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                   "datname = current_database() AND pid <> pg_backend_pid() "
                                   "AND backend_type = 'client backend'")).scalar()
            total += n
            print(f"round {i + 1}: terminated {n} connection(s)", flush=True)
    finally:
        engine.dispose()
    return total


FAULTS = """faults this command can play:
  peer answers 503 until told otherwise   police110 --down   (live: POST /_sim/mode {"down": false})
  peer down for a while, then back        police110 --down-for 120
  peer not listening, then back           police110 --unreachable-for 60
  peer slower than the read timeout       police110 --slow 15   (--slow-count N: only the next N)
  peer hangs up without answering         police110 --drop 5
  peer answers 503 N times                police110 --fail 3
  peer signs its webhooks wrongly         police110 --bad-signature
  hotline away while the peer reports     police110 --webhook-retry-for 600 (the default: 10 minutes)
  Redis frozen                            redis-freeze --pid $(pidof redis-server) --seconds 20
  database connections dropped            db-drop --database-url postgresql://… --rounds 6 --every 5
"""


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    p = argparse.ArgumentParser(prog="python -m integrations.simulate", description="联动对接方模拟器与故障演练",
                                epilog=FAULTS, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("peer", choices=("police110", "governance", "telephony", "redis-freeze", "db-drop"))
    p.add_argument("--hotline", default="http://127.0.0.1:5000", help="the hotline's base URL")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--fail", type=int, default=0, help="answer the next N messages with 503")
    p.add_argument("--down", action="store_true", help="answer every message with 503 until told otherwise")
    p.add_argument("--down-for", type=float, default=0.0, help="answer 503 for S seconds, then recover")
    p.add_argument("--unreachable-for", type=float, default=0.0,
                   help="stop listening for S seconds (connections refused), then listen again")
    p.add_argument("--slow", type=float, default=0.0, help="seconds to wait before answering")
    p.add_argument("--slow-count", type=int, default=-1, help="only the next N requests are slow (-1: all)")
    p.add_argument("--drop", type=int, default=0, help="hang up on the next N messages")
    p.add_argument("--bad-signature", action="store_true", help="sign webhooks with a wrong secret")
    p.add_argument("--webhook-retry-for", type=float, default=600.0,
                   help="keep retrying a webhook the hotline does not take for S seconds")
    p.add_argument("--agent", default="agent", help="telephony: the agent who takes the call")
    p.add_argument("--caller", default="13812345678", help="telephony: the caller's number")
    p.add_argument("--row", type=int, default=0, help="telephony: which message of unlabelled.csv to replay")
    p.add_argument("--delay", type=float, default=0.8, help="telephony: seconds between segments")
    p.add_argument("--pid", type=int, default=0, help="redis-freeze: the redis-server's process id")
    p.add_argument("--seconds", type=float, default=20.0, help="redis-freeze: how long")
    p.add_argument("--database-url", default="", help="db-drop: the service's PostgreSQL database")
    p.add_argument("--rounds", type=int, default=6, help="db-drop: how many times")
    p.add_argument("--every", type=float, default=5.0, help="db-drop: seconds between rounds")
    a = p.parse_args(argv)
    if a.peer == "telephony":
        subject, body = sample_message(a.row)
        call_id = TelephonySimulator(a.hotline).replay(a.agent, a.caller, body, delay=a.delay)
        print(f"replayed call {call_id}: {subject}")
        return 0
    if a.peer == "redis-freeze":
        if not a.pid:
            p.error("redis-freeze needs --pid")
        freeze_redis(a.pid, a.seconds)
        return 0
    if a.peer == "db-drop":
        if not a.database_url:
            p.error("db-drop needs --database-url")
        drop_db_connections(a.database_url, a.rounds, a.every)
        return 0
    from integrations.peers import DEMO_URLS

    port = a.port if a.port is not None else int(DEMO_URLS[a.peer].rsplit(":", 1)[1])
    sim = PeerSimulator(a.peer, a.hotline, port, mode=Mode(
        fail=a.fail, down=a.down, slow=a.slow, drop=a.drop, bad_signature=a.bad_signature, reply_delay=1.0,
        webhook_retry_for=a.webhook_retry_for, slow_count=a.slow_count))
    print(f"{a.peer} simulator on {sim.url} (messages at {sim.url}/messages, state at {sim.url}/_sim/state)",
          flush=True)
    try:
        sim.start()
        sim.play(a.down_for, a.unreachable_for)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
