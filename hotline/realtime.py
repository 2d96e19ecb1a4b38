"""Live status over Socket.IO.

Connections are authenticated on connect (the console's session cookie, or
``auth={"token": ...}`` with an API token) and join the rooms
``dispatch.rooms.for_actor`` names: their unit, their role, themselves, and
every platform for the province platform, which sees everything.  The service layer publishes after
commit; with REDIS_URL set, Socket.IO uses Redis as its message queue so
several web processes and the rq workers all reach every browser.

Notices leave the request path: a served process hands them to one
background task that emits them in order (``deliver_in_background``), so a
write answers in the same time whether 10 or 1,000 consoles watch.  The
async mode follows the process: ``gevent`` when ``serve --production``
monkey-patched it, ``threading`` otherwise (docs/deployment.md).

A socket lives no longer than the credential it connected with: each web
process keeps its open sockets with their session or token, disconnects
them at once when that ends here (logout, password change, deactivation,
revocation through this process) and re-checks all of them every
``HOTLINE_SOCKET_RECHECK_SECONDS`` (20) so an end decided in another
process, or an idle timeout, cuts them within a minute too.
"""
from __future__ import annotations

import logging
import queue
import sys
import threading
from dataclasses import dataclass

import socketio as python_socketio
from flask import Flask, current_app, request, session
from flask_socketio import SocketIO, join_room
from sqlalchemy import select

from dispatch import events, rooms
from runtime import redis_client
from dispatch.access import Actor
from hotline import sessions
from hotline.auth import hash_token, token_is_live
from hotline.current import db
from models import ApiToken, UserSession, utcnow

log = logging.getLogger(__name__)
socketio = SocketIO()
CHANNEL = "flask-socketio"


class RedisQueue(python_socketio.RedisManager):
    """Socket.IO's Redis message queue with the service's Redis timeouts: a
    publish (after a commit, in the request) gives up within the short
    socket timeout, and is skipped while the breaker is open; the listener
    waits on its own connection without a socket timeout, because an idle
    channel is not an error.  A notice lost that way is a live update
    missed: the consoles re-read the state on their next load."""

    def _redis_connect(self):
        # Called by the listener thread (and by the base class's publish,
        # which ``_publish`` below replaces).
        self.redis = redis_client.client(self.redis_url, listen=True)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    def _publish(self, data):
        if getattr(self, "_publisher", None) is None:
            self._publisher = redis_client.client(self.redis_url)
        return redis_client.guarded("Socket.IO publish",
                                    lambda: self._publisher.publish(self.channel, self.json.dumps(data)))


@dataclass(frozen=True)
class Credential:
    user_id: int
    session_id: int | None = None
    token_id: int | None = None


class Connections:
    """This process's open sockets and what each connected with."""

    def __init__(self):
        self._by_sid: dict[str, Credential] = {}
        self._lock = threading.Lock()
        self.sweeper: threading.Thread | None = None

    def add(self, sid: str, cred: Credential) -> None:
        with self._lock:
            self._by_sid[sid] = cred

    def remove(self, sid: str) -> None:
        with self._lock:
            self._by_sid.pop(sid, None)

    def items(self) -> list[tuple[str, Credential]]:
        with self._lock:
            return list(self._by_sid.items())

    def matching(self, **kw) -> list[str]:
        return [sid for sid, c in self.items() if all(getattr(c, k) == v for k, v in kw.items())]


def _conns() -> Connections:
    return current_app.extensions["hotline.sockets"]


def _actor(auth) -> tuple[Actor, Credential] | None:
    with db().session() as s:
        if isinstance(auth, dict) and auth.get("token"):
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(str(auth["token"])[:200])))
            if not token_is_live(row, utcnow()):
                return None
            return Actor.from_user(row.user), Credential(row.user_id, token_id=row.id)
        sid = session.get("sid")
        row = sessions.resolve(s, sid, sessions.Policy.from_settings(current_app.config["HOTLINE"])) if sid else None
        if row is None:
            return None
        return Actor.from_user(row.user), Credential(row.user_id, session_id=row.id)


def _disconnect(connections: Connections, sids: list[str], why: str) -> None:
    for sid in sids:
        log.info("socket %s disconnected: %s", sid, why)
        try:
            socketio.server.disconnect(sid, namespace="/")
        except Exception:
            log.exception("disconnecting socket %s failed", sid)
        connections.remove(sid)


def disconnect_session(session_id: int) -> None:
    _disconnect(_conns(), _conns().matching(session_id=session_id), f"session {session_id} ended")


def disconnect_user(user_id: int) -> None:
    _disconnect(_conns(), _conns().matching(user_id=user_id), f"user {user_id} deactivated or signed out everywhere")


