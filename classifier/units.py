"""Unit-level routing: text → the unit that acts (a unit code, or
``district``), with a calibrated confidence, the top three, and the
lexicon entries and words that decided.

Two parts, combined:

* a unit model — the same features and LinearSVC as the topic model
  (``classifier.model``), trained on unit labels:
  - the platform's own dispatch history: replies of unlabelled.csv that
    name the unit that answered (``classifier.replies``; shipped as
    ``data/routing/reply_labels.csv.gz``),
  - the shipped train.csv, each topic turned into a unit: the unit of the
    lexicon's strongest matter among the units that topic can mean (a
    城乡建设 message about 路灯 → gy_cgj), else the topic's catalogue unit;
* the lexicon: per unit, the summed weights of its phrases in the message
  and in its head (``classifier.lexicon.votes``).

The combiner is a conditional logit over units,
``score(u) = a·log p_model(u) + b·votes(u) + c·head_votes(u) + bias(u)``,
fitted by log-loss on out-of-fold model probabilities (5 folds), so its
softmax is the calibrated confidence.  The abstain threshold is chosen on
the same out-of-fold scores: the lowest confidence at which the
auto-routed examples reach ``target_precision``.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from classifier import lexicon as lx
from classifier.model import (Docs, Predictor, TemperatureCalibrator, TrainConfig, _Base, _calibrated,
                              _softmax, choose_threshold, data_hash)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1

#: a first-level topic of the labelled data → the units it can mean
TOPIC_UNITS = {
    "劳动和社会保障": ("gy_rsj", "gy_ybj", "gy_zjj"),
    "教育文体": ("gy_jyj", "gy_wlj"),
    "卫生计生": ("gy_wjw", "gy_scjgj", "gy_ybj"),
    "环境保护": ("gy_sthjj",),
    "交通运输": ("gy_jtysj", "gy_gaj"),
    "商贸旅游": ("gy_scjgj", "gy_wlj", "gy_gaj"),
    "城乡建设": ("gy_zjj", "gy_cgj", "gy_swj", "gy_gdj", "gy_rqgs", "gy_zrzyj", "gy_jtysj", "gy_gaj",
                 "district"),
}


@dataclass
class UnitConfig:
    model: TrainConfig = field(default_factory=lambda: TrainConfig(target_precision=0.95))
    folds: int = 5
    target_precision: float = 0.95
    bias_l2: float = 1.0
    seed: int = 0

    @classmethod
    def fast(cls) -> "UnitConfig":
        return cls(model=TrainConfig(char_ngrams=(1, 2), folds=3), folds=3)


@dataclass(frozen=True)
class UnitPrediction:
    unit: str                              # unit code or "district"
    confidence: float
    top: list[tuple[str, float]]           # best three
    abstain: bool
    hits: list[lx.Hit]                     # lexicon entries found
    explain: list[tuple[str, float]]       # words that pushed the unit model
    model_version: str
    scores: dict[str, float] = field(default_factory=dict)   # every unit label's probability

    def reasons(self, n: int = 5) -> list[dict]:
        """The lexicon entries that voted for the chosen unit, strongest
        first, then the model's words."""
        out, seen = [], set()
        for h in sorted(self.hits, key=lambda h: -lx.hit_weight(h)):
            if h.entry.unit == self.unit and h.entry.phrase not in seen:
                seen.add(h.entry.phrase)
                out.append({"kind": "lexicon", "phrase": h.entry.phrase, "matter": h.entry.matter,
                            "entry_id": h.entry.entry_id})
        for word, w in self.explain:
            if len(out) >= n + 3:
                break
            if word not in seen:
                out.append({"kind": "word", "word": word, "weight": w})
        return out[: n + 3]

    def matter(self) -> str | None:
        """The strongest lexicon matter that agrees with the unit."""
        best, best_w = None, 0.0
        for h in self.hits:
            if h.entry.unit != self.unit:
                continue
            w = lx.hit_weight(h) + (0.5 if h.in_head else 0.0)
            if w > best_w:
                best, best_w = h.entry.matter, w
        return best


# ------------------------------------------------------------------ data
def shipped_replies() -> tuple[list[str], list[str]]:
    path = lx.ROUTING_DATA / "reply_labels.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = [(r["text"], r["unit"]) for r in csv.DictReader(f)]
    return [t for t, _ in rows], [u for _, u in rows]


def topic_to_unit(text: str, topic: str, lexicon: lx.Lexicon, catalogue: dict[str, str]) -> str:
    allowed = TOPIC_UNITS.get(topic, ())
    whole, head = lx.votes(lexicon.match(text), list(allowed))
    scores = [w + h for w, h in zip(whole, head)]
    if scores and max(scores) > 0:
        return allowed[int(np.argmax(scores))]
    return catalogue.get(topic) or (allowed[0] if allowed else "district")


