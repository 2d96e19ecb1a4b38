"""Every Redis client of the service: short timeouts, and a breaker.

What goes through Redis after a commit (the job enqueue, the live notice)
is redone by the periodic sweeps or re-read by the consoles, so Redis being
slow or gone must cost a write at most one short timeout, and after that
nothing until it has had time to come back:

- ``client(url)``: connect and socket timeouts from the environment
  (``HOTLINE_REDIS_CONNECT_TIMEOUT_MS``, default 500;
  ``HOTLINE_REDIS_SOCKET_TIMEOUT_MS``, default 1000) instead of redis-py's
  5 s, and no retry inside the client;
- ``client(url, listen=True)``: for a subscriber that waits for messages
  (Socket.IO's listener): the same connect timeout, no socket timeout (an
  idle subscription is not an error), TCP keepalive and a periodic health
  check to notice a Redis that went away;
- ``breaker``: after a failure, the after-commit calls skip Redis for
  ``HOTLINE_REDIS_RETRY_AFTER_MS`` (default 5000) and log once, instead of
  paying the timeout on every write.

rq's worker raises its own connection's socket timeout above its blocking
dequeue (rq's ``_set_connection``); that is the one long wait, in the
worker, never in a request.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def _ms(name: str, default: int, env: dict) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default / 1000.0
    try:
        v = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer (milliseconds)") from None
    if not 1 <= v <= 600_000:
        raise ValueError(f"{name}={v} is outside 1..600000 ms")
    return v / 1000.0


@dataclass(frozen=True)
class Timeouts:
    connect: float = 0.5
    socket: float = 1.0
    retry_after: float = 5.0

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Timeouts":
        env = dict(os.environ if env is None else env)
        return cls(connect=_ms("HOTLINE_REDIS_CONNECT_TIMEOUT_MS", 500, env),
                   socket=_ms("HOTLINE_REDIS_SOCKET_TIMEOUT_MS", 1000, env),
                   retry_after=_ms("HOTLINE_REDIS_RETRY_AFTER_MS", 5000, env))


_timeouts: dict[str, Timeouts] = {}


def timeouts() -> Timeouts:
    if "t" not in _timeouts:
        _timeouts["t"] = Timeouts.from_env()
    return _timeouts["t"]


def set_timeouts(t: Timeouts | None) -> None:
    """Tests: use ``t`` (None: read the environment again); closes the breaker."""
    _timeouts.clear()
    if t is not None:
        _timeouts["t"] = t
    breaker.reset()


def client_kwargs(listen: bool = False) -> dict:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    t = timeouts()
    kw = {"socket_connect_timeout": t.connect, "retry": Retry(NoBackoff(), 0), "socket_keepalive": True}
    if listen:
        kw.update(socket_timeout=None, health_check_interval=30)
    else:
        kw.update(socket_timeout=t.socket)
    return kw


def client(url: str, listen: bool = False):
    import redis

    return redis.Redis.from_url(url, **client_kwargs(listen))


class Breaker:
    """Open for ``retry_after`` seconds after a Redis failure."""

    def __init__(self):
        self._until = 0.0
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self._until

    def failed(self, what: str, exc: BaseException) -> None:
        with self._lock:
            was_open = self.is_open()
            self._until = time.monotonic() + timeouts().retry_after
        if not was_open:
            log.warning("Redis failed during %s (%s: %s); skipping Redis for %.1f s, the sweeps redo the work",
                        what, type(exc).__name__, str(exc)[:200], timeouts().retry_after)

    def reset(self) -> None:
        self._until = 0.0


breaker = Breaker()


def guarded(what: str, fn: Callable[[], T]) -> T | None:
    """``fn()`` unless the breaker is open; a Redis or socket error opens
    it and returns None (the caller's work is redone by a sweep)."""
    import redis

    if breaker.is_open():
        log.debug("Redis skipped for %s (breaker open)", what)
        return None
    try:
        return fn()
    except (redis.RedisError, OSError) as e:
        breaker.failed(what, e)
        return None
