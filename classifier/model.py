"""The routing model: features, training, calibrated prediction, explanation.

Features (one sparse matrix, rows L2-normalised):
  * jieba words (domain dictionary from the category tree, stop words out),
    unigrams and bigrams, TF-IDF;
  * character 1–3-grams, TF-IDF;
  * character 1–3-grams of the head of the text again (``text`` is subject +
    body folded together, so the first ``head_chars`` characters stand in for
    the subject and weight it);
  * per first-level topic, how many category-tree terms occur (whole text,
    head).
Model: a LinearSVC on all features; its margins are mapped to probabilities
by temperature scaling, softmax(margin / T), with T fitted on out-of-fold
margins (so the probabilities are calibrated and the argmax stays the SVM's).
With ``with_nb`` a ComplementNB on the words joins it: both scores are
z-scored per row and the same logistic regression stacks and calibrates them
(measured in docs/classifier.md; not the shipped default).  The abstain threshold is chosen on the same out-of-fold
probabilities: the lowest confidence at which the auto-routed share still has
``target_precision`` accuracy.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from classifier import text as textprep

#: bump when the pickled layout changes; an old default model is retrained
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    top: list[tuple[str, float]]
    explain: list[tuple[str, float]]
    abstain: bool
    model_version: str


@dataclass
class TrainConfig:
    head_chars: int = 25
    word_chars: int | None = None
    word_weight: float = 1.0
    head_weight: float = 1.0
    category_weight: float = 0.5
    char_ngrams: tuple[int, int] = (1, 3)
    svc_c: float = 3.0
    class_weight: str | None = None
    nb_alpha: float = 0.3
    #: add a ComplementNB on the words to the stack (measured, not shipped:
    #: equal to the SVM alone in cross-validation, lower on dev)
    with_nb: bool = False
    folds: int = 5
    target_precision: float = 0.97
    seed: int = 0

    @classmethod
    def fast(cls) -> "TrainConfig":
        """A smaller, quicker configuration for tests."""
        return cls(char_ngrams=(1, 2), folds=3)


def word_ngrams(tokens: Sequence[str]) -> list[str]:
    """Unigrams and bigrams of a token list (a picklable analyzer)."""
    return list(tokens) + [a + " " + b for a, b in zip(tokens, tokens[1:])]


class Docs:
    """Texts prepared once: normalised text, jieba tokens, and (cached, so
    cross-validation folds do not recount them) n-gram counts and
    category-tree counts."""

    def __init__(self, norm: list[str], tokens: list[list[str]], cache: dict | None = None):
        self.norm = norm
        self.tokens = tokens
        self._cache: dict = cache if cache is not None else {}

    @classmethod
    def of(cls, texts: Iterable[str], word_chars: int | None = None) -> "Docs":
        """``word_chars``: segment only the first so many characters into
        words (jieba is most of the time of a long ticket); the character
        n-grams always see the whole text."""
        norm = [textprep.normalize(t) for t in texts]
        return cls(norm, [textprep.tokenize(n[:word_chars] if word_chars else n) for n in norm])

    def __len__(self) -> int:
        return len(self.norm)

    def subset(self, idx: Sequence[int]) -> "Docs":
        cache = {k: ([v[i] for i in idx] if isinstance(v, list) else v[idx])
                 for k, v in self._cache.items()}
        return Docs([self.norm[i] for i in idx], [self.tokens[i] for i in idx], cache)

    def counts(self, key: tuple) -> list:
        """n-gram counts per document: for key ("words",) a Counter of word
        n-grams; for ("chars", lo, hi, head_chars or 0) the (unique keys,
        counts) arrays of ``char_gram_keys``."""
        if key not in self._cache:
            if key[0] == "words":
                self._cache[key] = [Counter(word_ngrams(t)) for t in self.tokens]
            else:
                _, lo, hi, head = key
                self._cache[key] = [char_gram_keys(n[:head] if head else n, lo, hi)
                                    for n in self.norm]
        return self._cache[key]

    def categories(self, head_chars: int) -> np.ndarray:
        key = ("categories", head_chars)
        if key not in self._cache:
            self._cache[key] = textprep.category_counts(self.norm, head_chars)
        return self._cache[key]


_BITS = 21                      # a Unicode code point fits in 21 bits
_MASK = np.uint64((1 << _BITS) - 1)


def char_gram_keys(text: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Character n-grams (lo ≤ n ≤ hi ≤ 3) of a text as integer keys, code
    points packed 21 bits each, with their counts: (sorted unique keys,
    counts).  n-grams of different n cannot collide (code points are ≥ 1, so
    a key of n characters is ≥ 2^(21(n-1))).  Vectorised: counting ~1,000
    n-grams of a ticket costs microseconds instead of a millisecond of
    Python string slicing and dict look-ups."""
    if hi > 3:
        raise ValueError("character n-grams longer than 3 do not fit 64-bit keys")
    c = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    c = c[c > 0]
    n_chars = len(c)
    parts = []
    for n in range(lo, min(hi, n_chars) + 1):
        k = c[: n_chars - n + 1].copy()
        for j in range(1, n):
            k = (k << np.uint64(_BITS)) | c[j: n_chars - n + 1 + j]
        parts.append(k)
    if not parts:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(parts), return_counts=True)