def tune_set() -> tuple[list[str], list[str]]:
    """The 60 hand-annotated messages of ``data/routing/tune.csv``."""
    with open(lx.ROUTING_DATA / "tune.csv", encoding="utf-8", newline="") as f:
        rows = [(r["text"], r["unit"]) for r in csv.DictReader(f) if r.get("text") and r.get("unit")]
    return [t for t, _ in rows], [u for _, u in rows]


def training_set(lexicon: lx.Lexicon | None = None, with_tune: bool = True
                 ) -> tuple[list[str], list[str], list[str]]:
    """(texts, unit labels, source of each) from the shipped data: train.csv
    (topics turned into units), the reply-derived labels and, unless
    ``with_tune`` is false (the retrain job scores candidates on it), the
    hand-annotated tune.csv."""
    from classifier import data

    lexicon = lexicon or lx.Lexicon(lx.read_csv())
    catalogue = lx.read_catalogue()
    texts, topics = data.shipped()
    units = [topic_to_unit(t, y, lexicon, catalogue) for t, y in zip(texts, topics)]
    rt, ru = shipped_replies()
    ru = [guide_first(t, u, lexicon) for t, u in zip(rt, ru)]
    tt, tu = tune_set() if with_tune else ([], [])
    return (texts + rt + tt, units + ru + tu,
            ["train.csv"] * len(texts) + ["replies"] * len(rt) + ["tune"] * len(tt))


def guide_first(text: str, unit: str, lexicon: lx.Lexicon) -> str:
    """A reply answered by a town or street office is the district's only
    when no department's matter is clearly named: the guide sends a village
    road to 交通运输局 first even if the township answered in the end.
    Clearly = lexicon votes of at least 3 for one department, and more
    than any other."""
    if unit != "district":
        return unit
    tally: dict[str, float] = {}
    for h in lexicon.match(text):
        tally[h.entry.unit] = tally.get(h.entry.unit, 0.0) + lx.hit_weight(h) * (2 if h.in_head else 1)
    tally.pop("district", None)
    if not tally:
        return unit
    best = max(tally, key=tally.get)
    ranked = sorted(tally.values(), reverse=True)
    if ranked[0] >= 3 and (len(ranked) == 1 or ranked[0] > ranked[1]):
        return best
    return unit


# ------------------------------------------------------------------ model
def _features(labels: Sequence[str], lexicon: lx.Lexicon, norm_texts: Sequence[str]) -> np.ndarray:
    """(n, units, 3): whole-text votes, head votes, and whether the unit has
    the most votes (whole + head, at least one hit)."""
    out = np.zeros((len(norm_texts), len(labels), 2))
    for i, t in enumerate(norm_texts):
        whole, head = lx.votes(lexicon.match(t, normalized=True), labels)
        out[i, :, 0], out[i, :, 1] = whole, head
    return with_leader(out)


def with_leader(votes: np.ndarray) -> np.ndarray:
    """Whole-text and head votes (n, units, 2) → plus the lexicon's leader
    indicator (n, units, 3).  The leader lets the combiner trust a clear
    lexicon winner more than its vote count alone says (chosen by
    cross-validation: bench/routing_cv.py, docs/routing.md)."""
    total = votes[:, :, 0] + votes[:, :, 1]
    top = total.max(axis=1, keepdims=True)
    leader = ((total == top) & (top > 0)).astype(float)
    return np.concatenate([votes, leader[:, :, None]], axis=2)


def _scores(params: np.ndarray, logp: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """params: a, then per vote feature f (whole-text votes, head votes, …)
    one weight per unit, then a bias per unit."""
    k, nf = logp.shape[1], votes.shape[2]
    w = params[1:1 + nf * k].reshape(nf, k)
    return params[0] * logp + np.einsum("nkf,fk->nk", votes, w) + params[1 + nf * k:]


def fit_combiner(logp: np.ndarray, votes: np.ndarray, y_idx: np.ndarray, l2: float) -> np.ndarray:
    """Conditional logit by L-BFGS with its exact gradient: mean log-loss,
    per-unit vote weights shrunk toward their mean (rare units borrow
    strength), biases toward 0."""
    from scipy.optimize import minimize

    n, k = logp.shape
    nf = votes.shape[2]
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y_idx] = 1.0

    def loss(params):
        s = _scores(params, logp, votes)
        s = s - s.max(axis=1, keepdims=True)
        lse = np.log(np.exp(s).sum(axis=1))
        nll = np.mean(lse - s[np.arange(n), y_idx])
        g = (np.exp(s - lse[:, None]) - onehot) / n               # d nll / d score
        w = params[1:1 + nf * k].reshape(nf, k)
        bias = params[1 + nf * k:]
        centred = w - w.mean(axis=1, keepdims=True)
        reg = l2 / n * (np.sum(centred ** 2) + np.sum(bias ** 2))
        grad = np.concatenate([[np.sum(g * logp)],
                               (np.einsum("nk,nkf->fk", g, votes) + 2 * l2 / n * centred).ravel(),
                               g.sum(axis=0) + 2 * l2 / n * bias])
        return nll + reg, grad

    x0 = np.concatenate([[1.0], np.full(nf * k, 0.3), np.zeros(k)])
    return minimize(loss, x0, jac=True, method="L-BFGS-B").x


