"""Failed-login throttling that cannot be turned against the account's owner.

Failures are counted per (user name, address) pair: after ``FREE_FAILURES``
failures in a row, each further try from that address for that name waits
twice as long as the one before (1 s, 2 s, 4 s … up to ``MAX_DELAY``).
Someone guessing from elsewhere slows only themselves; the owner, from
their own address, is not locked out.  An address that fails more than
``MAX_PER_ADDRESS`` times in ``WINDOW_SECONDS`` (whatever the names) is held
until the window passes: that stops spraying one password over many names.

Counters live in Redis when configured (shared by every web process, short
timeouts).  When Redis is not configured or does not answer, the database
answers instead: every failed login is an ``audit_events`` row
(``login.failed``, name, address), so the counts are there already.  A
Redis outage therefore never breaks or unthrottles login.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import func, select

from models import AuditEvent, Database

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
FREE_FAILURES = 3
MAX_DELAY = 10 * 60
MAX_PER_ADDRESS = 30


def delay_after(failures: int, free: int = FREE_FAILURES, cap: int = MAX_DELAY) -> int:
    """Seconds to wait after ``failures`` failures in a row (0, …, 1, 2, 4 … cap)."""
    if failures < free:
        return 0
    return min(cap, 2 ** min(failures - free, 30))


class LoginThrottle:
    def __init__(self, redis_url: str | None = None, db: Database | None = None, window: int = WINDOW_SECONDS,
                 free: int = FREE_FAILURES, max_delay: int = MAX_DELAY, max_per_address: int = MAX_PER_ADDRESS,
                 clock=time.time):
        self.window, self.free, self.max_delay, self.max_addr = window, free, max_delay, max_per_address
        self.db, self.clock = db, clock
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    # ------------------------------------------------------------ keys
    @staticmethod
    def _name(username: str) -> str:
        return username.strip().lower()[:64]

    def _pair_key(self, username: str, address: str) -> str:
        return f"hotline:login:pair:{self._name(username)}:{address}"

    @staticmethod
    def _addr_key(address: str) -> str:
        return f"hotline:login:addr:{address}"

    # ------------------------------------------------------------ reading
    def _counts_redis(self, username: str, address: str) -> tuple[int, float, int, float]:
        pipe = self._redis.pipeline()
        pipe.hmget(self._pair_key(username, address), "n", "last")
        pipe.get(self._addr_key(address))
        pipe.ttl(self._addr_key(address))
        (n, last), addr_n, addr_ttl = pipe.execute()
        return int(n or 0), float(last or 0), int(addr_n or 0), float(max(addr_ttl, 0))

    def _counts_db(self, username: str, address: str) -> tuple[int, float, int, float]:
        if self.db is None:
            return 0, 0.0, 0, 0.0
        now = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)
        since = now - dt.timedelta(seconds=self.window)
        name = self._name(username)
        with self.db.session() as s:
            # Failures in a row: since the last success for this name from here.
            ok = s.scalar(select(func.max(AuditEvent.at)).where(
                AuditEvent.action == "login", AuditEvent.object_id == name, AuditEvent.address == address,
                AuditEvent.at > since))
            pair = select(func.count(), func.max(AuditEvent.at)).where(
                AuditEvent.action == "login.failed", AuditEvent.object_id == name,
                AuditEvent.address == address, AuditEvent.at > (ok or since))
            n, last = s.execute(pair).one()
            addr_n, first = s.execute(select(func.count(), func.min(AuditEvent.at)).where(
                AuditEvent.action == "login.failed", AuditEvent.address == address,
                AuditEvent.at > since)).one()
        addr_left = (first + dt.timedelta(seconds=self.window) - now).total_seconds() if first else 0.0
        return int(n), last.timestamp() if last else 0.0, int(addr_n), max(addr_left, 0.0)

    def _counts(self, username: str, address: str) -> tuple[int, float, int, float]:
        if self._redis is not None:
            try:
                return self._counts_redis(username, address)
            except Exception as e:  # redis.RedisError and socket errors alike
                log.warning("login throttle: Redis unavailable (%s); counting from the database", e)
        return self._counts_db(username, address)

    def retry_after(self, username: str, address: str) -> int:
        """Seconds to wait before another try from ``address`` for ``username``, 0 if allowed now."""
        n, last, addr_n, addr_left = self._counts(username, address)
        wait = 0.0
        if n:
            wait = last + delay_after(n, self.free, self.max_delay) - self.clock()
        if addr_n >= self.max_addr:
            wait = max(wait, addr_left)
        return max(0, int(wait + 0.999))

    # ------------------------------------------------------------ writing
    def failed(self, username: str, address: str) -> None:
        """Count a failure.  (The caller also writes the ``login.failed``
        audit row, which is what the database path counts.)"""
        if self._redis is None:
            return
        try:
            pipe = self._redis.pipeline()
            key = self._pair_key(username, address)
            pipe.hincrby(key, "n", 1)
            pipe.hset(key, "last", repr(self.clock()))
            pipe.expire(key, self.window)
            pipe.incr(self._addr_key(address))
            pipe.expire(self._addr_key(address), self.window, nx=True)
            pipe.execute()
        except Exception as e:
            log.warning("login throttle: Redis unavailable (%s); the database has the failure", e)

    def succeeded(self, username: str, address: str) -> None:
        if self._redis is None:
            return
        try:
            self._redis.delete(self._pair_key(username, address))
        except Exception as e:
            log.warning("login throttle: Redis unavailable (%s)", e)
