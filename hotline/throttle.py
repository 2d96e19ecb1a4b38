"""Failed-login throttling: after too many failures for one user name (or
from one address) within a window, logins are refused for the rest of it.
Counters live in Redis when configured (shared by every web process),
in process memory otherwise (the embedded default is one process)."""
from __future__ import annotations

import threading
import time

WINDOW_SECONDS = 15 * 60
MAX_PER_USER = 5
MAX_PER_ADDRESS = 30


class LoginThrottle:
    def __init__(self, redis_url: str | None = None, window: int = WINDOW_SECONDS,
                 max_per_user: int = MAX_PER_USER, max_per_address: int = MAX_PER_ADDRESS):
        self.window, self.max_user, self.max_addr = window, max_per_user, max_per_address
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._mem: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [(f"hotline:login:user:{username.strip().lower()}", self.max_user),
                (f"hotline:login:addr:{address}", self.max_addr)]

    def _get(self, key: str) -> tuple[int, float]:
        """(failures, seconds until the window ends)."""
        if self._redis is not None:
            pipe = self._redis.pipeline()
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
            return int(count or 0), float(max(ttl, 0))
        with self._lock:
            count, until = self._mem.get(key, (0, 0.0))
            left = until - time.monotonic()
            return (count, left) if left > 0 else (0, 0.0)

    def retry_after(self, username: str, address: str) -> int:
        """Seconds to wait before another try, 0 if allowed now."""
        wait = 0.0
        for key, limit in self._keys(username, address):
            count, left = self._get(key)
            if count >= limit:
                wait = max(wait, left)
        return int(wait + 0.999)

    def failed(self, username: str, address: str) -> None:
        for key, _ in self._keys(username, address):
            if self._redis is not None:
                pipe = self._redis.pipeline()
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
                pipe.execute()
            else:
                with self._lock:
                    count, until = self._mem.get(key, (0, 0.0))
                    now = time.monotonic()
                    if until <= now:
                        count, until = 0, now + self.window
                    self._mem[key] = (count + 1, until)

    def succeeded(self, username: str) -> None:
        key = self._keys(username, "")[0][0]
        if self._redis is not None:
            self._redis.delete(key)
        else:
            with self._lock:
                self._mem.pop(key, None)
