"""Per-app access to the database and the domain services."""
from __future__ import annotations

from flask import Flask, current_app

from dispatch.services import TicketService
from models import Database


def init_app(app: Flask) -> None:
    app.extensions["hotline.tickets"] = TicketService(app.extensions["hotline.db"])


def db() -> Database:
    return current_app.extensions["hotline.db"]


def tickets() -> TicketService:
    return current_app.extensions["hotline.tickets"]
