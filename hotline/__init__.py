"""The web service: app factory, REST API, console pages, Socket.IO, CLI.

Thin: parse, validate, call a service in ``dispatch``, serialise."""
from hotline.app import create_app

__all__ = ["create_app"]
