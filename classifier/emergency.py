"""Emergency detector: is a caller describing an emergency happening *now*,
and of which kind (``police110``, ``fire119``, ``medical120``,
``utility_urgent``)?

    from classifier.emergency import detect
    v = detect("楼道里闻到很浓的煤气味，楼上还有老人")
    v.emergency, v.kind, v.confidence, v.words

The model is a five-class logistic regression (``none`` + the four kinds)
over character 1–3-grams of the normalised text plus a few *cue* features
computed by rules: time words (现在/还在/刚才 against 上个月/去年/以前),
negated or resolved hazards (没有着火, 不用来了, 孩子找到了), administrative
framing (费, 报销, 咨询, 检查, 申请) and who is in danger (人还在里面, 老人,
小孩).  The cues are what tells "有人持刀抢劫" from "去年有人持刀抢劫的案子
判了没有"; the n-grams carry the event.  ``P(emergency) = 1 − P(none)``;
the kind is the most probable of the four.  Which variant (n-gram range,
regularisation, cues on or off, the rule override) and the decision
threshold were chosen by 5-fold cross-validation on
``data/emergency/train.csv`` only (``python -m classifier.emergency_cv``
reproduces the table in docs/emergency.md); ``data/emergency/eval.csv`` is
never read here.

The model trains from the shipped training set on first use (well under a
second) and is kept per process; ``detect`` is thread-safe and takes about
a millisecond.  No Flask imports.
"""
from __future__ import annotations

import csv
import math
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

KINDS = ("police110", "fire119", "medical120", "utility_urgent")
KIND_LABELS = {"police110": "警情（110）", "fire119": "火情/燃气（119）", "medical120": "急救（120）",
               "utility_urgent": "水电气紧急抢修"}
NONE = "none"
CLASSES = (NONE, *KINDS)
TRAIN_PATH = Path(__file__).resolve().parent.parent / "data" / "emergency" / "train.csv"

# ------------------------------------------------------------------ cues (rules)
_HAZARD = ("着火|起火|失火|火灾|冒烟|烟|煤气|燃气|天然气|漏气|泄漏|爆炸|爆管|爆|打架|打人|动手|打起来|受伤|"
           "人受伤|流血|走丢|走失|丢|被骗|骗|晕倒|晕|断|漏电|事|危险|人员伤亡|伤亡")
CUES: dict[str, re.Pattern] = {
    # happening now, or the caller needs someone at once
    "now": re.compile(r"现在|正在|还在|刚才|刚刚|刚|快来|快点|赶紧|救命|马上|此刻|一直在|越来越|不停|快快|怎么办啊"),
    # a time already past
    "past": re.compile(r"上个?月|上周|上星期|上礼拜|去年|前年|前几天|前天|昨天|昨晚|以前|之前|年前|月前|天前|"
                       r"周前|个月|当时|后来|那次|上次|那件事|那个事|早就|年初|曾经|过一次|过几次"),
    # money, paperwork, questions to the administration
    "admin": re.compile(r"费|收费|交钱|账单|报销|理赔|赔偿|补助|补贴|申请|办理|咨询|想问|请问|流程|材料|规定|标准|"
                        r"合法|合理|投诉|建议|反映|表扬|检查|验收|安检|培训|演练|宣传|招聘|价格|涨价|进展|结果|"
                        r"判了|说法|保险|证明|有没有|能不能|要不要|是不是|多少钱|怎么交"),
    # the danger is over or never was
    "resolved": re.compile(r"找到了|没事了|不用来了|不用管了|已经好了|好了|修好了|处理完|处理好|已经走了|误会|看错了|"
                           r"搞错了|抓到了|被抓了|撤销|补上了|调解了"),
    "negated_hazard": re.compile(r"(没有|没|不是|并没有|并未|未|无)(人)?(" + _HAZARD + ")"),
    # who is in danger, present tense
    "person_at_risk": re.compile(r"人还在|还有人|里面还|出不来|被困|老人|小孩|孩子|有人|我们|工人|学生|叫不醒|"
                                 r"没反应|没有呼吸|没呼吸|没气了|没意识|不会动|不动了|不说话|救命"),
}
#: Phrases that are an emergency *because of* a negation (叫不醒, 没有呼吸):
#: they must not count as a negated hazard.
_NEG_EXCEPTIONS = re.compile(r"没有呼吸|没呼吸|没反应|没有反应|没有心跳|没气|没有意识|没意识|没知觉|止不住|关不上|"
                             r"灭不掉|灭不了|扑不灭|下不去|出不去|出不来|不让")
CUE_NAMES = tuple(CUES)
CUE_SCALE = 0.35

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _PUNCT.sub(" ", text).strip()


