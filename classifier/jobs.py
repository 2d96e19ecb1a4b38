"""Retraining from people's corrections: an rq job, on demand and nightly.

``retrain(database_url)`` trains a candidate on the shipped data plus the
stored corrections whose label is a topic the model knows, scores it and the
active model on the FIXED evaluation split (``classifier.data.holdout_split``:
15 % of the shipped train.csv, stratified, seed 12345, never used to train a
candidate), registers the candidate with both sets of figures and activates
it only if its macro-F1 is not worse than the active one's by more than
``TOLERANCE``.

Fair comparison: a model that was trained on the holdout (the default model
trained on all of train.csv, or none registered at all) would look better
than it is there, so it is then represented by a *reference* model trained
exactly like the candidate but without the corrections.  A registered model
made by this job never saw the holdout and is scored as it is.
"""
from __future__ import annotations

import logging
import os
import uuid

log = logging.getLogger(__name__)

TOLERANCE = 0.005
QUEUE = "training"          # runtime.jobs.QUEUE_TRAINING
JOB_TIMEOUT = 1800

_SUMMARY_KEYS = ("n", "macro_f1", "accuracy", "per_label", "threshold", "auto_routed_share",
                 "auto_routed_accuracy", "ece", "top3_accuracy", "latency_ms_p50")


def _summary(metrics: dict) -> dict:
    return {k: metrics[k] for k in _SUMMARY_KEYS if k in metrics}


def _job_id() -> str:
    try:
        from rq import get_current_job

        job = get_current_job()
        return job.id if job else "inline"
    except Exception:
        return "inline"


def retrain(database_url: str | None = None, fast: bool = False, tolerance: float = TOLERANCE,
            note: str = "") -> dict:
    """Train, compare on the fixed split, register, maybe activate.

    Plain module-level function with plain arguments, so rq can run it:
    ``Queue("training", connection=r).enqueue(retrain, url)``.  ``fast``
    selects the smaller test configuration.  Returns a summary dict.
    """
    from models import Database

    from classifier import data, model_dir, registry
    from classifier.evaluate import evaluate
    from classifier.model import Predictor, TrainConfig, train

    database_url = database_url or os.environ.get("DATABASE_URL", "")
    if not database_url:
        raise ValueError("retrain needs a database URL (argument or DATABASE_URL)")
    jid = _job_id()
    log.info("[job %s] retraining the classifier", jid)
    cfg = TrainConfig.fast() if fast else TrainConfig()
    db = Database(database_url)
    try:
        texts, labels = data.shipped()
        tr_t, tr_y, ho_t, ho_y = data.holdout_split(texts, labels)
        known = set(labels)
        held_out = set(ho_t)
        with db.session() as s:
            rows = registry.corrections(s)
            used = [(c.id, c.text, c.label) for c in rows
                    if c.label in known and (c.text or "").strip() and c.text not in held_out]
            active = registry.active_version(s)
            active_info = (active.version, str(registry.resolve_path(active.path))) if active else None
        ignored = len(rows) - len(used)
        log.info("[job %s] %d corrections used, %d ignored (unknown label, empty, or in the holdout)",
                 jid, len(used), ignored)

        candidate = train(tr_t + [t for _, t, _ in used], tr_y + [y for _, _, y in used], cfg,
                          note=note or f"retrain: shipped data minus holdout + {len(used)} corrections",
                          quiet=True,
                          extra_meta={"holdout_excluded": True, "n_corrections": len(used)})
        candidate.version = f"{candidate.version}-{uuid.uuid4().hex[:4]}"
        path = model_dir() / f"{candidate.version}.joblib"
        candidate.save(path)
        cand_metrics = _summary(evaluate(candidate, ho_t, ho_y, latency_samples=20))

        basis = "reference"
        compared = None
        if active_info is not None:
            try:
                current = Predictor.load(active_info[1])
                if current.meta.get("holdout_excluded"):
                    compared, basis = current, "active"
            except Exception:
                log.exception("[job %s] active model %s could not be loaded; using a reference",
                              jid, active_info[0])
        if compared is None:
            compared = train(tr_t, tr_y, cfg, quiet=True, note="reference: shipped data minus holdout")
        active_metrics = _summary(evaluate(compared, ho_t, ho_y, latency_samples=20))

        activate = cand_metrics["macro_f1"] >= active_metrics["macro_f1"] - tolerance
        decision = {
            "activated": activate,
            "rule": f"candidate macro-F1 >= active macro-F1 - {tolerance}",
            "candidate_macro_f1": cand_metrics["macro_f1"],
            "active_macro_f1": active_metrics["macro_f1"],
            "active_version": active_info[0] if active_info else None,
            "active_scored_as": basis,
        }
        metrics = {"holdout": cand_metrics, "active_on_holdout": active_metrics,
                   "decision": decision, "train": candidate.meta,
                   "corrections_used": len(used), "corrections_ignored": ignored,
                   "evaluation_split": {"fraction": data.HOLDOUT_FRACTION, "seed": data.HOLDOUT_SEED,
                                        "n": len(ho_t)}}
        with db.session() as s:
            row = registry.register(s, path, metrics=metrics, note=candidate.meta["note"])
            if used:
                for c in registry.corrections(s):
                    if c.id in {i for i, _, _ in used}:
                        c.used_in_version = candidate.version
            if activate:
                registry.activate(s, row.version)
        log.info("[job %s] candidate %s macro-F1 %.4f vs active %.4f (%s): %s", jid, candidate.version,
                 cand_metrics["macro_f1"], active_metrics["macro_f1"], basis,
                 "activated" if activate else "kept the active model")
        return {"version": candidate.version, "path": str(path), **decision,
                "candidate": cand_metrics, "active": active_metrics,
                "corrections_used": len(used), "corrections_ignored": ignored}
    finally:
        db.dispose()


def nightly_retrain(min_hours: float = 20.0) -> dict | None:
    """Zero-argument entry for periodic runners (``runtime.periodic``
    declares functions by path and calls them without arguments): retrain
    from DATABASE_URL unless a retrained version was registered in the last
    ``min_hours`` — so a runner that fires at every start costs one run a day."""
    url = due_for_retrain("topic", "retrain:%", min_hours)
    return retrain(url) if url else None


def due_for_retrain(kind: str, note_like: str, min_hours: float) -> str | None:
    """DATABASE_URL when no version of ``kind`` whose note matches
    ``note_like`` was registered in the last ``min_hours``, else None (also
    None, with a warning, when DATABASE_URL is not set)."""
    import datetime as dt

    from sqlalchemy import select

    from models import Database, ModelVersion, utcnow

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        log.warning("nightly %s retrain skipped: DATABASE_URL is not set", kind)
        return None
    db = Database(url)
    try:
        with db.session() as s:
            since = utcnow() - dt.timedelta(hours=min_hours)
            recent = s.scalar(select(ModelVersion.version).where(ModelVersion.created_at >= since,
                                                                 ModelVersion.kind == kind,
                                                                 ModelVersion.note.like(note_like)))
    finally:
        db.dispose()
    if recent:
        log.info("nightly %s retrain skipped: %s was trained less than %s h ago", kind, recent, min_hours)
        return None
    return url


def enqueue_retrain(connection, database_url: str, **kwargs):
    """Queue a retraining run now (on demand)."""
    from rq import Queue

    q = Queue(QUEUE, connection=connection)
    return q.enqueue(retrain, args=(database_url,), kwargs=kwargs, job_timeout=JOB_TIMEOUT)
