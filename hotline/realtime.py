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

from flask import Flask, request, session
from flask_socketio import SocketIO, join_room
from sqlalchemy import select

from dispatch import events, rooms
from dispatch.access import Actor
from hotline.auth import hash_token
from hotline.services import db
from models import ApiToken, User

log = logging.getLogger(__name__)
socketio = SocketIO()


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
    socketio.init_app(app, message_queue=settings.redis_url, async_mode="threading",
                      logger=False, engineio_logger=False)
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
    emitter = SocketIO(message_queue=redis_url)

    def emit(name, payload, rooms):
        emitter.emit(name, payload, to=list(rooms), namespace="/")

    events.subscribe(emit)
