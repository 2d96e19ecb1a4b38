"""Fixtures for the adapters: the hotline served on a loopback port (so the
simulators can call its webhooks), the peer simulators, and an rq worker in
a subprocess of its own."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from integrations import outbox, peers
from integrations.simulate import Mode, PeerSimulator

ROOT = Path(__file__).resolve().parents[2]
FIGURES = Path(os.environ.get("HOTLINE_FAULT_FIGURES", "/tmp/hotline_fault_figures.jsonl"))


def wait_for(pred, timeout: float = 30.0, every: float = 0.1, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(autouse=True)
def _fast_outbox():
    """Short backoff for in-process delivery; the real defaults are minutes."""
    outbox.set_policy(outbox.Policy(max_attempts=4, base_delay=0.05, max_delay=0.5, connect_timeout=1.0,
                                    read_timeout=3.0, lease=5.0, sweep_every=1))
    yield
    outbox.set_policy(None)
    for p in ("police110", "governance"):
        peers.override(p, None)


@pytest.fixture
def live_url(app):
    """The app served over real HTTP on a random loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _sim(peer: str, hotline: str = "", **mode) -> PeerSimulator:
    sim = PeerSimulator(peer, hotline, 0, mode=Mode(**mode)).start()
    peers.override(peer, sim.url)
    return sim


@pytest.fixture
def sim110(live_url):
    sim = _sim("police110", live_url, reply_delay=0.05)
    yield sim
    sim.stop()


@pytest.fixture
def simgov(live_url):
    sim = _sim("governance", live_url, reply_delay=0.05)
    yield sim
    sim.stop()


class Worker:
    """``python -m hotline worker`` in its own process group (so a SIGKILL
    takes its forked work-horse with it, like a machine going away)."""

    def __init__(self, env: dict, log_path: Path):
        self.env, self.log_path, self.proc = env, log_path, None

    def start(self) -> "Worker":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hotline", "worker"], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def tree(self) -> list[int]:
        """The worker and its descendants (rq's work-horse calls setsid(),
        so it is not in the worker's process group)."""
        if not self.proc:
            return []
        parents: dict[int, list[int]] = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                parents.setdefault(ppid, []).append(int(d.name))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(parents.get(pid, []))
        return out

    def kill(self, sig=signal.SIGKILL) -> None:
        """Send ``sig`` to the worker and every process it started."""
        if self.proc and self.proc.poll() is None:
            for pid in self.tree():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM if self.proc and self.proc.poll() is None else signal.SIGKILL)
        self.log.close()


@pytest.fixture
def worker_env(database_url, redis_url, redis_conn):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_PEER_URL_", "HOTLINE_OUTBOX_"))}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY="test-secret-key-0123456789",
               HOTLINE_OUTBOX_BASE_DELAY_MS="300", HOTLINE_OUTBOX_SWEEP_SECONDS="1",
               HOTLINE_OUTBOX_LEASE_SECONDS="4", HOTLINE_OUTBOX_MAX_ATTEMPTS="40",
               HOTLINE_OUTBOX_READ_TIMEOUT="2", PYTHONPATH=str(ROOT))
    return env


@pytest.fixture
def start_worker(worker_env, tmp_path):
    started: list[Worker] = []

    def start(**extra_env) -> Worker:
        w = Worker({**worker_env, **extra_env}, tmp_path / f"worker{len(started)}.log").start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
    for w in started:
        sys.stdout.write(f"\n--- {w.log_path.name} (tail) ---\n")
        sys.stdout.write(w.log_path.read_text(errors="replace")[-3000:])
