"""Two web processes and a worker share PostgreSQL and Redis: a change made
through one process reaches a browser connected to the other (Socket.IO over
the Redis message queue).  Real processes, real sockets."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import socketio as sio

from tests.helpers import WAGES, token

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


@pytest.fixture
def two_servers(seeded_db, database_url, redis_url, redis_conn):
    from classifier import get_predictor

    get_predictor()  # the model file exists before the servers load it
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url,
               SECRET_KEY="multiprocess-test-secret-key", HOTLINE_ENV="test")
    ports = [free_port(), free_port()]
    procs = [start(["serve", "--port", str(p)], env) for p in ports]
    try:
        for p, proc in zip(ports, procs):
            wait_http(f"http://127.0.0.1:{p}/api/v1/workflow", proc)
        yield [f"http://127.0.0.1:{p}" for p in ports], env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_change_through_one_process_reaches_a_browser_on_the_other(two_servers, seeded_db):
    (a, b), env = two_servers
    received = []
    client = sio.Client(reconnection=False)
    client.on("ticket.changed", lambda msg: received.append(msg))
    client.connect(b, auth={"token": token(seeded_db, "gy_rsj")}, transports=["polling"], wait_timeout=10)
    try:
        subject, body = WAGES
        r = requests.post(f"{a}/api/v1/tickets", json={"subject": subject, "description": body,
                                                       "category": "劳动和社会保障"},
                          headers={"Authorization": f"Bearer {token(seeded_db, 'agent')}"}, timeout=30)
        assert r.status_code == 201, r.text
        number = r.json()["number"]
        deadline = time.time() + 15
        while time.time() < deadline and not any(m["ticket"]["number"] == number for m in received):
            time.sleep(0.2)
        assert any(m["ticket"]["number"] == number and m["event"]["action"] == "dispatch" for m in received)
    finally:
        client.disconnect()


def test_worker_emits_reach_browsers(two_servers, seeded_db, redis_url):
    """A job run by the rq worker publishes through the Redis queue too."""
    (a, b), env = two_servers
    from rq import Queue
    import redis

    received = []
    client = sio.Client(reconnection=False)
    client.on("ticket.changed", lambda msg: received.append(msg))
    client.connect(b, auth={"token": token(seeded_db, "gy_rsj")}, transports=["polling"], wait_timeout=10)
    try:
        conn = redis.Redis.from_url(redis_url)
        Queue("default", connection=conn).enqueue("tests.jobs_for_tests.publish_probe", "probe-42")
        worker = subprocess.run([sys.executable, "-m", "hotline", "worker", "--burst"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        deadline = time.time() + 10
        while time.time() < deadline and not received:
            time.sleep(0.2)
        assert any(m["ticket"]["number"] == "probe-42" for m in received)
    finally:
        client.disconnect()
