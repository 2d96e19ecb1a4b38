"""Retraining the unit router from the platform's own history (an rq job).

History, read from the database (``history(session)``):

* **confirmed**: a ticket closed (办结) or archived by its unit with no
  upheld return: (text, that unit) — the unit acted, so it was the right one;
* **correction**: a ticket whose return (退单) was upheld: (text, the unit it
  was re-dispatched to by the last upheld return) — the first unit was wrong;
* **unit_override**: an agent's choice of another unit at intake
  (``label_corrections`` with source ``unit_override``).

A ticket counts once: a correction wins over an override, an override over
a confirmation.  Labels are unit codes, or ``district`` for any district.

``retrain_units(database_url)`` trains a candidate on the shipped unit
training set minus a FIXED evaluation split plus the history, scores the
candidate and the active router at unit level on that split (15 % of the
shipped unit-labelled set, seed 12345, plus the hand-annotated
``data/routing/tune.csv``), registers the candidate (registry kind
``units``) with both sets of figures and activates it only if its unit
accuracy and its first-dispatch accuracy are each no worse than the active
router's by more than ``TOLERANCE``.  As for the topic model, an active
router that saw the split (the default one) is represented by a reference
trained like the candidate without the history.
"""
from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)

TOLERANCE = 0.005
HOLDOUT_FRACTION = 0.15
HOLDOUT_SEED = 12345


def history(session) -> list[dict]:
    """(text, label, source, ticket_id) examples from tickets and corrections."""
    from sqlalchemy import select

    from dispatch.intake import unit_label
    from models import LabelCorrection, Ticket, TicketEvent, Unit

    by_ticket: dict[int, dict] = {}
    rank = {"confirmed": 0, "unit_override": 1, "correction": 2}

    def put(ticket_id, text, label, source):
        old = by_ticket.get(ticket_id)
        if label and (old is None or rank[source] >= rank[old["source"]]):
            by_ticket[ticket_id] = {"ticket_id": ticket_id, "text": text, "label": label, "source": source}

    upheld: dict[int, str] = {}
    for ev in session.scalars(select(TicketEvent).where(TicketEvent.action == "uphold_return")
                              .order_by(TicketEvent.at, TicketEvent.id)):
        code = (ev.payload or {}).get("unit")
        if code:
            upheld[ev.ticket_id] = code
    units = {u.code: u for u in session.scalars(select(Unit))}
    closed = session.scalars(select(Ticket).where(Ticket.status.in_(("closed", "archived")),
                                                  Ticket.responsible_unit_id.is_not(None))).all()
    for t in closed:
        if t.id not in upheld and t.responsible_unit is not None and not t.responsible_unit.is_platform:
            put(t.id, _text(t), unit_label(t.responsible_unit), "confirmed")
    for tid, code in upheld.items():
        t = session.get(Ticket, tid)
        u = units.get(code)
        if t is not None and u is not None and not u.is_platform:
            put(tid, _text(t), unit_label(u), "correction")
    out = list(by_ticket.values())
    seen = {e["ticket_id"] for e in out}
    for c in session.scalars(select(LabelCorrection).where(LabelCorrection.source == "unit_override")):
        if c.ticket_id in seen and by_ticket[c.ticket_id]["source"] == "correction":
            continue
        if c.ticket_id in by_ticket:
            by_ticket[c.ticket_id].update(label=c.label, source="unit_override")
        else:
            out.append({"ticket_id": c.ticket_id, "text": c.text, "label": c.label, "source": "unit_override"})
    return out


def _text(t) -> str:
    subject = (t.subject or "").strip()
    body = t.description or ""
    return body if not subject or body.startswith(subject) else subject + " " + body


def evaluation_split(texts, labels):
    """(train texts, train labels, split texts, split labels): the fixed
    15 % of the shipped unit-labelled set (stratified where a unit has
    enough examples), plus tune.csv in the split."""
    from sklearn.model_selection import train_test_split

    from classifier import units

    y = np.asarray(labels)
    counts = {u: int((y == u).sum()) for u in set(labels)}
    common = max(counts, key=counts.get)
    # units with too few examples to split are stratified with the largest
    strat = [u if counts[u] >= 7 else common for u in labels]
    idx = np.arange(len(texts))
    tr, ho = train_test_split(idx, test_size=HOLDOUT_FRACTION, random_state=HOLDOUT_SEED, stratify=strat)
    tr, ho = sorted(tr), sorted(ho)
    ev_t, ev_y = [texts[i] for i in ho], [labels[i] for i in ho]
    tune_t, tune_y = units.tune_set()
    ev_t, ev_y = ev_t + tune_t, ev_y + tune_y
    return [texts[i] for i in tr], [labels[i] for i in tr], ev_t, ev_y


def score(router, texts, labels, lexicon) -> dict:
    from classifier.model import Docs

    preds = router.predict_docs(Docs.of(texts), lexicon, explain=0)
    right = np.array([p.unit == y for p, y in zip(preds, labels)])
    auto = np.array([not p.abstain for p in preds])
    top3 = np.array([y in [u for u, _ in p.top] for p, y in zip(preds, labels)])
    n = len(labels)
    per_unit = {}
    for u in sorted(set(labels)):
        sup = sum(1 for y in labels if y == u)
        pred_n = sum(1 for p in preds if p.unit == u)
        tp = sum(1 for p, y in zip(preds, labels) if p.unit == y == u)
        per_unit[u] = {"precision": round(tp / pred_n, 4) if pred_n else None,
                       "recall": round(tp / sup, 4) if sup else None, "support": sup}
    return {"n": n, "accuracy": round(float(right.mean()), 4),
            "first_dispatch_accuracy": round(float((right & auto).sum() / n), 4),
            "auto_routed_share": round(float(auto.mean()), 4),
            "auto_routed_accuracy": round(float(right[auto].mean()), 4) if auto.any() else None,
            "top3_accuracy": round(float(top3.mean()), 4), "per_unit": per_unit}


