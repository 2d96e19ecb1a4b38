"""Background jobs: one place for queue names, and one ``enqueue`` that runs
jobs on rq when Redis is configured and inline otherwise (the embedded
default).  Job functions are plain module-level functions taking plain
arguments; they reach the database through ``database()``.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from models import Database

log = logging.getLogger(__name__)

QUEUE_DEFAULT = "default"
QUEUE_OUTBOX = "outbox"
QUEUE_SLA = "sla"
QUEUE_TRAINING = "training"
QUEUES = (QUEUE_OUTBOX, QUEUE_SLA, QUEUE_DEFAULT, QUEUE_TRAINING)

_state: dict = {"redis_url": None, "db": None, "tickets": None}


def configure(redis_url: str | None, db: Database | None = None, tickets=None) -> None:
    """Called by the composition root (hotline/wiring.py) when a process
    starts: where jobs go, the database and the one TicketService that job
    functions use."""
    from runtime import redis_client

    _state["redis_url"] = redis_url
    redis_client.breaker.reset()
    if db is not None:
        _state["db"] = db
    if tickets is not None:
        _state["tickets"] = tickets


def reset() -> None:
    """Forget the process's wiring (between tests)."""
    _state.update(redis_url=None, db=None, tickets=None)


def database() -> Database:
    """The process's Database (a bare ``rq worker`` builds it from DATABASE_URL)."""
    if _state["db"] is None:
        from runtime.settings import Settings

        _state["db"] = Database(Settings.from_env().database_url)
    return _state["db"]


def tickets():
    """The process's one TicketService, with every hook and peer action."""
    if _state["tickets"] is None:
        raise RuntimeError("this process has no TicketService: its entry point must call hotline.wiring.boot()")
    return _state["tickets"]


def redis_connection():
    """The process's Redis client for short calls (enqueue), with the short
    timeouts of ``runtime.redis_client``; None on the embedded default."""
    url = _state["redis_url"]
    if not url:
        return None
    if _state.get("client_url") != url:
        from runtime import redis_client

        _state["client"], _state["client_url"] = redis_client.client(url), url
    return _state["client"]


def worker_connection():
    """A client of its own for an rq worker: rq raises its socket timeout
    above the blocking dequeue, which must not leak into short calls."""
    from runtime import redis_client

    return redis_client.client(_state["redis_url"])


def inline() -> bool:
    return _state["redis_url"] is None


def enqueue(func: Callable, *args, queue: str = QUEUE_DEFAULT, at: dt.datetime | None = None,
            job_id: str | None = None, **kwargs):
    """Run ``func(*args)`` in the background.  Returns the rq Job, or None
    when run inline.  Inline, a job for the future is left to the periodic
    sweep (which every time-based job must have as its safety net)."""
    if inline():
        if at is not None and at > dt.datetime.now(dt.timezone.utc):
            return None
        try:
            func(*args, **kwargs)
        except Exception:
            log.exception("inline job %s failed", getattr(func, "__name__", func))
        return None
    from rq import Queue, Retry

    from runtime import redis_client

    opts = {"job_id": job_id, "retry": Retry(max=3, interval=[5, 30, 120])}

    def put():
        q = Queue(queue, connection=redis_connection())
        if at is not None:
            return q.enqueue_at(at, func, *args, **kwargs, **opts)
        return q.enqueue(func, *args, **kwargs, **opts)

    try:
        # Redis slow or down at commit time: the data is committed and the
        # periodic sweep picks the work up; give up within the short timeout
        # (and skip Redis at once while the breaker is open).
        job = redis_client.guarded(f"enqueue {getattr(func, '__name__', func)}", put)
    except Exception:
        log.exception("could not enqueue %s; the sweep will retry", getattr(func, "__name__", func))
        return None
    if job is None:
        log.warning("%s not enqueued (Redis unavailable); the sweep will retry", getattr(func, "__name__", func))
    return job
