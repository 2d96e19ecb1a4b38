"""The OpenAPI 3.1 document at ``/api/v1/openapi.json``, generated from the
app itself: every route under /api/v1, /open311/v2 and /webhooks, its path
parameters from the URL rule, its JSON body from the pydantic model the view
parses (``parse(Model)``), its query parameters from the names the view reads
(``request.args.get("…")``), Open311's form fields from ``_form("…")``.

Reading the views rather than a hand-kept list means an endpoint added
tomorrow is in the document (and in the fuzz test that drives every
operation from it, tests/test_fuzz.py) without anyone remembering to add it.
"""
from __future__ import annotations

import inspect
import re

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel

from dispatch import search
from hotline.hardening import DB_INT_MAX

bp = Blueprint("openapi", __name__)
PREFIXES = ("/api/v1", "/open311/v2", "/webhooks")
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "fields": {"type": "object"}, "current": {"type": "object"}}}}}
OPEN311_ERRORS = {"type": "array", "items": {"type": "object", "properties": {
    "code": {"type": "integer"}, "description": {"type": "string"}}}}
_PARSE = re.compile(r"\bparse\((\w+)\)")
_ARG = re.compile(r"request\.args\.get\(\s*\"(\w+)\"")
_INT_ARG = re.compile(r"_int_arg\(\s*\"(\w+)\"")
_FORM = re.compile(r"_form\(\s*\"(\w+)\"")
_DATE_ARG = re.compile(r"_date_arg\(\s*\"(\w+)\"")
# Helpers that read query parameters on a view's behalf.
HELPER_ARGS = {"period_from_args": ("month", "from", "to"), "_unit_arg": ("unit",),
               "_audit_query": ("from", "to", "action", "result", "actor"), "_report": ("month", "from", "to", "unit"),
               "search.list_args": search.LIST_PARAMS}
_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _source(view) -> tuple[str, dict]:
    fn = inspect.unwrap(view)
    try:
        return inspect.getsource(fn), fn.__globals__
    except (OSError, TypeError):
        return "", {}


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def sub(m):
        conv, name = m.group(1) or "string", m.group(2)
        schema = {"type": "integer", "minimum": 0, "maximum": DB_INT_MAX} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _CONVERTER.sub(sub, rule), params


def _model_schema(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build(app: Flask) -> dict:
    paths: dict = {}
    components: dict = {"Error": ERROR, "Open311Errors": OPEN311_ERRORS}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIXES) or rule.endpoint.startswith("openapi."):
            continue
        view = app.view_functions[rule.endpoint]
        src, glb = _source(view)
        path, params = _path(rule.rule)
        open311 = rule.rule.startswith("/open311/")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict = {"operationId": f"{rule.endpoint}.{method.lower()}",
                        "tags": [rule.endpoint.split(".")[0]],
                        "summary": (inspect.getdoc(inspect.unwrap(view)) or rule.endpoint).splitlines()[0],
                        "parameters": list(params)}
            names = set(_ARG.findall(src)) | set(_INT_ARG.findall(src)) | set(_DATE_ARG.findall(src))
            names |= {n for helper, args in HELPER_ARGS.items() if helper + "(" in src for n in args}
            names = sorted(names)
            ints = set(_INT_ARG.findall(src)) | {"page", "per_page", "months", "unit"}
            op["parameters"] += [{"name": n, "in": "query", "required": False,
                                  "schema": {"type": "integer"} if n in ints else {"type": "string"}}
                                 for n in names]
            if method in ("POST", "PUT", "PATCH"):
                models = [glb.get(m) for m in _PARSE.findall(src)]
                models = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
                if models:
                    op["requestBody"] = {"required": False, "content": {
                        "application/json": {"schema": _model_schema(models[0], components)}}}
                elif open311 and _FORM.findall(src):
                    op["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": {
                        "schema": {"type": "object", "properties": {
                            n: {"type": "string"} for n in sorted(set(_FORM.findall(src)) | {"api_key"})}}}}}
                else:
                    op["requestBody"] = {"required": False, "content": {
                        "application/json": {"schema": {"type": "object"}}}}
            err = {"$ref": "#/components/schemas/Open311Errors" if open311 else "#/components/schemas/Error"}
            op["responses"] = {
                "200": {"description": "OK"},
                "4XX": {"description": "bad input, not allowed, not found, conflict",
                        "content": {"application/json": {"schema": err}}},
            }
            if not open311 and not rule.rule.startswith("/webhooks"):
                op["security"] = [{"bearer": []}, {"session": []}]
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 热线工单与派单服务 API", "version": "1",
                 "description": "Generated from the Flask routes and the pydantic models (hotline/openapi.py)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
    }


@bp.get("/api/v1/openapi.json")
def openapi_json():
    app = current_app._get_current_object()
    if "hotline.openapi" not in app.extensions:
        app.extensions["hotline.openapi"] = build(app)
    return jsonify(app.extensions["hotline.openapi"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
