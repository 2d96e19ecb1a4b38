"""Shared fixtures.

Tests run against real PostgreSQL and Redis when TEST_DATABASE_URL and
REDIS_URL are set and reachable.  Where CI is set they must be reachable:
the run fails instead of quietly skipping.  Without CI, tests fall back to a
SQLite file per test and skip what needs Redis, saying why.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from models import Base, Database

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_admin_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def _reachable_redis(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url():
    """URL of the PostgreSQL server for tests, or None (SQLite fallback)."""
    url = _pg_admin_url()
    if not url:
        if IN_CI:
            pytest.fail("CI is set but TEST_DATABASE_URL is not")
        return None
    try:
        eng = create_engine(url)
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
    except Exception as e:  # pragma: no cover - environment problem
        if IN_CI:
            pytest.fail(f"CI is set but PostgreSQL at {url} is unreachable: {e}")
        return None
    return url


def _fresh_database_url(pg_url: str | None, tmp_path) -> tuple[str, callable]:
    if pg_url is None:
        return f"sqlite:///{tmp_path}/test.db", (lambda: None)
    name = "hl_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = pg_url.rpartition("/")
    url = f"{base}/{name}"

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture
def database_url(pg_url, tmp_path):
    """URL of a fresh, empty database for this test (dropped afterwards)."""
    url, drop = _fresh_database_url(pg_url, tmp_path)
    yield url
    drop()


@pytest.fixture
def db(database_url):
    """A models.Database on a fresh schema (created by the migrations)."""
    from models.migrate import upgrade

    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI is set but REDIS_URL is not")
        pytest.skip("REDIS_URL is not set: this test needs a real Redis")
    if not _reachable_redis(url):
        if IN_CI:
            pytest.fail(f"CI is set but Redis at {url} is unreachable")
        pytest.skip(f"Redis at {url} is unreachable")
    return url


@pytest.fixture
def redis_conn(redis_url):
    """A Redis connection on a database of its own, flushed before and after."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def seeded_db(db):
    from hotline.seed import seed_demo

    seed_demo(db, password="test-password")
    return db


@pytest.fixture
def app(seeded_db, database_url, tmp_path):
    """The Flask app on a seeded fresh database; jobs inline."""
    from dispatch import events
    from hotline.app import create_app
    from hotline.config import Settings

    events.unsubscribe_all()
    settings = Settings(database_url=database_url, redis_url=None, secret_key="test-secret-key-0123456789",
                        testing=True)
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    events.unsubscribe_all()
    application.extensions["hotline.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
