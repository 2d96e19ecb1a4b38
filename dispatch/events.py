"""After-commit publication of ticket changes.

The service layer calls ``publish`` only after its transaction committed;
subscribers (the Socket.IO bridge in the web process, an emitter over the
Redis message queue in workers) are registered at start-up.  Keeping this a
plain list of callables keeps the domain free of Flask.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

log = logging.getLogger(__name__)
Subscriber = Callable[[str, dict, list[str]], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> None:
    if fn not in _subscribers:
        _subscribers.append(fn)


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


def unsubscribe_all() -> None:
    _subscribers.clear()


def publish(name: str, payload: dict, rooms: Iterable[str]) -> None:
    rooms = sorted(set(rooms))
    for fn in list(_subscribers):
        try:
            fn(name, payload, rooms)
        except Exception:
            # The change is committed; a failed live notice must not undo it,
            # but it must be seen.
            log.exception("publishing %s to %s failed", name, rooms)