def disconnect_token(token_id: int) -> None:
    _disconnect(_conns(), _conns().matching(token_id=token_id), f"token {token_id} revoked")


def recheck(connections: Connections, database, policy: sessions.Policy) -> int:
    """Disconnect every socket of this process whose session or token is no
    longer valid (ended anywhere, idle, expired, revoked, user deactivated).
    Returns how many were cut."""
    items = connections.items()
    if not items:
        return 0
    now = utcnow()
    session_ids = {c.session_id for _, c in items if c.session_id}
    token_ids = {c.token_id for _, c in items if c.token_id}
    with database.session() as s:
        live_sessions = {r.id for r in s.scalars(select(UserSession).where(UserSession.id.in_(session_ids)))
                         if sessions.why_invalid(r, policy, now) is None} if session_ids else set()
        live_tokens = {r.id for r in s.scalars(select(ApiToken).where(ApiToken.id.in_(token_ids)))
                       if token_is_live(r, now)} if token_ids else set()
    dead = [sid for sid, c in items
            if (c.session_id and c.session_id not in live_sessions) or (c.token_id and c.token_id not in live_tokens)]
    _disconnect(connections, dead, "credential no longer valid")
    return len(dead)


def _ensure_sweeper(app: Flask) -> None:
    """One re-check loop per app (process), started with the first socket
    and ended when none is left (or the app's database is gone)."""
    connections: Connections = app.extensions["hotline.sockets"]
    with connections._lock:
        if connections.sweeper is not None:
            return
        settings = app.config["HOTLINE"]
        database, policy = app.extensions["hotline.db"], sessions.Policy.from_settings(settings)
        stop = threading.Event()

        def loop():
            try:
                while not stop.wait(settings.socket_recheck_seconds):
                    if not connections.items():
                        break
                    with app.app_context():
                        recheck(connections, database, policy)
            except Exception:
                log.exception("socket re-check loop stopped")
            finally:
                with connections._lock:
                    connections.sweeper = None

        connections.sweeper = threading.Thread(target=loop, name="socket-recheck", daemon=True)
        connections.sweeper.start()


def _emit(name: str, payload: dict, to: list[str]) -> None:
    # One emit to the list of rooms: a client in several of them (a province
    # coordinator is in unit:<id>, role:coordinator and platform:all) gets
    # the message once.
    socketio.emit(name, payload, to=list(to), namespace="/")


def async_mode() -> str:
    """``gevent`` in a process gevent has monkey-patched, else ``threading``."""
    monkey = sys.modules.get("gevent.monkey")
    return "gevent" if monkey is not None and monkey.is_module_patched("socket") else "threading"


class _Courier:
    """One background task that emits queued notices in order, off the
    request that published them."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.started = False

    def __call__(self, name: str, payload: dict, to: list[str]) -> None:
        self.queue.put((name, payload, to))

    def start(self) -> None:
        if not self.started:
            self.started = True
            socketio.start_background_task(self._run)

    def _run(self) -> None:
        while True:
            name, payload, to = self.queue.get()
            try:
                _emit(name, payload, to)
            except Exception:
                log.exception("live notice %s to %s failed", name, to)


_courier = _Courier()


def deliver_in_background() -> None:
    """Called by the serving processes (``serve``, gunicorn's wsgi module):
    notices go through the courier instead of being emitted inline.  Tests
    with Flask-SocketIO's test client keep the inline emit, whose effects
    they can assert right after the request."""
    events.unsubscribe(_emit)
    events.subscribe(_courier)
    _courier.start()


def init_app(app: Flask) -> None:
    settings = app.config["HOTLINE"]
    app.extensions["hotline.sockets"] = Connections()
    # Always given: the module's SocketIO keeps options across init_app calls.
    manager = RedisQueue(settings.redis_url, channel=CHANNEL) if settings.redis_url else None
    socketio.init_app(app, async_mode=async_mode(), logger=False, engineio_logger=False, client_manager=manager)
    events.subscribe(_emit)

    @socketio.on("connect")
    def connect(auth=None):
        found = _actor(auth)
        if found is None:
            log.info("socket connection refused: not authenticated (%s)", request.remote_addr)
            return False
        actor, cred = found
        for room in rooms.for_actor(actor):
            join_room(room)
        _conns().add(request.sid, cred)
        _ensure_sweeper(current_app._get_current_object())
        return True

    @socketio.on("disconnect")
    def disconnect(*_args):
        _conns().remove(request.sid)


def external_emitter(redis_url: str) -> None:
    """In an rq worker: emit through the Redis message queue."""
    emitter = RedisQueue(redis_url, channel=CHANNEL, write_only=True)

    def emit(name, payload, rooms):
        emitter.emit(name, payload, room=list(rooms), namespace="/")

    events.subscribe(emit)
