"""The current app's database and ticket service (built by hotline/wiring.py)."""
from __future__ import annotations

from flask import Flask, current_app

from dispatch.tickets import TicketService
from models import Database


def init_app(app: Flask) -> None:
    """The service itself is built by the composition root (hotline/wiring.py)."""
    import classifier

    # The active model follows the registry: activating or rolling back a
    # version reaches every process within seconds, without a restart.
    classifier.set_registry_source(app.extensions["hotline.db"].Session)


def db() -> Database:
    return current_app.extensions["hotline.db"]


def tickets() -> TicketService:
    return current_app.extensions["hotline.tickets"]
