"""A request that loses its database connection.

PostgreSQL restarting, a fail-over, a proxy dropping idle connections or
``pg_terminate_backend`` kill the connection under a request.  The pool
then throws that connection (and every older one) away, and pre-ping checks
the rest, so the next attempt gets a working one.  What to do with the
request that failed depends on how far it got:

- No transaction that wrote anything has reached COMMIT in this request:
  nothing of it is in the database, so the view is run once more, on a
  fresh connection.  The caller never sees the failure.
- A COMMIT with writes was under way or done (its outcome unknown, or a
  second step failing after a first one committed), or the second attempt
  fails too: 503 with ``Retry-After`` and the usual error body; never a
  bare 500.  A client retries with its ``Idempotency-Key`` and gets the one
  ticket.

Writes are recognised on the engine (any statement other than SELECT), so
the read-only transactions every request also commits do not count, nor
bookkeeping marked ``repeatable()`` (a token's time of last use).
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Iterator

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hotline.errors import error_response

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 3
LOST = (OperationalError, InterfaceError, PoolTimeout)
_request: contextvars.ContextVar[dict | None] = contextvars.ContextVar("hotline_db_request", default=None)
_repeatable: contextvars.ContextVar[bool] = contextvars.ContextVar("hotline_db_repeatable", default=False)
_READS = ("select", "show", "set ", "begin", "savepoint", "release", "rollback")


@contextlib.contextmanager
def repeatable() -> Iterator[None]:
    """Writes in this block may run twice without harm (bookkeeping such as
    a token's time of last use): committing them does not stop a retry."""
    token = _repeatable.set(True)
    try:
        yield
    finally:
        _repeatable.reset(token)


def _before_execute(conn, cursor, statement, parameters, context, executemany):
    if not _repeatable.get() and not statement.lstrip()[:9].lower().startswith(_READS):
        conn.info["hotline_wrote"] = True


def _on_commit(conn):
    if not conn.invalidated and conn.info.pop("hotline_wrote", False):
        state = _request.get()
        if state is not None:
            state["committed_writes"] = True


def _on_rollback(conn):
    # An invalidated connection's info goes with it.
    if not conn.invalidated:
        conn.info.pop("hotline_wrote", None)


def watch(engine: Engine) -> None:
    """Track, per request, whether a transaction with writes reached COMMIT."""
    if not event.contains(engine, "commit", _on_commit):
        event.listen(engine, "before_cursor_execute", _before_execute)
        event.listen(engine, "commit", _on_commit)
        event.listen(engine, "rollback", _on_rollback)


def init_app(app: Flask) -> None:
    watch(app.extensions["hotline.db"].engine)
    view = app.dispatch_request

    def dispatch_request():
        state = {"committed_writes": False}
        token = _request.set(state)
        try:
            try:
                return view()
            except LOST as e:
                if state["committed_writes"]:
                    raise
                log.warning("database connection lost before commit (%s: %s); running the request once more "
                            "on a fresh connection", type(e).__name__, str(e).splitlines()[0][:200])
                return view()
        finally:
            _request.reset(token)

    app.dispatch_request = dispatch_request

    def unavailable(e: Exception):
        log.error("database unavailable: %s: %s", type(e).__name__, str(e).splitlines()[0][:300])
        body, status = error_response(503, "database_unavailable", "数据库暂时不可用，请稍后重试（请求未完成或"
                                      "结果未知，重试时请带相同的 Idempotency-Key）")
        return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    for exc in LOST:
        app.register_error_handler(exc, unavailable)
