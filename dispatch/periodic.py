"""Periodic jobs, declared in code.

With Redis they are registered with rq's cron (idempotently, at worker
start); on the embedded default a daemon thread in the web process runs
them.  Each one is a safety net for work that is also enqueued precisely
(a lost Redis job must not lose a deadline or a message)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from models import Database

log = logging.getLogger(__name__)

# (name, function path, interval in seconds).  Filled in by the subsystems
# that own the work (SLA sweep, outbox sweep, nightly retraining).
PERIODIC: list[tuple[str, str, int]] = []


def declare(name: str, func_path: str, every_seconds: int) -> None:
    if all(n != name for n, _, _ in PERIODIC):
        PERIODIC.append((name, func_path, every_seconds))


def _resolve(path: str) -> Callable:
    import importlib

    mod, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(mod), attr)


def cron_scheduler(redis_conn):
    """rq's CronScheduler with every declared periodic job."""
    _import_declarers()
    from rq.cron import CronScheduler

    from dispatch.jobs import QUEUE_DEFAULT

    sched = CronScheduler(connection=redis_conn, name=f"hotline-{threading.get_native_id()}-{time.time():.0f}")
    for name, path, every in PERIODIC:
        sched.register(_resolve(path), QUEUE_DEFAULT, interval=every, name=name)
    # Nightly retraining from people's corrections, at 03:00 Beijing time
    # (19:00 UTC).  Only with Redis: on the embedded default a minute of
    # training inside the web process is not worth it; admins retrain on
    # demand from the console instead.
    from classifier.jobs import nightly_retrain

    from dispatch.jobs import QUEUE_TRAINING

    sched.register(nightly_retrain, QUEUE_TRAINING, cron="0 19 * * *", name="classifier-nightly-retrain")
    return sched


def start_cron_thread(redis_conn) -> threading.Thread:
    """Run rq's cron beside a worker.  Several workers may each run one: the
    periodic jobs are sweeps, idempotent by design, so a doubled run costs a
    query and changes nothing."""
    sched = cron_scheduler(redis_conn)

    def loop():
        while True:
            try:
                sched.enqueue_jobs()
                time.sleep(max(1.0, sched.calculate_sleep_interval()))
            except Exception:
                log.exception("cron loop failed; retrying in 10 s")
                time.sleep(10)

    t = threading.Thread(target=loop, name="hotline-cron", daemon=True)
    t.start()
    log.info("periodic jobs on rq cron: %s", [n for n, _, _ in PERIODIC])
    return t


def _import_declarers() -> None:
    for mod in ("dispatch.sweeps", "integrations.outbox", "dispatch.figures", "integrations.emergency"):
        try:
            __import__(mod)
        except ImportError:
            pass


def start_in_process(db: Database, tick: float = 5.0) -> threading.Thread:
    """Embedded default: run the periodic jobs from a daemon thread."""
    _import_declarers()
    last: dict[str, float] = {}

    def loop():
        while True:
            now = time.monotonic()
            for name, path, every in PERIODIC:
                if now - last.get(name, -every) >= every:
                    last[name] = now
                    try:
                        _resolve(path)()
                    except Exception:
                        log.exception("periodic job %s failed", name)
            time.sleep(tick)

    t = threading.Thread(target=loop, name="hotline-periodic", daemon=True)
    t.start()
    return t
