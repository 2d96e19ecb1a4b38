"""The composition root (hotline/wiring.py): every entry point is wired the
same, the domain and the adapters load no Flask, every workflow action has a
handler or is declared record-only, and an action whose handler a process
lacks is refused instead of silently recorded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from dispatch.errors import DomainError
from dispatch.tickets import TicketService
from dispatch.workflow import TRANSITIONS
from hotline import wiring
from models import OutboxMessage, TicketEvent
from tests.dispatch import factories as f
from tests.helpers import ROOT, free_port, start, stop, wait_http

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import dispatch, integrations, runtime
names = []
for pkg in (dispatch, integrations, runtime):
    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(m.name)
        names.append(m.name)
import hotline.wiring
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def test_importing_the_domain_and_the_adapters_loads_no_flask():
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "dispatch.tickets" in got["imported"] and "integrations.police110" in got["imported"]
    web = [m for m in got["loaded"] if m.split(".")[0] in ("flask", "flask_socketio", "flask_wtf", "alembic")
           or m == "hotline.app"]
    assert web == [], f"web modules loaded by the domain: {web}"


def test_every_action_has_a_handler_or_is_record_only(seeded_db):
    svc = f.service(seeded_db)
    for action, tr in TRANSITIONS.items():
        handler = svc.handler_for(action)
        if tr.record_only:
            assert handler is None, f"{action} is declared record-only but has a handler"
        else:
            assert handler is not None, f"{action} has no handler and is not declared record-only"


def _outbox_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage))


def test_transfer_to_110_without_its_adapter_is_refused_not_silently_recorded(seeded_db):
    """A service built without the wiring (as a new script or worker entry
    point would build it) once accepted 转110 and wrote no outbox row."""
    db = seeded_db
    agent = f.user_actor(db, "agent")
    tid = f.ticket(db, "handling")
    bare = TicketService(db)
    with pytest.raises(DomainError) as e:
        bare.act(agent, tid, "transfer_to_110", {"reason": "来电人称遭人持刀威胁"})
    assert e.value.status == 503 and e.value.code == "action_not_wired"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent)
                        .where(TicketEvent.action == "transfer_to_110")) == 0
    assert _outbox_count(db) == 0

    f.service(db).act(agent, tid, "transfer_to_110", {"reason": "来电人称遭人持刀威胁"})
    with db.session() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.ticket_id == tid))
        assert row is not None and row.peer == "police110" and row.kind == "incident.create"


def _wiring_line(path: str) -> dict | None:
    with open(path, errors="replace") as fh:
        for line in fh:
            if " hotline.wiring wiring " in line:
                return json.loads(line.split(" hotline.wiring wiring ", 1)[1])
    return None


def _wait_for_wiring(proc, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _wiring_line(proc.log_path)
        if got is not None:
            return got
        if proc.poll() is not None:
            raise AssertionError(open(proc.log_path).read()[-3000:])
        time.sleep(0.2)
    raise AssertionError(f"no wiring line in {proc.log_path}")


def test_web_worker_and_cli_have_the_same_hooks_peers_and_jobs(seeded_db, database_url, redis_url, redis_conn):
    from tests.helpers import ensure_models

    ensure_models()  # the model files exist before the servers load them
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="wiring-test-secret-key-0123", HOTLINE_ENV="test")
    cli = subprocess.run([sys.executable, "-m", "hotline", "wiring"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    from_cli = json.loads(cli.stdout)

    port = free_port()
    web = start(["serve", "--port", str(port)], {k: v for k, v in env.items() if k != "REDIS_URL"})
    worker = start(["worker"], env | {"REDIS_URL": redis_url})
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v1/workflow", web)
        from_web = _wait_for_wiring(web)
        from_worker = _wait_for_wiring(worker)
    finally:
        stop(web)
        stop(worker)

    assert from_web == from_worker == from_cli
    expected = wiring.build(f.settings(seeded_db), db=seeded_db).describe()
    assert from_cli == expected
    assert "integrations.police110.on_ticket_event" in from_cli["hooks"]
    assert {"transfer_to_110", "push_to_governance"} <= set(from_cli["actions"])
    assert set(from_cli["peers"]) == {"police110", "governance", "telephony"}
    assert {j["name"] for j in from_cli["periodic"]} >= {"sla_sweep", "outbox-sweep", "figures-ledger",
                                                         "classifier-nightly-retrain",
                                                         "unit-router-nightly-retrain"}


def test_the_import_time_decorator_is_gone():
    from dispatch import hooks

    with pytest.raises(RuntimeError, match="hotline/wiring.py"):
        @hooks.on_ticket_event
        def late(s, t, ev, after):  # pragma: no cover - never registered
            pass


def test_the_timer_scheduler_is_the_services_and_gets_each_clocks_warning_and_due(seeded_db):
    """The composition root hands the service dispatch.sweeps.schedule; a
    service given another scheduler times the clocks a dispatch starts
    through it, after commit."""
    from dispatch import sweeps
    from models import SlaClock

    assert f.service(seeded_db).schedule_timer is sweeps.schedule
    timed = []
    svc = TicketService(seeded_db, predictor=lambda: f.FixedPredictor(), hooks=wiring.HOOKS,
                        schedule_timer=lambda clock_id, at: timed.append((clock_id, at)))
    disp = f.user_actor(seeded_db, "dispatcher")
    tid = f.ticket(seeded_db, "accepted")
    svc.act(disp, tid, "dispatch", {"unit_id": f.unit(seeded_db, "gy_rsj").id})
    with seeded_db.session() as s:
        clocks = s.scalars(select(SlaClock).where(SlaClock.ticket_id == tid)).all()
        expected = {(k.id, at) for k in clocks for at in (k.warn_at, k.due_at) if at is not None}
    assert len(clocks) == 2 and expected and set(timed) == expected
