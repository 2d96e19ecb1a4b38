"""Errors as JSON under /api and /open311, as readable pages elsewhere.
Bad input is a 4xx with a code, a message and the offending fields."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from dispatch.errors import DomainError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.is_json


def error_response(status: int, code: str, message: str, fields: dict | None = None, current=None):
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if fields:
            body["error"]["fields"] = fields
        if current is not None:
            body["error"]["current"] = current
        return jsonify(body), status
    return render_template("error.html", status=status, code=code, message=message, fields=fields or {}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
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

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "服务器内部错误，已记录")
