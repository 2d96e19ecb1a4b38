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

from models import Database

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


def _pg_create(pg_url: str, name: str, template: str | None = None) -> str:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return f"{pg_url.rpartition('/')[0]}/{name}"


def _pg_drop(pg_url: str, name: str) -> None:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _templates(pg_url, tmp_path_factory):
    """Migrated and seeded template databases, built once per run: cloning
    one (CREATE DATABASE … TEMPLATE, or a file copy) costs a tenth of
    migrating and seeding for every test."""
    from hotline.seed import seed_demo
    from models.migrate import upgrade

    built: dict[str, str] = {}
    tag = uuid.uuid4().hex[:8]
    folder = tmp_path_factory.mktemp("templates")

    def get(kind: str) -> str:
        if kind not in built:
            name = f"hl_tpl_{kind}_{tag}"
            url = _pg_create(pg_url, name) if pg_url else f"sqlite:///{folder}/{name}.db"
            upgrade(url)
            if kind == "seeded":
                database = Database(url)
                seed_demo(database, password="test-password")
                database.dispose()
            built[kind] = name if pg_url else f"{folder}/{name}.db"
        return built[kind]

    yield get
    if pg_url:
        for name in built.values():
            _pg_drop(pg_url, name)


@pytest.fixture
def empty_database_url(pg_url, tmp_path):
    """URL of a fresh database with no tables at all."""
    if pg_url is None:
        yield f"sqlite:///{tmp_path}/empty.db"
        return
    name = "hl_" + uuid.uuid4().hex[:12]
    url = _pg_create(pg_url, name)
    yield url
    _pg_drop(pg_url, name)


@pytest.fixture
def database_url(request, pg_url, tmp_path, _templates):
    """URL of a fresh database for this test, migrated to the newest
    revision (and already seeded when the test asks for ``seeded_db``);
    dropped afterwards."""
    import shutil

    kind = "seeded" if "seeded_db" in request.fixturenames else "migrated"
    template = _templates(kind)
    if pg_url is None:
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    name = "hl_" + uuid.uuid4().hex[:12]
    url = _pg_create(pg_url, name, template=template)
    yield url
    _pg_drop(pg_url, name)


@pytest.fixture
def db(database_url):
    """A models.Database on a fresh, migrated schema."""
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
    """The demo data (password "test-password"), cloned from the seeded template."""
    return db


@pytest.fixture
def app(seeded_db, database_url, tmp_path):
    """The Flask app on a seeded fresh database; jobs inline."""
    from dispatch import events
    from hotline.app import create_app
    from runtime.settings import Settings

    events.unsubscribe_all()
    settings = Settings(database_url=database_url, redis_url=None, secret_key="test-secret-key-0123456789")
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    events.unsubscribe_all()
    application.extensions["hotline.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the run, driven by Playwright."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"CI is set but Chromium is missing at {CHROMIUM} (.ci/run installs Debian's chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture
def server(seeded_db, database_url):
    """`python -m hotline serve` on this test's seeded database (no Redis)."""
    from tests.helpers import ensure_models, free_port, start, stop, wait_http

    ensure_models()  # the model files exist before the server loads them
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="browser-test-secret-key-0123",
               HOTLINE_ENV="test")
    env.pop("REDIS_URL", None)
    proc = start(["serve", "--port", str(port)], env)
    try:
        # A bound, not a pause: on a loaded shared machine loading the models
        # has taken more than two minutes.
        wait_http(f"http://127.0.0.1:{port}/api/v1/workflow", proc, timeout=600)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
