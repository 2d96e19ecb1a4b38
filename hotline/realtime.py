"""Live status over Socket.IO.

Connections are authenticated on connect (the console's session cookie, or
``auth={"token": ...}`` with an API token) and join the rooms
``dispatch.rooms.for_actor`` names: their unit, their role, themselves, and
every platform for the province platform, which sees everything.  The service layer publishes after
commit; with REDIS_URL set, Socket.IO uses Redis as its message queue so
several web processes and the rq workers all reach every browser.
"""
from __future__ import annotations

import logging

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


def _emit(name: str, payload: dict, rooms: list[str]) -> None:
    # One emit to the list of rooms: a client in several of them (a province
    # coordinator is in unit:<id>, role:coordinator and platform:all) gets
    # the message once.
    socketio.emit(name, payload, to=list(rooms), namespace="/")


def init_app(app: Flask) -> None:
    settings = app.config["HOTLINE"]
    # Always given: the module's SocketIO keeps options across init_app calls.
    queue = RedisQueue(settings.redis_url, channel=CHANNEL) if settings.redis_url else None
    socketio.init_app(app, async_mode="threading", logger=False, engineio_logger=False, client_manager=queue)
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
