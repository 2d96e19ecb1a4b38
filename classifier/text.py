"""Text preparation: normalisation, jieba word segmentation with a domain
dictionary and stop words, and category-tree keyword counts.

jieba keeps one global tokenizer per process; ``ensure_jieba()`` loads it
once (with the category-tree terms added) and is safe to call from any
thread.  Everything here reads only files shipped in classifier/data.
"""
from __future__ import annotations

import csv
import logging
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"

#: Anonymised place codes (A3区, E10县, K市 …) carry no topic; fold them.
_PLACE_CODE = re.compile(r"[a-z]+\d+")
_SPACE = re.compile(r"\s+")
#: jieba gives punctuation and numbers as tokens; they carry no topic.
_NOT_A_WORD = re.compile(r"^[\W\d_a-z]+$")

#: Terms too generic to tell a topic in the category tree.
_GENERIC_TERMS = {"其他", "管理", "问题", "服务"}

_jieba_lock = threading.Lock()
_jieba_ready = False
log = logging.getLogger(__name__)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, folded whitespace and
    anonymised place codes, and the spreadsheet export's ``_x000D_``."""
    text = (text or "").replace("_x000D_", " ").replace("\x00", " ")
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PLACE_CODE.sub("#", text)
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    path = DATA_DIR / "stopwords.txt"
    return frozenset(w.strip() for w in path.read_text("utf-8").splitlines() if w.strip())


@lru_cache(maxsize=1)
def category_terms() -> dict[str, tuple[str, ...]]:
    """First-level topic → the level-2/level-3 names under it, split into
    terms ("园林绿化环卫" stays whole, "住房保障与房地产" gives two)."""
    terms: dict[str, set[str]] = {}
    with open(DATA_DIR / "categories.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            bucket = terms.setdefault(row["level1"], set())
            for name in (row["level2"], row["level3"]):
                for term in re.split(r"[、和与及/（）()，,]", name):
                    term = term.strip()
                    if 2 <= len(term) <= 8 and term not in _GENERIC_TERMS:
                        bucket.add(term)
    return {k: tuple(sorted(v)) for k, v in sorted(terms.items())}


def ensure_jieba() -> None:
    """Initialise jieba once per process, with the category-tree terms as a
    domain dictionary so that e.g. 物业服务 or 特种设备 stay one word."""
    global _jieba_ready
    if _jieba_ready:
        return
    with _jieba_lock:
        if _jieba_ready:
            return
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        for bucket in category_terms().values():
            for term in bucket:
                jieba.add_word(term, freq=2000)
        _jieba_ready = True


def tokenize(normalized: str) -> list[str]:
    """jieba words of an already normalised text, without stop words,
    punctuation and numbers.  (jieba's HMM new-word discovery stays on:
    switching it off saved ~0.2 ms a ticket and cost ~0.7 points on dev.)
    The last few texts are remembered: intake runs the topic model and the
    unit router on the same text, and jieba is most of their time."""
    return list(_tokenize_cached(normalized))


@lru_cache(maxsize=256)
def _tokenize_cached(normalized: str) -> tuple[str, ...]:
    import jieba

    ensure_jieba()
    stops = stop_words()
    return tuple(
        w for w in jieba.lcut(normalized)
        if w.strip() and w not in stops and not _NOT_A_WORD.match(w)
    )


def category_counts(normalized: list[str], head_chars: int) -> np.ndarray:
    """log(1 + number of category-tree terms of each first-level topic) in
    the whole text and in its head (the subject), as dense features."""
    buckets = list(category_terms().values())
    out = np.zeros((len(normalized), 2 * len(buckets)), dtype=np.float64)
    for i, text in enumerate(normalized):
        head = text[:head_chars]
        for j, bucket in enumerate(buckets):
            n_all = n_head = 0
            for term in bucket:
                if term in text:
                    n_all += 1
                    if term in head:
                        n_head += 1
            out[i, j] = n_all
            out[i, len(buckets) + j] = n_head
    return np.log1p(out)
