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
"""
from __future__ import annotations

import logging
import queue
import sys

import socketio as python_socketio
from flask import Flask, request, session
from flask_socketio import SocketIO, join_room
from sqlalchemy import select

from dispatch import events, redis_client, rooms
from dispatch.access import Actor
from hotline.auth import hash_token
from hotline.services import db
from models import ApiToken, User

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


def _actor(auth) -> Actor | None:
    with db().session() as s:
        if isinstance(auth, dict) and auth.get("token"):
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(str(auth["token"])),
                                                  ApiToken.revoked_at.is_(None)))
            return Actor.from_user(row.user) if row and row.user.active else None
        uid = session.get("uid")
        user = s.get(User, uid) if uid else None
        return Actor.from_user(user) if user and user.active else None


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
    # Always given: the module's SocketIO keeps options across init_app calls.
    manager = RedisQueue(settings.redis_url, channel=CHANNEL) if settings.redis_url else None
    socketio.init_app(app, async_mode=async_mode(), logger=False, engineio_logger=False, client_manager=manager)
    events.subscribe(_emit)

    @socketio.on("connect")
    def connect(auth=None):
        actor = _actor(auth)
        if actor is None:
            log.info("socket connection refused: not authenticated (%s)", request.remote_addr)
            return False
        for room in rooms.for_actor(actor):
            join_room(room)
        return True


def external_emitter(redis_url: str) -> None:
    """In an rq worker: emit through the Redis message queue."""
    emitter = RedisQueue(redis_url, channel=CHANNEL, write_only=True)

    def emit(name, payload, rooms):
        emitter.emit(name, payload, room=list(rooms), namespace="/")

    events.subscribe(emit)