def decode_char_key(key: int) -> str:
    out = []
    key = int(key)
    while key:
        out.append(chr(key & int(_MASK)))
        key >>= _BITS
    return "".join(reversed(out))


class _Block:
    """One TF-IDF block: the numbers of sklearn's TfidfVectorizer(min_df=2,
    sublinear_tf=True, smooth_idf=True, norm='l2'), computed from cached
    n-gram counts and without its per-call validation (one ticket at a time
    is the common call, and that overhead dominated).  Word n-grams are
    looked up in a dict; character n-grams are integer keys looked up in a
    sorted array (column j = the j-th smallest key)."""

    def __init__(self, key: tuple):
        self.key = key
        self.vocab: dict[str, int] = {}
        self.keys = np.zeros(0, dtype=np.uint64)
        self.idf = np.zeros(0)

    @property
    def chars(self) -> bool:
        return self.key[0] == "chars"

    @property
    def size(self) -> int:
        return len(self.keys) if self.chars else len(self.vocab)

    def fit(self, docs: Docs, min_df: int = 2) -> "_Block":
        n = len(docs)
        if self.chars:
            allkeys = [k for k, _ in docs.counts(self.key)]
            uniq, df = np.unique(np.concatenate(allkeys) if allkeys else np.zeros(0, np.uint64),
                                 return_counts=True)
            keep = df >= min_df
            self.keys, dfs = uniq[keep], df[keep].astype(np.float64)
        else:
            dfc: Counter = Counter()
            for c in docs.counts(self.key):
                dfc.update(c.keys())
            terms = sorted(g for g, m in dfc.items() if m >= min_df)
            self.vocab = {g: i for i, g in enumerate(terms)}
            dfs = np.array([dfc[g] for g in terms], dtype=np.float64)
        self.idf = np.log((1.0 + n) / (1.0 + dfs)) + 1.0
        return self

    def row(self, seen) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, L2-normalised tf-idf values) of one document."""
        if self.chars:
            keys, cnt = seen
            if not len(keys) or not len(self.keys):
                return np.zeros(0, dtype=np.int32), np.zeros(0)
            pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            hit = self.keys[pos] == keys
            cols = pos[hit].astype(np.int32)
            cnt = cnt[hit].astype(np.float64)
        else:
            vocab = self.vocab
            idx: list[int] = []
            cl: list[int] = []
            for g, c in seen.items():
                j = vocab.get(g)
                if j is not None:
                    idx.append(j)
                    cl.append(c)
            cols = np.array(idx, dtype=np.int32)
            cnt = np.array(cl, dtype=np.float64)
        if not len(cols):
            return cols, np.zeros(0)
        val = (np.log(cnt) + 1.0) * self.idf[cols]
        return cols, val / np.sqrt(val @ val)

    def names(self) -> list[str]:
        if self.chars:
            return [decode_char_key(k) for k in self.keys]
        part = [""] * len(self.vocab)
        for term, j in self.vocab.items():
            part[j] = term.replace(" ", "")
        return part

    def transform(self, docs: Docs) -> sp.csr_matrix:
        rows = [self.row(c) for c in docs.counts(self.key)]
        return _csr(rows, self.size)


def _csr(rows: list[tuple[np.ndarray, np.ndarray]], width: int) -> sp.csr_matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(c) for c, _ in rows])
    if rows and indptr[-1]:
        cols = np.concatenate([c for c, _ in rows])
        vals = np.concatenate([v for _, v in rows])
    else:
        cols, vals = np.zeros(0, dtype=np.int32), np.zeros(0)
    return sp.csr_matrix((vals, cols, indptr), shape=(len(rows), width))


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    lengths = np.diff(m.indptr)
    rows = np.repeat(np.arange(m.shape[0]), lengths)
    norms = np.sqrt(np.bincount(rows, weights=m.data ** 2, minlength=m.shape[0]))
    norms[norms == 0] = 1.0
    m.data = m.data / np.repeat(norms, lengths)
    return m


class Featurizer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        lo, hi = cfg.char_ngrams
        self.blocks = [_Block(("words",)), _Block(("chars", lo, hi, 0)),
                       _Block(("chars", 1, 3, cfg.head_chars))]

    def fit(self, docs: Docs) -> "Featurizer":
        for block in self.blocks:
            block.fit(docs)
        return self

    def transform(self, docs: Docs) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(all features, L2-normalised rows; the word block alone for NB).

        Built row by row straight into one CSR matrix: for one ticket,
        scipy's hstack and per-block matrices cost more than the maths."""
        rows, words = self.rows(docs)
        return _csr(rows, self.width), _csr(words, self.blocks[0].size)

    @property
    def width(self) -> int:
        return sum(b.size for b in self.blocks) + 2 * len(textprep.category_terms())

    def rows(self, docs: Docs):
        """Per document (columns, values) of the full row, and of the word
        block alone."""
        cfg = self.cfg
        weights = (cfg.word_weight, 1.0, cfg.head_weight)
        offsets = np.cumsum([0] + [b.size for b in self.blocks])
        counts = [docs.counts(b.key) for b in self.blocks]
        cats = cfg.category_weight * docs.categories(cfg.head_chars)
        cat_cols = np.arange(cats.shape[1], dtype=np.int32) + offsets[-1]
        rows, words = [], []
        for i in range(len(docs)):
            cols, vals = [], []
            for k, block in enumerate(self.blocks):
                c, v = block.row(counts[k][i])
                if k == 0:
                    words.append((c, v))
                cols.append(c + offsets[k])
                vals.append(v * weights[k])
            nz = cats[i] != 0
            cols.append(cat_cols[nz])
            vals.append(cats[i][nz])
            c, v = np.concatenate(cols), np.concatenate(vals)
            norm = np.sqrt(v @ v)
            rows.append((c, v / norm if norm > 0 else v))
        return rows, words

    def feature_names(self) -> np.ndarray:
        """Display names, aligned with the columns of ``transform``."""
        names: list[str] = []
        for block in self.blocks:
            names += block.names()
        topics = list(textprep.category_terms())
        names += [f"[分类目录:{t}]" for t in topics] * 2
        return np.array(names, dtype=object)


