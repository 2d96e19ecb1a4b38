"""The yardstick for bench/intake.py: a bare Flask endpoint that only
inserts one row into the same PostgreSQL database, served the same way
(werkzeug, threaded) as the service."""
from __future__ import annotations

import json
import sys

from flask import Flask, request
from sqlalchemy import create_engine, text

url, port = sys.argv[1], int(sys.argv[2])
engine = create_engine(url, pool_size=10, max_overflow=20)
with engine.begin() as c:
    c.execute(text("CREATE TABLE IF NOT EXISTS bare_rows (id bigserial primary key, body jsonb not null)"))
app = Flask(__name__)


@app.post("/insert")
def insert():
    body = request.get_json()
    with engine.begin() as c:
        new_id = c.execute(text("INSERT INTO bare_rows (body) VALUES (CAST(:b AS jsonb)) RETURNING id"),
                           {"b": json.dumps(body, ensure_ascii=False)}).scalar()
    return {"id": new_id}, 201


@app.get("/ping")
def ping():
    return "ok"


app.run(host="127.0.0.1", port=port, threaded=True)
