"""Configuration from the environment, parsed strictly.

Importing this module has no side effects (no Flask, no files touched);
``Settings.from_env()`` reads the environment when a process starts.  A bad
value stops the process with a message naming the variable; nothing is
guessed.  The embedded default (no DATABASE_URL, no REDIS_URL) is an
SQLite file under instance/ with jobs run inline.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    pass


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    v = raw.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def parse_int(name: str, raw: str | None, default: int, lo: int, hi: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not lo <= v <= hi:
        raise ConfigError(f"{name}={v} is outside {lo}..{hi}")
    return v


def _database_url(raw: str | None) -> str:
    if not raw:
        INSTANCE.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE / 'hotline.db'}"
    try:
        url = make_url(raw)
    except Exception:
        raise ConfigError(f"DATABASE_URL is not a database URL: {raw!r}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL must be postgresql:// or sqlite://, not {url.get_backend_name()}")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _redis_url(raw: str | None) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must start with redis://, rediss:// or unix://, not {raw!r}")
    return raw


def _secret_key(raw: str | None, production: bool) -> str:
    if raw:
        if len(raw) < 16:
            raise ConfigError("SECRET_KEY is shorter than 16 characters")
        return raw
    if production:
        raise ConfigError("SECRET_KEY must be set when HOTLINE_ENV=production")
    # Embedded default: one random key kept in instance/ so sessions survive
    # a restart; never committed (instance/ is ignored).
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    production: bool = False
    max_body_bytes: int = 256 * 1024
    session_cookie_secure: bool = False
    webhook_secrets: dict = field(default_factory=dict)
    # Console sessions: idle timeout and absolute lifetime; API token lifetime;
    # how often each web process re-checks its open sockets' credentials.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    token_days: int = 90
    socket_recheck_seconds: int = 20

    @property
    def inline_jobs(self) -> bool:
        return self.redis_url is None

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        production = (env.get("HOTLINE_ENV", "development").strip().lower() == "production")
        if env.get("HOTLINE_ENV", "development").strip().lower() not in ("production", "development", "test"):
            raise ConfigError(f"HOTLINE_ENV={env['HOTLINE_ENV']!r}: use production, development or test")
        return cls(
            database_url=_database_url(env.get("DATABASE_URL")),
            redis_url=_redis_url(env.get("REDIS_URL")),
            secret_key=_secret_key(env.get("SECRET_KEY"), production),
            production=production,
            max_body_bytes=parse_int("HOTLINE_MAX_BODY_BYTES", env.get("HOTLINE_MAX_BODY_BYTES"),
                                     256 * 1024, 1024, 50 * 1024 * 1024),
            session_cookie_secure=parse_bool("HOTLINE_SECURE_COOKIES", env.get("HOTLINE_SECURE_COOKIES"),
                                             production),
            webhook_secrets={k[len("HOTLINE_WEBHOOK_SECRET_"):].lower(): v for k, v in env.items()
                             if k.startswith("HOTLINE_WEBHOOK_SECRET_") and v},
            session_idle_minutes=parse_int("HOTLINE_SESSION_IDLE_MINUTES", env.get("HOTLINE_SESSION_IDLE_MINUTES"),
                                           30, 1, 24 * 60),
            session_max_hours=parse_int("HOTLINE_SESSION_MAX_HOURS", env.get("HOTLINE_SESSION_MAX_HOURS"),
                                        12, 1, 7 * 24),
            token_days=parse_int("HOTLINE_TOKEN_DAYS", env.get("HOTLINE_TOKEN_DAYS"), 90, 1, 3650),
            socket_recheck_seconds=parse_int("HOTLINE_SOCKET_RECHECK_SECONDS",
                                             env.get("HOTLINE_SOCKET_RECHECK_SECONDS"), 20, 1, 55),
        )