def retrain_units(database_url: str | None = None, fast: bool = False, tolerance: float = TOLERANCE,
                  note: str = "") -> dict:
    from sqlalchemy import select

    from classifier import lexicon as lx
    from classifier import model_dir, registry, units
    from classifier.jobs import _job_id
    from classifier.text import normalize
    from models import Database, LabelCorrection

    database_url = database_url or os.environ["DATABASE_URL"]
    job = _job_id()
    db = Database(database_url)
    try:
        lexicon = lx.Lexicon(lx.read_csv())
        texts, labels, _ = units.training_set(lexicon, with_tune=False)
        tr_t, tr_y, ev_t, ev_y = evaluation_split(texts, labels)
        held = {normalize(t)[:60] for t in ev_t}
        with db.session() as s:
            hist = history(s)
            active = registry.active_version(s, "units")
            active_info = (active.version, str(registry.resolve_path(active.path))) if active else None
        known = set(labels)
        used = [h for h in hist if h["label"] in known and h["text"].strip() and normalize(h["text"])[:60] not in held]
        log.info("[job %s] unit retrain: %d history examples used of %d", job, len(used), len(hist))
        cfg = units.UnitConfig.fast() if fast else units.UnitConfig()
        candidate = units.train(tr_t + [h["text"] for h in used], tr_y + [h["label"] for h in used], cfg,
                                lexicon=lexicon, quiet=True,
                                note=note or f"unit retrain: shipped data minus split + {len(used)} history examples",
                                extra_meta={"holdout_excluded": True, "n_history": len(used),
                                            "history_sources": {k: sum(1 for h in used if h["source"] == k)
                                                                for k in ("confirmed", "correction", "unit_override")}})
        cand = score(candidate, ev_t, ev_y, lexicon)
        scored_as = "reference"
        current = None
        if active_info:
            try:
                current = units.UnitRouter.load(active_info[1])
                if current.meta.get("holdout_excluded"):
                    scored_as = "active"
                else:
                    current = None
            except Exception:
                log.exception("[job %s] active unit router %s unloadable; comparing with a reference", job,
                              active_info[0])
                current = None
        if current is None:
            current = units.train(tr_t, tr_y, cfg, lexicon=lexicon, quiet=True,
                                  note="reference: shipped data minus split")
        act = score(current, ev_t, ev_y, lexicon)
        activate = (cand["accuracy"] >= act["accuracy"] - tolerance
                    and cand["first_dispatch_accuracy"] >= act["first_dispatch_accuracy"] - tolerance)
        decision = {"activated": activate, "tolerance": tolerance,
                    "rule": f"unit accuracy and first-dispatch accuracy each ≥ active − {tolerance}"}
        path = model_dir() / f"{candidate.version}.joblib"
        candidate.save(path)
        metrics = {"kind": "units", "holdout": cand, "active_on_holdout": act, "decision": decision,
                   "train": candidate.meta, "history_used": len(used), "history_total": len(hist),
                   "evaluation_split": {"n": len(ev_y), "seed": HOLDOUT_SEED, "fraction": HOLDOUT_FRACTION,
                                        "plus": "data/routing/tune.csv"}}
        with db.session() as s:
            row = registry.register(s, path, metrics=metrics, note=candidate.meta["note"], kind="units")
            if activate:
                registry.activate(s, row.version)
            ids = [h["ticket_id"] for h in used if h["source"] == "unit_override" and h["ticket_id"]]
            if ids:
                for c in s.scalars(select(LabelCorrection).where(LabelCorrection.source == "unit_override",
                                                                  LabelCorrection.ticket_id.in_(ids))):
                    c.used_in_version = row.version
        log.info("[job %s] unit router %s: accuracy %.4f vs %.4f (%s): %s", job, candidate.version,
                 cand["accuracy"], act["accuracy"], scored_as, "activated" if activate else "kept the active one")
        return {"version": candidate.version, "activated": activate, "active_scored_as": scored_as,
                "candidate": cand, "active": act, "history_used": len(used), "history_total": len(hist),
                "active_version": active_info[0] if active_info else None}
    finally:
        db.dispose()


def nightly_retrain_units(min_hours: float = 20.0) -> dict | None:
    """Zero-argument entry for the periodic runner: retrain the unit router
    from DATABASE_URL unless a unit retrain was registered in the last
    ``min_hours`` (one run a day, as for the topic model)."""
    from classifier.jobs import due_for_retrain

    url = due_for_retrain("units", "unit retrain:%", min_hours)
    return retrain_units(url) if url else None


def enqueue_retrain_units(connection, database_url: str, **kwargs):
    from rq import Queue

    from classifier.jobs import JOB_TIMEOUT, QUEUE

    return Queue(QUEUE, connection=connection).enqueue(retrain_units, args=(database_url,), kwargs=kwargs,
                                                       job_timeout=JOB_TIMEOUT)
