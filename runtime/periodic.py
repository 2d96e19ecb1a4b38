"""Running the periodic jobs.

The list of jobs (name, function, interval or cron, timeout, queue) is
owned by the composition root, hotline/wiring.py; this module only runs a
list it is given.  With Redis they are registered with rq's cron (at worker
start; several workers each registering them is harmless, see below); on the
embedded default a daemon thread in the web process runs the ones marked
``in_process``.  Each interval job is a safety net for work that is also
enqueued precisely (a lost Redis job must not lose a deadline or a message).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from runtime.jobs import QUEUE_DEFAULT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: Callable[[], object]
    every: int | None = None        # seconds between runs
    cron: str | None = None         # or a cron expression (UTC)
    timeout: int = 300              # seconds an rq run may take before it is killed
    queue: str = QUEUE_DEFAULT
    # Also run by the embedded default's thread (no Redis).  A minute of
    # classifier training inside the web process is not worth it there.
    in_process: bool = True

    def describe(self) -> dict:
        return {"name": self.name, "func": f"{self.func.__module__}.{self.func.__qualname__}",
                "every": self.every, "cron": self.cron, "timeout": self.timeout, "queue": self.queue,
                "in_process": self.in_process}


def cron_scheduler(redis_conn, jobs: Iterable[PeriodicJob]):
    """rq's CronScheduler with every periodic job."""
    from rq.cron import CronScheduler

    sched = CronScheduler(connection=redis_conn, name=f"hotline-{threading.get_native_id()}-{time.time():.0f}")
    for j in jobs:
        sched.register(j.func, j.queue, interval=j.every, cron=j.cron, job_timeout=j.timeout, name=j.name)
    return sched


def start_cron_thread(redis_conn, jobs: Iterable[PeriodicJob]) -> threading.Thread:
    """Run rq's cron beside a worker.  Several workers may each run one: the
    periodic jobs are sweeps, idempotent by design, so a doubled run costs a
    query and changes nothing."""
    jobs = list(jobs)
    sched = cron_scheduler(redis_conn, jobs)

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
    log.info("periodic jobs on rq cron: %s", [j.name for j in jobs])
    return t


def start_in_process(jobs: Iterable[PeriodicJob], tick: float = 5.0) -> threading.Thread:
    """Embedded default: run the periodic jobs from a daemon thread."""
    jobs = [j for j in jobs if j.in_process and j.every]
    last: dict[str, float] = {}

    def loop():
        while True:
            now = time.monotonic()
            for j in jobs:
                if now - last.get(j.name, -j.every) >= j.every:
                    last[j.name] = now
                    try:
                        j.func()
                    except Exception:
                        log.exception("periodic job %s failed", j.name)
            time.sleep(tick)

    t = threading.Thread(target=loop, name="hotline-periodic", daemon=True)
    t.start()
    return t