def _softmax(z: np.ndarray) -> np.ndarray:
    """LogisticRegression.predict_proba of a multinomial model."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TemperatureCalibrator:
    """softmax(margins / T): one temperature fitted by log-loss on
    out-of-fold margins.  Unlike a per-class Platt fit it cannot change
    which label is on top, so the calibrated model predicts exactly what the
    SVM predicts."""

    def __init__(self, classes: np.ndarray):
        self.classes_ = np.asarray(classes)
        self.temperature = 1.0

    def fit(self, margins: np.ndarray, y: np.ndarray) -> "TemperatureCalibrator":
        from scipy.optimize import minimize_scalar

        target = np.searchsorted(self.classes_, y)

        def nll(log_t):
            p = _softmax(margins / np.exp(log_t))
            return -np.mean(np.log(np.clip(p[np.arange(len(target)), target], 1e-12, None)))

        self.temperature = float(np.exp(minimize_scalar(nll, bounds=(-5, 3), method="bounded").x))
        return self

    def predict_proba(self, margins: np.ndarray) -> np.ndarray:
        return _softmax(np.asarray(margins) / self.temperature)


def _calibrated(calibrator, scores: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, TemperatureCalibrator):
        return calibrator.predict_proba(scores)
    # LogisticRegression.predict_proba (multinomial), without its validation
    return _softmax(scores @ calibrator.coef_.T + calibrator.intercept_)


def _zscore(v: np.ndarray) -> np.ndarray:
    sd = v.std(axis=1, keepdims=True)
    return (v - v.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


class _Base:
    """Featurizer + LinearSVC + ComplementNB fitted on one training set."""

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_coef_t", None)       # derived; rebuilt on first use
        return state

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.features = Featurizer(cfg)
        self.svc = LinearSVC(C=cfg.svc_c, class_weight=cfg.class_weight, random_state=cfg.seed)
        self.nb = ComplementNB(alpha=cfg.nb_alpha)

    def fit(self, docs: Docs, y: np.ndarray) -> "_Base":
        self.features.fit(docs)
        x, w = self.features.transform(docs)
        self.svc.fit(x, y)
        if self.cfg.with_nb:
            self.nb.fit(w, y)
        return self

    def coef_t(self) -> np.ndarray:
        """SVM coefficients, features × classes, C-contiguous (with the
        transposed view scipy copied all of them on every call)."""
        coef_t = self.__dict__.get("_coef_t")
        if coef_t is None:
            coef_t = self._coef_t = np.ascontiguousarray(self.svc.coef_.T)
        return coef_t

    def stacked(self, x: sp.csr_matrix, w: sp.csr_matrix) -> np.ndarray:
        # the same numbers as svc.decision_function and nb.predict_log_proba
        # (up to a per-row constant, which the z-score removes), without
        # sklearn's per-call validation
        svc = np.asarray(x @ self.coef_t() + self.svc.intercept_)
        if not self.cfg.with_nb:
            return svc          # the calibrator maps SVM margins to probabilities
        nb = np.asarray(w @ self.nb.feature_log_prob_.T)
        return np.hstack([_zscore(svc), _zscore(nb)])


def data_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t, y in sorted(zip(texts, labels)):
        h.update(t.encode("utf-8"))
        h.update(b"\x1f")
        h.update(y.encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def choose_threshold(conf: np.ndarray, correct: np.ndarray, target: float) -> float:
    """Lowest confidence t such that predictions with confidence ≥ t are
    right at least ``target`` of the time (1.0 if none is)."""
    order = np.argsort(-conf)
    hits = np.cumsum(correct[order])
    acc = hits / np.arange(1, len(order) + 1)
    ok = np.where(acc >= target)[0]
    if len(ok) == 0:
        return 1.0
    k = ok[-1]
    return float(conf[order][k])


class Predictor:
    """A trained model: ``predict`` and ``predict_batch`` are thread-safe."""

    def __init__(self, base: _Base, calibrator, threshold: float,
                 version: str, meta: dict):
        self.base = base
        self.calibrator = calibrator
        self.threshold = threshold
        self.version = version
        self.meta = meta
        self._names: np.ndarray | None = None
        self._lock = threading.Lock()

    # -- persistence -----------------------------------------------------
    def __getstate__(self):
        state = dict(self.__dict__)
        state["_names"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    #: the file's format number and the key the object is stored under
    _format, _key = FORMAT_VERSION, "predictor"

    def save(self, path) -> None:
        import joblib
        from pathlib import Path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump({"format": self._format, self._key: self}, tmp)
        tmp.replace(path)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, path):
        import joblib

        obj = joblib.load(path)
        if not isinstance(obj, dict) or obj.get("format") != cls._format or cls._key not in obj:
            raise ValueError(f"{path}: not a {cls._key} model of format {cls._format}")
        textprep.ensure_jieba()
        return obj[cls._key]

    # -- prediction ------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.calibrator.classes_]

    def _names_array(self) -> np.ndarray:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    self._names = self.base.features.feature_names()
        return self._names

    def proba(self, texts: Sequence[str]) -> tuple[np.ndarray, list]:
        """(probabilities, feature rows as (columns, values) for explaining)."""
        docs = Docs.of(texts, self.base.cfg.word_chars)
        if self.base.cfg.with_nb:
            x, w = self.base.features.transform(docs)
            rows = [(x.indices[x.indptr[i]:x.indptr[i + 1]], x.data[x.indptr[i]:x.indptr[i + 1]])
                    for i in range(x.shape[0])]
            return _calibrated(self.calibrator, self.base.stacked(x, w)), rows
        # the SVM alone: margins straight from the rows, no sparse matrix
        rows, _ = self.base.features.rows(docs)
        coef_t = self.base.coef_t()
        margins = np.array([v @ coef_t[c] for c, v in rows]).reshape(len(rows), -1)
        return _calibrated(self.calibrator, margins + self.base.svc.intercept_), rows

    def predict(self, text: str, subject: str = "", explain: int = 5) -> Prediction:
        return self.predict_batch([text], subjects=[subject], explain=explain)[0]

    def predict_batch(self, texts: Sequence[str], subjects: Sequence[str] | None = None,
                      explain: int = 5, workers: int = 1) -> list[Prediction]:
        """Predictions in input order.  ``workers`` > 1 splits a large batch
        over forked processes (POSIX; for offline batches and the CLI, not
        for a threaded web process)."""
        if subjects is not None:
            texts = [_join(s, t) for s, t in zip(subjects, texts)]
        texts = list(texts)
        if workers > 1 and len(texts) >= 100:
            return _predict_forked(self, texts, explain, workers)
        probs, x = self.proba(texts)   # x: feature rows
        labels = self.calibrator.classes_
        svc_classes = list(self.base.svc.classes_)
        out = []
        for i, p in enumerate(probs):
            order = np.argsort(-p)
            k = order[0]
            label = str(labels[k])
            reasons = self._explain(x[i], svc_classes.index(label), explain) if explain else []
            out.append(Prediction(
                label=label,
                confidence=float(p[k]),
                top=[(str(labels[j]), float(p[j])) for j in order[:3]],
                explain=reasons,
                abstain=bool(p[k] < self.threshold),
                model_version=self.version,
            ))
        return out

    def _explain(self, row, cls: int, n: int) -> list[tuple[str, float]]:
        """Words whose tf-idf × SVM coefficient pushed hardest toward the
        predicted class; a term also covered by a longer chosen one is
        skipped, and so are single characters, numbers and punctuation."""
        idx, values = row
        contrib = values * self.base.svc.coef_[cls, idx]
        keep = min(len(idx), 8 * n)
        best = np.argpartition(-contrib, keep - 1)[:keep] if keep else []
        names = self._names_array()
        scores: dict[str, float] = {}
        for k in best:
            name = names[idx[k]]
            if contrib[k] > 0 and (name.startswith("[") or _SHOWABLE.match(name)):
                scores[name] = scores.get(name, 0.0) + float(contrib[k])
        chosen: list[tuple[str, float]] = []
        for name, c in sorted(scores.items(), key=lambda kv: -kv[1]):
            if len(chosen) >= n:
                break
            if any(name in other or other in name for other, _ in chosen):
                continue
            chosen.append((name, round(c, 4)))
        return chosen


#: a term worth showing an agent: two or more letters/CJK characters, not
#: punctuation, digits or the folded place code "#"
_SHOWABLE = re.compile(r"^(?!\d+$)[^\W_]{2,}$")

_forked_model: "Predictor | None" = None
_fork_lock = threading.Lock()


def _predict_chunk(args) -> list[Prediction]:
    texts, explain = args
    return _forked_model.predict_batch(texts, explain=explain)


def _predict_forked(model: "Predictor", texts: list[str], explain: int, workers: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    global _forked_model
    size = -(-len(texts) // workers)
    chunks = [(texts[i:i + size], explain) for i in range(0, len(texts), size)]
    with _fork_lock:
        _forked_model = model          # inherited by the forked workers
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                return [p for part in pool.map(_predict_chunk, chunks) for p in part]
        finally:
            _forked_model = None


def _join(subject: str, text: str) -> str:
    subject = (subject or "").strip()
    if subject and not (text or "").startswith(subject):
        return subject + text
    return text


def _progress(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[classifier] {msg}", file=sys.stderr, flush=True)


def train(texts: Sequence[str], labels: Sequence[str], cfg: TrainConfig | None = None,
          note: str = "", quiet: bool = False, extra_meta: dict | None = None) -> Predictor:
    """Fit the whole model; progress lines go to stderr."""
    cfg = cfg or TrainConfig()
    t0 = time.perf_counter()
    y = np.asarray(labels)
    _progress(f"tokenising {len(texts)} texts", quiet)
    textprep.ensure_jieba()
    docs = Docs.of(texts, cfg.word_chars)
    _progress(f"tokenised in {time.perf_counter() - t0:.1f}s; {cfg.folds}-fold out-of-fold scores", quiet)
    n_classes = len(set(labels))
    oof = np.zeros((len(y), (2 if cfg.with_nb else 1) * n_classes))
    folds = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    for f, (tr, te) in enumerate(folds.split(np.zeros(len(y)), y), 1):
        base = _Base(cfg).fit(docs.subset(tr), y[tr])
        oof[te] = base.stacked(*base.features.transform(docs.subset(te)))
        _progress(f"fold {f}/{cfg.folds} done ({time.perf_counter() - t0:.1f}s)", quiet)
    if cfg.with_nb:
        calibrator = LogisticRegression(C=1.0, max_iter=2000).fit(oof, y)
    else:
        calibrator = TemperatureCalibrator(np.unique(y)).fit(oof, y)
    oof_p = calibrator.predict_proba(oof)
    conf = oof_p.max(axis=1)
    correct = calibrator.classes_[oof_p.argmax(axis=1)] == y
    threshold = choose_threshold(conf, correct, cfg.target_precision)
    _progress(f"out-of-fold accuracy {correct.mean():.4f}; abstain threshold {threshold:.3f} "
              f"(auto-routes {np.mean(conf >= threshold):.1%} at ≥{cfg.target_precision:.1%})", quiet)
    _progress("fitting the final model on all rows", quiet)
    base = _Base(cfg).fit(docs, y)
    dhash = data_hash(texts, labels)
    now = dt.datetime.now(dt.timezone.utc)
    version = now.strftime("%Y%m%dT%H%M%SZ") + "-" + dhash[:8]
    oof_trade_off = [
        {"threshold": t, "auto_routed_share": round(float(np.mean(conf >= t)), 4),
         "auto_routed_accuracy": round(float(correct[conf >= t].mean()), 4) if np.any(conf >= t) else None}
        for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, round(threshold, 3))]
    meta = {
        "oof_trade_off": sorted(oof_trade_off, key=lambda d: d["threshold"]),
        "trained_at": now.isoformat(),
        "n_train": len(y),
        "data_hash": dhash,
        "config": asdict(cfg),
        "oof_accuracy": float(correct.mean()),
        "note": note,
        "train_seconds": round(time.perf_counter() - t0, 2),
    }
    meta.update(extra_meta or {})
    _progress(f"trained {version} in {meta['train_seconds']}s", quiet)
    return Predictor(base, calibrator, threshold, version, meta)
