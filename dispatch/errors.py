"""Domain errors.  The web layer turns them into JSON errors with the HTTP
status named here; the CLI prints their message."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict | None = None, code: str | None = None,
                 current: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.current = current
        if code:
            self.code = code


class NotFound(DomainError):
    status, code = 404, "not_found"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Invalid(DomainError):
    status, code = 422, "invalid"
