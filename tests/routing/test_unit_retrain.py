"""Retraining the unit router from confirmed history on a real rq worker and
Redis: closed tickets with no upheld return are confirmed examples, an
upheld return and an agent's unit override are corrections; the candidate
is compared with the active router at unit level before it is activated,
and the process follows the registry's active unit router."""
from __future__ import annotations

from sqlalchemy import select

from classifier import registry, unit_jobs, units
from dispatch.intake import unit_label
from models import LabelCorrection, ModelVersion, Ticket, TicketEvent
from tests.dispatch import factories as f

HISTORY = [
    ("closed", "gy_cgj", "小区门口路灯不亮已经一个月了", "路灯不亮"),
    ("archived", "gy_swj", "我们楼里停水两天了，没有任何通知", "停水"),
    ("closed", "gy_rsj", "老板拖欠我们三个月工资不发", "欠薪"),
]


def _history(db):
    ids = [f.ticket(db, status, unit_code=code, description=text, subject=subject)
           for status, code, text, subject in HISTORY]
    # An upheld return: first sent to 住建局, re-dispatched to 城管局.
    returned = f.ticket(db, "dispatched", unit_code="gy_cgj", description="人行道上的井盖丢了很危险", subject="井盖")
    with db.session() as s:
        s.add(TicketEvent(ticket_id=returned, action="uphold_return", from_status="returned",
                          to_status="dispatched", actor_label="李派单", reason="属城管职责",
                          payload={"unit": "gy_cgj", "previous_unit_id": None}))
        # An agent's choice of unit at intake.
        override = s.get(Ticket, ids[0])
        s.add(LabelCorrection(ticket_id=None, text="菜市场摊贩占道经营，堵塞交通", predicted_label="gy_scjgj",
                              label="gy_cgj", source="unit_override"))
        assert unit_label(override.responsible_unit) == "gy_cgj"
    return ids, returned


def test_history_reads_confirmed_corrected_and_overridden_examples(seeded_db):
    ids, returned = _history(seeded_db)
    with seeded_db.session() as s:
        h = {(e["source"], e["label"]) for e in unit_jobs.history(s)}
    assert h == {("confirmed", "gy_cgj"), ("confirmed", "gy_swj"), ("confirmed", "gy_rsj"),
                 ("correction", "gy_cgj"), ("unit_override", "gy_cgj")}


def test_unit_retrain_on_rq_worker_compares_before_activating(seeded_db, database_url, redis_conn, tmp_path,
                                                             monkeypatch):
    import classifier
    from rq import Queue, SimpleWorker

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HOTLINE_MODEL_DIR", str(models))
    _history(seeded_db)
    q = Queue("training", connection=redis_conn)
    job = q.enqueue(unit_jobs.retrain_units, args=(database_url,), kwargs={"fast": True, "tolerance": 1.0},
                    job_timeout=900)
    SimpleWorker([q], connection=redis_conn).work(burst=True)
    job.refresh()
    assert job.is_finished, job.latest_result().exc_string if job.latest_result() else job.get_status()
    first = job.return_value()
    assert first["activated"] is True and first["active_scored_as"] == "reference"
    assert first["history_used"] == first["history_total"] == 5
    for side in ("candidate", "active"):
        m = first[side]
        assert m["n"] > 300 and 0.5 < m["accuracy"] <= 1 and "gy_cgj" in m["per_unit"]
    with seeded_db.session() as s:
        row = s.scalar(select(ModelVersion).where(ModelVersion.version == first["version"]))
        assert row.kind == "units" and row.active and (models / row.path).exists()
        assert row.metrics["decision"]["activated"] and row.metrics["train"]["n_history"] == 5
        assert registry.active_version(s) is None          # the topic model's registry is untouched
        assert registry.active_version(s, "units").version == first["version"]

    # The process follows the registry's active unit router.
    classifier._reset_for_tests()
    units.set_router(None)
    try:
        classifier.set_registry_source(seeded_db.Session)
        assert units.get_router().version == first["version"]
    finally:
        classifier._reset_for_tests()
        units.set_router(None)

    # A candidate that cannot pass the bar is registered but not activated;
    # the active router (made by this job, it never saw the split) is scored as itself.
    second = unit_jobs.retrain_units(database_url, fast=True, tolerance=-1.0)
    assert second["activated"] is False and second["active_scored_as"] == "active"
    assert second["active"] == first["candidate"]
    with seeded_db.session() as s:
        assert registry.active_version(s, "units").version == first["version"]


def test_nightly_unit_retrain_runs_once_a_day_apart_from_the_topic_model(seeded_db, database_url, monkeypatch):
    from hotline import wiring

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(unit_jobs, "retrain_units", lambda url: {"ran": url})
    job = {j.name: j for j in wiring.periodic_jobs()}["unit-router-nightly-retrain"]
    assert job.func is unit_jobs.nightly_retrain_units and job.queue == "training"

    def add(version, kind, note):
        with seeded_db.session() as s:
            s.add(ModelVersion(version=version, kind=kind, path=f"{version}.joblib", metrics={}, data_hash="",
                               active=False, note=note))

    assert unit_jobs.nightly_retrain_units() == {"ran": database_url}        # nothing recent: runs
    add("topic-today", "topic", "retrain: shipped data minus holdout + 0 corrections")
    assert unit_jobs.nightly_retrain_units() == {"ran": database_url}        # a topic retrain does not count
    add("units-today", "units", "unit retrain: shipped data minus split + 0 history examples")
    assert unit_jobs.nightly_retrain_units() is None                         # one from today: skipped
    monkeypatch.delenv("DATABASE_URL")
    assert unit_jobs.nightly_retrain_units() is None
