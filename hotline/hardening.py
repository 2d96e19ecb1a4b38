"""Input that no view should ever see, refused before routing reaches one,
and the security headers every response carries.

- NUL bytes in the path, the query, a header, a form field or a JSON string:
  no database stores them (PostgreSQL refuses them in text), so they are a
  400 here instead of an error deep in a query.
- Integers in URLs are bounded to the database's integer range (a larger id
  cannot name a row: 404), and query/body integers through ``DB_INT``.
- JSON bodies are parsed once, here: nesting deeper than ``MAX_JSON_DEPTH``
  is a 400 (Python's parser would otherwise recurse until RecursionError).
- Headers: a strict Content-Security-Policy (scripts only from this origin,
  no inline script), no framing, nosniff, a same-origin Referrer-Policy.
"""
from __future__ import annotations

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from dispatch.errors import DomainError

DB_INT_MAX = 2**31 - 1          # PostgreSQL ``integer``
MAX_JSON_DEPTH = 32

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # Styles set from script (ECharts, CSSOM) need no exception; inline
    # ``style=`` attributes in other engineers' pages stay allowed: they
    # cannot run script.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' data: blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class BadInput(DomainError):
    status, code = 400, "bad_request"


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every route: 1..2**31-1, so an id beyond the column's
    range is a 404 like any other unknown id."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def _has_nul(v, depth: int = 0) -> bool:
    if depth > MAX_JSON_DEPTH:
        raise BadInput("JSON 嵌套层数过深", {"body": f"nesting deeper than {MAX_JSON_DEPTH}"},
                       code="invalid_json")
    if isinstance(v, str):
        return "\x00" in v
    if isinstance(v, dict):
        return any(_has_nul(k, depth + 1) or _has_nul(x, depth + 1) for k, x in v.items())
    if isinstance(v, list):
        return any(_has_nul(x, depth + 1) for x in v)
    return False


def _json_depth_ok(raw: bytes) -> bool:
    """Bracket depth outside strings, without parsing (cheap, no recursion)."""
    depth = 0
    in_str = esc = False
    for b in raw:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif b in (0x5D, 0x7D):
            depth -= 1
    return True


def check_request() -> None:
    if "\x00" in request.path:
        raise BadInput("地址中含有空字符", {"path": "NUL byte"})
    if "\x00" in (request.query_string or b"").decode("latin-1") or \
            any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        raise BadInput("查询参数中含有空字符", {"query": "NUL byte"})
    for k, v in request.headers.items():
        if "\x00" in k or "\x00" in v:
            raise BadInput("请求头中含有空字符", {k[:40]: "NUL byte"})
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    ctype = request.mimetype or ""
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        request.get_data(cache=True)  # keep the body for views that read it raw, then parse the form from it
        if any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)):
            raise BadInput("表单中含有空字符", {"form": "NUL byte"})
    elif request.is_json:
        raw = request.get_data(cache=True)
        deep = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and not _json_depth_ok(raw)
        if raw and (b"\x00" in raw or deep):
            if b"\x00" in raw:
                raise BadInput("请求体中含有空字符", {"body": "NUL byte"}, code="invalid_json")
            raise BadInput("JSON 嵌套层数过深", {"body": f"nesting deeper than {MAX_JSON_DEPTH}"},
                           code="invalid_json")
        if raw and b"\\U0000" in raw.upper():
            data = request.get_json(silent=True, cache=True)
            if _has_nul(data):
                raise BadInput("请求体中含有空字符", {"body": "NUL character"}, code="invalid_json")


def add_headers(response):
    for k, v in HEADERS.items():
        response.headers.setdefault(k, v)
    if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt
    app.before_request(check_request)
    app.after_request(add_headers)