class UnitRouter(Predictor):
    """A unit model (``Predictor`` over unit labels) with the combiner's
    parameters; its file is ``units.joblib``."""

    _format, _key = FORMAT_VERSION, "unit_router"

    def __init__(self, base: _Base, calibrator: TemperatureCalibrator, params: np.ndarray,
                 threshold: float, version: str, meta: dict):
        super().__init__(base, calibrator, threshold, version, meta)
        self.params = params

    def predict(self, text: str, lexicon: lx.Lexicon, subject: str = "", explain: int = 5) -> UnitPrediction:
        from classifier.model import _join

        return self.predict_docs(Docs.of([_join(subject, text)]), lexicon, explain)[0]

    def predict_docs(self, docs: Docs, lexicon: lx.Lexicon, explain: int = 5) -> list[UnitPrediction]:
        rows, _ = self.base.features.rows(docs)
        coef_t = self.base.coef_t()
        margins = np.array([v @ coef_t[c] for c, v in rows]).reshape(len(rows), -1)
        p_model = _calibrated(self.calibrator, margins + self.base.svc.intercept_)
        labels = self.labels
        out = []
        for i, norm in enumerate(docs.norm):
            hits = lexicon.match(norm, normalized=True)
            whole, head = lx.votes(hits, labels)
            votes = np.stack([np.array(whole), np.array(head)], axis=1)[None]
            if len(self.params) > 1 + 3 * len(labels):      # fitted with the leader feature
                votes = with_leader(votes)
            p = _softmax(_scores(self.params, np.log(np.clip(p_model[i:i + 1], 1e-9, None)), votes))[0]
            order = np.argsort(-p)
            k = int(order[0])
            words = self._explain(rows[i], k, explain) if explain else []
            out.append(UnitPrediction(unit=labels[k], confidence=float(p[k]),
                                      top=[(labels[j], float(p[j])) for j in order[:3]],
                                      abstain=bool(p[k] < self.threshold), hits=hits, explain=words,
                                      model_version=self.version,
                                      scores={lb: round(float(x), 5) for lb, x in zip(labels, p)}))
        return out


def _progress(msg: str, quiet: bool) -> None:
    if not quiet:
        import sys

        print(f"[units] {msg}", file=sys.stderr, flush=True)


def out_of_fold(texts: Sequence[str], y: np.ndarray, cfg: UnitConfig, lexicon: lx.Lexicon,
                quiet: bool = True) -> tuple[Docs, np.ndarray, np.ndarray, np.ndarray]:
    """(docs, classes, lexicon votes, out-of-fold unit-model margins) of a
    training set; a class absent from a training fold gets a very low
    margin there."""
    from sklearn.model_selection import StratifiedKFold

    from classifier import text as textprep

    t0 = time.perf_counter()
    textprep.ensure_jieba()
    docs = Docs.of(texts, cfg.model.word_chars)
    classes = np.unique(y)
    votes = _features([str(c) for c in classes], lexicon, docs.norm)
    oof = np.full((len(y), len(classes)), -10.0)
    counts = np.bincount(np.searchsorted(classes, y))
    strat = np.where(counts[np.searchsorted(classes, y)] >= cfg.folds, y, "_rare")
    folds = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    for f, (tr, te) in enumerate(folds.split(np.zeros(len(y)), strat), 1):
        base = _Base(cfg.model).fit(docs.subset(tr), y[tr])
        m = base.stacked(*base.features.transform(docs.subset(te)))
        cols = np.searchsorted(classes, base.svc.classes_)
        oof[np.ix_(te, cols)] = m
        _progress(f"fold {f}/{cfg.folds} ({time.perf_counter() - t0:.1f}s)", quiet)
    return docs, classes, votes, oof


