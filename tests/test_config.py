"""Configuration is parsed strictly, and the app refuses an unmigrated
database with a message a person can act on."""
from __future__ import annotations

import subprocess
import sys

import pytest

from runtime.settings import ConfigError, Settings, parse_bool
from models.migrate import DatabaseNotMigrated


KEY = {"SECRET_KEY": "0123456789abcdef0123"}


@pytest.mark.parametrize("env,message", [
    (KEY | {"DATABASE_URL": "mysql://x@y/z"}, "postgresql:// or sqlite://"),
    (KEY | {"DATABASE_URL": "::::"}, "not a database URL"),
    (KEY | {"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with"),
    ({"SECRET_KEY": "short"}, "shorter than 16"),
    ({"HOTLINE_ENV": "production"}, "SECRET_KEY must be set"),
    (KEY | {"HOTLINE_ENV": "prod"}, "HOTLINE_ENV='prod'"),
    (KEY | {"HOTLINE_MAX_BODY_BYTES": "lots"}, "not an integer"),
    (KEY | {"HOTLINE_MAX_BODY_BYTES": "10"}, "outside"),
    (KEY | {"HOTLINE_SECURE_COOKIES": "maybe"}, "not a boolean"),
])
def test_bad_values_are_refused_with_the_variable_named(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_parse_bool_accepts_the_usual_spellings():
    assert parse_bool("X", "Yes", False) is True and parse_bool("X", "off", True) is False
    assert parse_bool("X", None, True) is True


def test_postgres_url_gets_the_psycopg_driver():
    s = Settings.from_env({"DATABASE_URL": "postgresql://u:p@h/db", "SECRET_KEY": "0123456789abcdef0123"})
    assert s.database_url.startswith("postgresql+psycopg://") and s.inline_jobs


def test_app_refuses_an_unmigrated_database(empty_database_url):
    from hotline.app import create_app

    with pytest.raises(DatabaseNotMigrated, match="init-db"):
        create_app(Settings(database_url=empty_database_url, redis_url=None, secret_key="x" * 20))


def test_serve_on_an_unmigrated_database_exits_with_a_clear_message(empty_database_url):
    env = {"DATABASE_URL": empty_database_url, "SECRET_KEY": "0123456789abcdef0123", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "hotline", "serve", "--port", "1"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "python -m hotline init-db" in r.stderr


def test_bad_config_on_the_command_line_exits_2():
    r = subprocess.run([sys.executable, "-m", "hotline", "init-db"], capture_output=True, text=True, timeout=60,
                       env={"DATABASE_URL": "mysql://x", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "DATABASE_URL" in r.stderr
