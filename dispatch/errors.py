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


def validate(model, data: dict):
    """``model.model_validate(data)`` (pydantic), or Invalid naming each
    offending field by its JSON path."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as e:
        fields = {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in e.errors()}
        raise Invalid("字段校验失败", fields, code="validation_failed") from None


def validate_typed(models: dict, data: dict):
    """Validate a message whose "type" field picks its model from ``models``."""
    kind = data.get("type")
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise Invalid("未知的消息类型", {"type": f"one of {', '.join(models)}"}, code="unknown_type")
    return validate(model, data)