def train(texts: Sequence[str], labels: Sequence[str], cfg: UnitConfig | None = None,
          lexicon: lx.Lexicon | None = None, quiet: bool = False, note: str = "",
          extra_meta: dict | None = None) -> UnitRouter:
    cfg = cfg or UnitConfig()
    lexicon = lexicon or lx.Lexicon(lx.read_csv())
    t0 = time.perf_counter()
    y = np.asarray(labels)
    docs, classes, votes, oof = out_of_fold(texts, y, cfg, lexicon, quiet)
    label_list = [str(c) for c in classes]
    calibrator = TemperatureCalibrator(classes).fit(oof, y)
    logp = np.log(np.clip(calibrator.predict_proba(oof), 1e-9, None))
    y_idx = np.searchsorted(classes, y)
    params = fit_combiner(logp, votes, y_idx, cfg.bias_l2)
    p = _softmax(_scores(params, logp, votes))
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    correct = pred == y_idx
    model_only = (logp.argmax(axis=1) == y_idx).mean()
    threshold = choose_threshold(conf, correct, cfg.target_precision)
    _progress(f"out-of-fold: unit model {model_only:.4f}, combined {correct.mean():.4f}; threshold "
              f"{threshold:.3f} auto-routes {np.mean(conf >= threshold):.1%}", quiet)
    base = _Base(cfg.model).fit(docs, y)
    dhash = data_hash(texts, labels)
    now = dt.datetime.now(dt.timezone.utc)
    version = "units-" + now.strftime("%Y%m%dT%H%M%SZ") + "-" + dhash[:8]
    meta = {"trained_at": now.isoformat(), "n_train": len(y), "data_hash": dhash, "note": note,
            "oof_model_accuracy": float(model_only), "oof_accuracy": float(correct.mean()),
            "oof_auto_share": float(np.mean(conf >= threshold)),
            "target_precision": cfg.target_precision,
            "combiner": {"model_log_prob": float(params[0]),
                         "lexicon_votes": dict(zip(label_list, np.round(params[1:1 + len(classes)], 3).tolist())),
                         "lexicon_head_votes": dict(zip(label_list, np.round(
                             params[1 + len(classes):1 + 2 * len(classes)], 3).tolist())),
                         "lexicon_leader": dict(zip(label_list, np.round(
                             params[1 + 2 * len(classes):1 + 3 * len(classes)], 3).tolist()))},
            "train_seconds": round(time.perf_counter() - t0, 2)}
    meta.update(extra_meta or {})
    return UnitRouter(base, calibrator, params, threshold, version, meta)


# ------------------------------------------------------------------ default
_lock = threading.RLock()
_current: UnitRouter | None = None


def default_path() -> Path:
    from classifier import model_dir

    return model_dir() / "units.joblib"


def load_or_train_default(path: Path | None = None, quiet: bool = False) -> UnitRouter:
    path = Path(path or default_path())
    if path.exists():
        try:
            return UnitRouter.load(path)
        except ValueError as e:
            log.warning("%s; retraining the default unit router", e)
    log.warning("no unit router at %s: training it from the shipped data", path)
    texts, labels, _ = training_set()
    router = train(texts, labels, quiet=quiet,
                   note="default unit router: shipped train.csv + reply labels + tune.csv")
    router.save(path)
    return router


_current_path: str | None = None
_last_check = 0.0


def _check_registry() -> None:
    """Follow the registry's active ``units`` version (the session factory
    is the one ``classifier.set_registry_source`` was given), at most every
    ``classifier.REGISTRY_CHECK_SECONDS``; a failure keeps the current one."""
    global _current, _current_path, _last_check
    import classifier

    source = classifier._registry_source
    now = time.monotonic()
    if source is None or now - _last_check < classifier.REGISTRY_CHECK_SECONDS:
        return
    _last_check = now
    from classifier import registry

    try:
        with source() as session:
            active = registry.active_version(session, "units")
            path = str(registry.resolve_path(active.path)) if active else None
    except Exception:
        log.exception("unit router registry check failed; keeping %s", _current.version if _current else None)
        return
    if path is None or path == _current_path:
        return
    try:
        router = UnitRouter.load(path)
    except Exception:
        log.exception("could not load the active unit router %s", path)
        return
    log.info("switched unit router to %s (%s)", router.version, path)
    _current, _current_path = router, path


def get_router() -> UnitRouter:
    """The process-wide unit router: the registry's active ``units`` version
    when ``classifier.set_registry_source`` was called, else the default
    file (trained from the shipped data if missing)."""
    global _current, _current_path
    import classifier

    if _current is not None and classifier._registry_source is None:
        return _current
    with _lock:
        _check_registry()
        if _current is None:
            _current = load_or_train_default()
            _current_path = str(default_path())
        return _current


def set_router(router: UnitRouter | None) -> None:
    global _current, _current_path, _last_check
    with _lock:
        _current, _current_path, _last_check = router, None, 0.0
