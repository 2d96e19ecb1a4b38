"""Errors as JSON under /api and /open311, as readable pages elsewhere.
Bad input is a 4xx with a code, a message and the offending fields."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from dispatch.errors import DomainError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.is_json


def error_response(status: int, code: str, message: str, fields: dict | None = None, current=None):
    if request.path.startswith("/open311/"):
        # Open311 clients get Open311's error format, whatever went wrong.
        from hotline.open311 import open311_error

        detail = "; ".join(f"{k}: {v}" for k, v in (fields or {}).items())
        return open311_error(400 if status == 422 else status, message + (f" ({detail})" if detail else ""))
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if fields:
            body["error"]["fields"] = fields
        if current is not None:
            body["error"]["current"] = current
        return jsonify(body), status
    return render_template("error.html", status=status, code=code, message=message, fields=fields or {}), status


def _audit_refusal(code: str) -> None:
    """Permission refusals are audit rows (who, from where, what they tried)."""
    from flask import g

    from hotline.auth import audit

    try:
        audit("permission.refused", "endpoint", f"{request.method} {request.path}"[:64], result="refused",
              actor=g.get("actor"), code=code)
    except Exception:
        log.exception("could not record a permission refusal")


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
        if e.status == 403:
            _audit_refusal(e.code)
        return error_response(e.status, e.code, e.message, e.fields, e.current)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return error_response(400, "csrf_failed", "表单已过期或缺少 CSRF 令牌，请刷新页面后重试")

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}
        messages = {413: "请求体过大", 404: "页面不存在", 405: "不支持的请求方法"}
        return error_response(e.code or 500, codes.get(e.code, "http_error"),
                              messages.get(e.code, e.description or e.name))

    @app.errorhandler(RecursionError)
    def too_deep(e):
        return error_response(400, "invalid_json", "JSON 嵌套层数过深")

    @app.errorhandler(DataError)
    def out_of_range(e):
        # The database refused a value (out of its range, a character it
        # cannot store): the input's fault, not the server's.  Inputs are
        # bounded before they get here; this is the net under them.
        log.warning("database refused a value on %s %s: %s", request.method, request.path, e.orig)
        return error_response(400, "invalid_value", "参数值超出允许范围")

    @app.errorhandler(OverflowError)
    def overflow(e):
        return error_response(400, "invalid_value", "参数值超出允许范围")

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "服务器内部错误，已记录")