def cue_hits(norm: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, rx in CUES.items():
        hits = [m.group(0) for m in rx.finditer(norm)]
        if name == "negated_hazard":
            hits = [h for h in hits if not _NEG_EXCEPTIONS.search(norm[max(0, norm.find(h) - 1):norm.find(h) + len(h) + 2])]
        if hits:
            out[name] = hits
    return out


def cue_vector(norm: str) -> np.ndarray:
    hits = cue_hits(norm)
    return np.array([min(len(hits.get(n, ())), 2) for n in CUE_NAMES], dtype=float) * CUE_SCALE


# ------------------------------------------------------------------ model
@dataclass(frozen=True)
class Config:
    ngram: tuple[int, int] = (1, 3)
    C: float = 10.0
    cues: bool = True
    override: bool = True
    threshold: float = 0.5


#: Chosen by 5-fold cross-validation on the training set (docs/emergency.md):
#: the best out-of-fold precision at out-of-fold recall >= 0.98 (0.972 at
#: 0.980, kind accuracy 0.958), at the highest threshold keeping that recall.
#: The rule override made no difference once the cues were features, so the
#: simpler variant (without it) was kept.
CHOSEN = Config(ngram=(1, 2), C=30.0, cues=True, override=False, threshold=0.6)


@dataclass(frozen=True)
class Verdict:
    emergency: bool
    kind: str | None
    confidence: float
    kind_confidence: float
    words: tuple[str, ...]
    against: tuple[str, ...] = ()
    cues: dict = field(default_factory=dict)
    #: The most probable kind even below the threshold (for a peer that
    #: pushes an emergency the detector would not have flagged).
    likely_kind: str | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind or "", "")

    def as_dict(self) -> dict:
        return {"emergency": self.emergency, "kind": self.kind, "kind_label": self.kind_label,
                "confidence": round(self.confidence, 3), "kind_confidence": round(self.kind_confidence, 3),
                "words": list(self.words), "against": list(self.against), "cues": self.cues}


