"""Property-based fuzzing of every operation in /api/v1/openapi.json.

Hypothesis drives each operation the document lists (the REST API, Open311,
the webhooks) with generated input: bodies from the operation's JSON schema
(the pydantic models' schemas, through ``from_schema`` below), and malformed ones
(wrong types, random JSON, NUL characters, deep nesting, bytes that are not
JSON, wrong content types); path and query parameters from their schema and
beyond it (huge and negative integers, NUL, unicode, empty); as each role,
and without credentials.  Any 5xx fails the test.  The requests sent and the
status counts are printed (and written to $HOTLINE_FUZZ_REPORT when set).

Budget: ``HOTLINE_FUZZ_EXAMPLES`` examples per operation (15 by default,
about two minutes for the whole document on a loaded CI machine).
"""
from __future__ import annotations

import collections
import json
import os
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from hotline.auth import issue_token
from models import User

EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "15"))
ROLES = ["agent", "dispatcher", "gy_rsj", "coordinator", "supervisor", "admin", "secadmin", "auditor", None]

WEIRD_TEXT = st.sampled_from(["", "\x00", "a\x00b", "%00", "../../etc/passwd", "' OR 1=1 --", "<script>x</script>",
                              "９９", "1e400", "NaN", "-0", "😀" * 50, "x" * 300, " ", "\u202e", "null"])
HUGE_INT = st.sampled_from([2**31, 2**31 - 1, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, 0, -1])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HUGE_INT, st.floats(allow_nan=False), st.text(max_size=30),
                    WEIRD_TEXT)
ANY_JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                        max_leaves=12)


