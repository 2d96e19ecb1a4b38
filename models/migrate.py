"""Alembic migrations, run from code (``python -m hotline init-db``) and
checked at start-up: the app refuses to run on a database that is not at
the newest revision."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")


# Objects made by migrations on purpose and deliberately not in the models:
# the figures' ledger (written only by dispatch.figures) and indexes with
# dialect-specific shapes (covering, partial).  Autogenerate must not propose
# dropping them.
MANAGED_BY_MIGRATIONS = {
    "figure_events", "ix_figure_events_period", "ix_tickets_unit_created", "ix_tickets_open_due",
    "ix_tickets_created_cover", "ix_ticket_events_figures",
    # word search (0012): PostgreSQL's GIN index, SQLite's FTS5 table and its shadow tables
    "ix_tickets_search", "ticket_search", "ticket_search_data", "ticket_search_idx", "ticket_search_docsize",
    "ticket_search_config",
}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (reflected and compare_to is None and name in MANAGED_BY_MIGRATIONS)


class DatabaseNotMigrated(RuntimeError):
    pass


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def ensure_migrated(url: str) -> None:
    """Raise DatabaseNotMigrated with a message a person can act on."""
    head = head_revision(url)
    try:
        current = current_revision(url)
    except Exception as e:
        raise DatabaseNotMigrated(f"无法连接数据库 / cannot connect to the database {safe_url(url)}: {e}") from e
    if current != head:
        raise DatabaseNotMigrated(
            f"数据库未迁移到最新版本 / the database {safe_url(url)} is at revision {current or 'none'}, "
            f"the code needs {head}. Run: python -m hotline init-db"
        )


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"
