"""Learning from corrections: the retraining job on a real rq worker and
Redis, registering the candidate with its figures beside the active one's."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from classifier import jobs, registry
from models import LabelCorrection, ModelVersion

CORRECTIONS = [
    ("小区电梯经常困人，物业公司不维修，质监部门管不管", "商贸旅游", "城乡建设"),
    ("医院收费不合理，住院押金太高，医保报销比例低", "卫生计生", "劳动和社会保障"),
    ("公交站台被拆除，附近居民乘车不便", "交通运输", "城乡建设"),
    ("这个标签模型不认识", "政法", "城乡建设"),            # not a topic the model knows
]


def _add_corrections(db):
    with db.session() as s:
        for text, label, predicted in CORRECTIONS:
            registry.add_correction(s, text, label, "intake_override", predicted_label=predicted)


def test_retrain_on_rq_worker(db, database_url, redis_conn, model_dir):
    from rq import Queue, SimpleWorker

    _add_corrections(db)
    q = Queue(jobs.QUEUE, connection=redis_conn)
    # tolerance 1.0: a candidate is never "worse" by more than 1 macro-F1,
    # so this run must activate it
    job = q.enqueue(jobs.retrain, args=(database_url,), kwargs={"fast": True, "tolerance": 1.0},
                    job_timeout=600)
    SimpleWorker([q], connection=redis_conn).work(burst=True)
    job.refresh()
    assert job.is_finished, job.latest_result().exc_string if job.latest_result() else job.get_status()
    result = job.return_value()
    assert result["activated"] is True
    assert result["active_scored_as"] == "reference"   # nothing registered yet
    assert result["corrections_used"] == 3 and result["corrections_ignored"] == 1

    with db.session() as s:
        row = s.scalar(select(ModelVersion).where(ModelVersion.version == result["version"]))
        assert row is not None and row.active and row.activated_at is not None
        assert (model_dir / row.path).exists()
        m = row.metrics
        assert m["holdout"]["n"] == m["active_on_holdout"]["n"] == m["evaluation_split"]["n"] > 200
        for side in ("holdout", "active_on_holdout"):
            assert 0.5 < m[side]["macro_f1"] <= 1.0 and "per_label" in m[side]
        assert m["decision"]["activated"] is True
        assert m["train"]["holdout_excluded"] is True and m["train"]["n_corrections"] == 3
        used = {c.label: c.used_in_version for c in s.scalars(select(LabelCorrection))}
        assert used["政法"] is None
        assert {used[k] for k in ("商贸旅游", "卫生计生", "交通运输")} == {result["version"]}
        assert row.data_hash == m["train"]["data_hash"]

    # A second run that cannot pass the bar (tolerance −1: it would have to
    # beat the active model by a whole macro-F1 point of 1.0): registered,
    # figures side by side, the active model kept and scored as itself.
    second = jobs.retrain(database_url, fast=True, tolerance=-1.0)
    assert second["activated"] is False
    assert second["active_scored_as"] == "active"
    assert second["active_version"] == result["version"]
    assert second["active"]["macro_f1"] == pytest.approx(result["candidate"]["macro_f1"])
    with db.session() as s:
        assert registry.active_version(s).version == result["version"]
        cand = registry.get_version(s, second["version"])
        assert not cand.active and cand.metrics["decision"]["activated"] is False


def test_nightly_retrain_runs_once_a_day(db, database_url, model_dir, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(jobs, "retrain", lambda url: {"ran": url})
    assert jobs.nightly_retrain() == {"ran": database_url}       # nothing recent: runs
    m = _small_model_file(model_dir)
    with db.session() as s:
        registry.register(s, m, note="retrain: shipped data minus holdout + 0 corrections")
    assert jobs.nightly_retrain() is None                          # one from today: skipped
    monkeypatch.delenv("DATABASE_URL")
    assert jobs.nightly_retrain() is None


def _small_model_file(model_dir):
    """A small real model file in the test's model directory."""
    from classifier import data
    from classifier.model import TrainConfig, train

    t, y = data.shipped()
    m = train(t[:200], y[:200], TrainConfig.fast(), quiet=True)
    path = model_dir / "small.joblib"
    m.save(path)
    return path
