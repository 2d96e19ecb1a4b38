"""Two web processes and a worker share PostgreSQL and Redis: a change made
through one process reaches a browser connected to the other (Socket.IO over
the Redis message queue).  Real processes, real sockets."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import requests
import socketio as sio

from tests.helpers import ROOT, WAGES, free_port, start, stop, token, wait_http


@contextmanager
def listening(base, db, username):
    """A Socket.IO client on ``base`` as ``username``; yields the notices it receives."""
    received: list = []
    client = sio.Client(reconnection=False)
    client.on("ticket.changed", lambda msg: received.append(msg))
    client.connect(base, auth={"token": token(db, username)}, transports=["polling"], wait_timeout=10)
    try:
        yield received
    finally:
        client.disconnect()


def wait_until(check, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline and not check():
        time.sleep(0.2)


@pytest.fixture
def two_servers(seeded_db, database_url, redis_url, redis_conn):
    from tests.helpers import ensure_models

    ensure_models()  # the model files exist before the servers load them
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
            stop(proc)


def test_change_through_one_process_reaches_a_browser_on_the_other(two_servers, seeded_db):
    (a, b), env = two_servers
    with listening(b, seeded_db, "gy_rsj") as received:
        subject, body = WAGES
        r = requests.post(f"{a}/api/v1/tickets", json={"subject": subject, "description": body,
                                                       "category": "劳动和社会保障"},
                          headers={"Authorization": f"Bearer {token(seeded_db, 'agent')}"}, timeout=30)
        assert r.status_code == 201, r.text
        number = r.json()["number"]
        wait_until(lambda: any(m["ticket"]["number"] == number for m in received))
        assert any(m["ticket"]["number"] == number and m["event"]["action"] == "dispatch" for m in received)


def test_worker_emits_reach_browsers(two_servers, seeded_db, redis_url):
    """A job run by the rq worker publishes through the Redis queue too."""
    (a, b), env = two_servers
    from rq import Queue
    import redis

    with listening(b, seeded_db, "gy_rsj") as received:
        conn = redis.Redis.from_url(redis_url)
        Queue("default", connection=conn).enqueue("tests.jobs_for_tests.publish_probe", "probe-42")
        worker = subprocess.run([sys.executable, "-m", "hotline", "worker", "--burst"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stdout + worker.stderr
        wait_until(lambda: bool(received), seconds=10)
        assert any(m["ticket"]["number"] == "probe-42" for m in received)