class Detector:
    def __init__(self, cfg: Config = CHOSEN):
        self.cfg = cfg
        self.vec = TfidfVectorizer(analyzer="char", ngram_range=cfg.ngram, sublinear_tf=True, min_df=1)
        self.clf = LogisticRegression(C=cfg.C, max_iter=3000)
        self._vocab_inv: np.ndarray | None = None

    def _features(self, norms: list[str], fit: bool = False):
        x = self.vec.fit_transform(norms) if fit else self.vec.transform(norms)
        if self.cfg.cues:
            x = sparse.hstack([x, sparse.csr_matrix(np.vstack([cue_vector(n) for n in norms]))], format="csr")
        return x

    def fit(self, texts: list[str], labels: list[str]) -> "Detector":
        norms = [normalise(t) for t in texts]
        self.clf.fit(self._features(norms, fit=True), labels)
        names = list(self.vec.get_feature_names_out())
        if self.cfg.cues:
            names += [f"<{n}>" for n in CUE_NAMES]
        self._vocab_inv = np.array(names, dtype=object)
        self._cls = {c: i for i, c in enumerate(self.clf.classes_)}
        self._compile()
        return self

    def proba(self, texts: list[str]) -> np.ndarray:
        """Rows of probabilities in CLASSES order."""
        norms = [normalise(t) for t in texts]
        p = self.clf.predict_proba(self._features(norms))
        out = np.column_stack([p[:, self._cls[c]] if c in self._cls else np.zeros(len(texts)) for c in CLASSES])
        if self.cfg.override:
            for i, n in enumerate(norms):
                out[i] = _override(n, out[i])
        return out

    def _compile(self) -> None:
        """Plain dicts and arrays for one text at a time: sklearn's input
        validation costs more than the arithmetic on a single short text."""
        self._vocab = self.vec.vocabulary_
        self._idf = self.vec.idf_
        self._coef = self.clf.coef_
        self._intercept = self.clf.intercept_
        self._cls_order = [self._cls.get(c) for c in CLASSES]

    def _grams(self, norm: str) -> dict[int, float]:
        lo, hi = self.cfg.ngram
        counts: dict[int, int] = {}
        vocab = self._vocab
        for n in range(lo, hi + 1):
            for i in range(len(norm) - n + 1):
                j = vocab.get(norm[i:i + n])
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
        vals = {j: (1.0 + math.log(c)) * self._idf[j] for j, c in counts.items()}
        norm2 = math.sqrt(sum(v * v for v in vals.values())) or 1.0
        return {j: v / norm2 for j, v in vals.items()}

    def _fast(self, norm: str) -> tuple[np.ndarray, dict[int, float]]:
        feats = self._grams(norm)
        idx = np.fromiter(feats.keys(), dtype=np.int64, count=len(feats))
        val = np.fromiter(feats.values(), dtype=float, count=len(feats))
        z = self._coef[:, idx] @ val + self._intercept if len(idx) else self._intercept.copy()
        if self.cfg.cues:
            cv = cue_vector(norm)
            n_ng = len(self._idf)
            z = z + self._coef[:, n_ng:] @ cv
            for k, v in enumerate(cv):
                if v:
                    feats[n_ng + k] = float(v)
        z = z - z.max()
        e = np.exp(z)
        p = e / e.sum()
        probs = np.array([p[i] if i is not None else 0.0 for i in self._cls_order])
        if self.cfg.override:
            probs = _override(norm, probs)
        return probs, feats

    def detect(self, text: str) -> Verdict:
        norm = normalise(text)
        if not norm:
            return Verdict(False, None, 0.0, 0.0, ())
        probs, feats = self._fast(norm)
        p_em = float(1.0 - probs[0])
        k = int(np.argmax(probs[1:])) + 1
        kind = CLASSES[k]
        kind_conf = float(probs[k] / max(1e-9, probs[1:].sum()))
        emergency = p_em >= self.cfg.threshold
        words, against = self._explain(norm, feats, kind)
        return Verdict(emergency, kind if emergency else None, p_em, kind_conf if emergency else 0.0,
                       words, against, cue_hits(norm), kind)

    def _explain(self, norm: str, feats: dict[int, float], kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The words that decided: n-grams whose weight pushed towards
        ``kind`` rather than ``none`` (and the ones that pushed back), merged
        into spans of the text."""
        diff = self._coef[self._cls[kind]] - self._coef[self._cls[NONE]]
        contrib = {self._vocab_inv[j]: v * diff[j] for j, v in feats.items()}
        return _spans(norm, contrib, 1), _spans(norm, contrib, -1)


def _word_bounds(norm: str) -> tuple[set[int], set[int]]:
    """Where jieba's words start and end, so that a deciding span is shown
    as whole words (老人, not 有老)."""
    from classifier.text import ensure_jieba

    ensure_jieba()
    import jieba

    starts, ends = set(), set()
    for _, a, b in jieba.tokenize(norm):
        starts.add(a)
        ends.add(b)
    return starts, ends


def _spans(norm: str, contrib: dict[str, float], sign: int, top: int = 4) -> tuple[str, ...]:
    score = np.zeros(len(norm))
    for gram, c in contrib.items():
        if gram.startswith("<") or len(gram.strip()) < 2 or c * sign <= 0:
            continue
        start = norm.find(gram)
        while start >= 0:
            score[start:start + len(gram)] += c * sign / len(gram)
            start = norm.find(gram, start + 1)
    if not score.any():
        return ()
    cut = score.max() * 0.25
    starts, ends = _word_bounds(norm)
    found: dict[str, float] = {}
    i = 0
    while i < len(norm):
        if score[i] > cut and norm[i] != " ":
            j = i
            while j < len(norm) and score[j] > cut and norm[j] != " ":
                j += 1
            a, b = i, j
            while a > 0 and a not in starts and norm[a - 1] != " ":
                a -= 1
            while b < len(norm) and b not in ends and norm[b] != " ":
                b += 1
            if b - a >= 2:
                found[norm[a:b]] = max(found.get(norm[a:b], 0.0), float(score[i:j].sum()))
            i = j
        else:
            i += 1
    ranked = sorted(found.items(), key=lambda kv: -kv[1])
    return tuple(w for w, _ in ranked[:top])


def _override(norm: str, probs: np.ndarray) -> np.ndarray:
    """Rules after the model: a hazard explicitly negated or declared over,
    with no sign of danger now, is not an emergency."""
    hits = cue_hits(norm)
    if ("resolved" in hits or "negated_hazard" in hits) and "now" not in hits:
        probs = probs.copy()
        shift = probs[1:].sum() * 0.7
        probs[1:] *= 0.3
        probs[0] += shift
    return probs


# ------------------------------------------------------------------ data and the process-wide model
def read_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """``text,emergency[,kind]`` → texts and labels in CLASSES (``none`` for
    non-emergencies; an emergency without a kind is ``emergency``)."""
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            texts.append(row["text"])
            em = str(row.get("emergency", "")).strip().lower() in ("1", "true", "yes", "y", "是")
            labels.append((row.get("kind") or "").strip() or "emergency" if em else NONE)
    return texts, labels


_lock = threading.Lock()
_detector: Detector | None = None


def get_detector() -> Detector:
    global _detector
    with _lock:
        if _detector is None:
            from threadpoolctl import threadpool_limits

            texts, labels = read_labelled(TRAIN_PATH)
            # A small fit: BLAS threads only contend with the web threads.
            with threadpool_limits(1):
                _detector = Detector(CHOSEN).fit(texts, labels)
        return _detector


def detect(text: str) -> Verdict:
    return get_detector().detect(text)