def from_schema(schema: dict, components: dict, depth: int = 0):
    """Values valid for the subset of JSON Schema pydantic emits (objects,
    strings with length and pattern, bounded integers, enums, nullables,
    arrays, references), with the bounds' edges favoured by Hypothesis."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, components, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "string":
        lo, hi = schema.get("minLength", 0), min(schema.get("maxLength", 60), 60)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda v: lo <= len(v) <= schema.get(
                "maxLength", 10**6))
        return st.text(min_size=lo, max_size=max(lo, hi))
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), components, depth + 1),
                        min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, components, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, components, depth + 1) for k, v in props.items() if k not in required})
    return ANY_JSON


def _int_param():
    return st.one_of(st.integers(0, 60), st.integers(0, 2**31 - 1), HUGE_INT, st.integers(), WEIRD_TEXT)


def _str_param():
    return st.one_of(st.text(max_size=20), WEIRD_TEXT, st.sampled_from(["json", "xml", "1", "accepted", "true"]))


def _param(p):
    return _int_param() if p["schema"].get("type") == "integer" else _str_param()


def _malformed_body():
    return st.one_of(
        ANY_JSON.map(lambda v: ("json", v)),
        st.integers(2, 3000).map(lambda d: ("raw", "[" * d + "]" * d)),
        st.binary(max_size=200).map(lambda b: ("raw", b)),
        st.sampled_from([("raw", "{"), ("raw", '{"a": "\\u0000"}'), ("raw", "\ufeff{}"), ("form", {"x": "\x00"}),
                         ("raw", '{"description": ' + "9" * 400 + "}")]),
    )


def _body(op, components):
    content = (op.get("requestBody") or {}).get("content") or {}
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        if "$ref" in schema:
            valid = from_schema(schema, components).map(lambda v: ("json", v))
            return st.one_of(valid, valid, _malformed_body())
        return _malformed_body()
    if "application/x-www-form-urlencoded" in content:
        props = content["application/x-www-form-urlencoded"]["schema"]["properties"]
        form = st.fixed_dictionaries({}, optional={k: _str_param() for k in props}).map(lambda v: ("form", v))
        return st.one_of(form, form, _malformed_body())
    return st.just(None)


def _request(op, components):
    path_params = [p for p in op["parameters"] if p["in"] == "path"]
    query_params = [p for p in op["parameters"] if p["in"] == "query"]
    return st.fixed_dictionaries({
        "role": st.sampled_from(ROLES),
        "path": st.fixed_dictionaries({p["name"]: _param(p) for p in path_params}),
        "query": st.fixed_dictionaries({}, optional={p["name"]: _param(p) for p in query_params}),
        "body": _body(op, components),
    })


def _send(client, path_template, method, req, tokens):
    path = path_template
    for name, value in req["path"].items():
        path = path.replace("{" + name + "}", quote(str(value), safe="") or "%20")
    headers = {"Authorization": f"Bearer {tokens[req['role']]}"} if req["role"] else {}
    kw = {"query_string": {k: str(v) for k, v in req["query"].items()}, "headers": headers}
    if req["body"] is not None:
        kind, value = req["body"]
        if kind == "json":
            kw["json"] = value
        elif kind == "form":
            kw["data"] = value
        else:
            kw["data"] = value if isinstance(value, bytes) else value.encode()
            kw["content_type"] = "application/json"
    return client.open(path, method=method.upper(), **kw)


def _fresh_credentials(db, roles) -> dict:
    """The fuzzer may deactivate, demote or revoke anyone (it is the security
    administrator too): every operation starts from live accounts."""
    with db.session() as s:
        s.execute(update(User).values(active=True))
        originals = {"secadmin": "security_admin", "auditor": "auditor", "gy_rsj": "department"}
        users = {u.username: u for u in s.scalars(select(User).where(User.username.in_([r for r in roles if r])))}
        for name, u in users.items():
            u.role = originals.get(name, name if name in ("agent", "dispatcher", "coordinator", "supervisor",
                                                           "admin") else u.role)
        return {r: issue_token(s, users[r], "fuzz") for r in roles if r}


@pytest.fixture
def queued_app(seeded_db, database_url, redis_url, redis_conn):
    """The app with Redis: jobs (retraining, deliveries) are queued, not run
    inline, so the fuzzer exercises the web layer and not the classifier's training."""
    from dispatch import events
    from hotline.app import create_app
    from runtime.settings import Settings

    events.unsubscribe_all()
    application = create_app(Settings(database_url=database_url, redis_url=redis_url,
                                      secret_key="test-secret-key-0123456789"))
    application.config["TESTING"] = True
    yield application
    events.unsubscribe_all()
    application.extensions["hotline.db"].dispose()


def test_every_operation_survives_generated_and_malformed_input(queued_app, seeded_db, capsys):
    app = queued_app
    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    components = doc["components"]["schemas"]
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(operations) >= 50, "the document lists every operation"
    statuses: collections.Counter = collections.Counter()
    per_op: dict[str, collections.Counter] = {}
    started = time.monotonic()

    for path, method, op in operations:
        tokens = _fresh_credentials(seeded_db, ROLES)
        counts = per_op.setdefault(op["operationId"], collections.Counter())

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(req=_request(op, components))
        def run(req):
            r = _send(client, path, method, req, tokens)
            statuses[r.status_code] += 1
            counts[r.status_code] += 1
            assert r.status_code < 500, (f"{method.upper()} {path} → {r.status_code}", req,
                                         r.get_data(as_text=True)[:500])

        run()

    report = {"operations": len(operations), "requests": sum(statuses.values()),
              "statuses": dict(sorted(statuses.items())), "seconds": round(time.monotonic() - started, 1),
              "examples_per_operation": EXAMPLES,
              "per_operation": {k: dict(sorted(v.items())) for k, v in sorted(per_op.items())}}
    if os.environ.get("HOTLINE_FUZZ_REPORT"):
        with open(os.environ["HOTLINE_FUZZ_REPORT"], "w") as f:
            json.dump(report, f, indent=1)
    with capsys.disabled():
        print(f"\nfuzz: {report['requests']} requests over {report['operations']} operations in "
              f"{report['seconds']} s; status counts {report['statuses']}")
    assert not any(code >= 500 for code in statuses)
