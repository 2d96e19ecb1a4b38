"""The 通俗化词条 lexicon: the words citizens use → a standard matter (a
third-level category of the tree) → the unit that handles it.

``Lexicon(entries)`` matches phrases in a message by maximal munch: at each
position the longest phrase wins and the phrases inside it are not counted
again ("通宵施工" is one hit for 噪音污染, not also "通宵" for 治安).  Text and
phrases are compared after ``classifier.text.normalize`` (full-width →
half-width, lower case, place codes folded).

The shipped entries are ``data/routing/lexicon.csv`` (phrase, matter, unit;
provenance in data/routing/PROVENANCE.md); the running service reads the
database copy that admins edit (``dispatch.lexicon``).  No Flask, no
database here.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from classifier.text import normalize

#: where the shipped routing data live (lexicon.csv, catalogue.csv, eval.csv …)
ROUTING_DATA = Path(os.environ.get("HOTLINE_DATA_DIR") or Path(__file__).resolve().parent.parent / "data") / "routing"

#: characters of the message counted as its head (≈ the subject) for votes
HEAD_CHARS = 25


@dataclass(frozen=True)
class Entry:
    phrase: str
    matter: str          # full name of a category, "城乡建设/城市建设和市政管理/城市公共设施"
    unit: str            # unit code, or "district"
    entry_id: int | None = None


@dataclass(frozen=True)
class Hit:
    entry: Entry
    start: int

    @property
    def in_head(self) -> bool:
        return self.start < HEAD_CHARS


def read_csv(path: str | Path | None = None) -> list[Entry]:
    path = Path(path or ROUTING_DATA / "lexicon.csv")
    with open(path, encoding="utf-8", newline="") as f:
        return [Entry(r["phrase"].strip(), r["matter"].strip(), r["unit"].strip())
                for r in csv.DictReader(f) if r.get("phrase", "").strip()]


def read_catalogue(path: str | Path | None = None) -> dict[str, str]:
    """matter (1–3 levels) → unit code or "district", city-wide."""
    path = Path(path or ROUTING_DATA / "catalogue.csv")
    with open(path, encoding="utf-8", newline="") as f:
        return {r["matter"].strip(): r["unit"].strip() for r in csv.DictReader(f)}


def catalogue_unit(catalogue: dict[str, str], matter: str) -> str | None:
    parts = matter.split("/")
    for n in range(len(parts), 0, -1):
        unit = catalogue.get("/".join(parts[:n]))
        if unit:
            return unit
    return None


#: strings consumed without a vote, so that a phrase inside them does not
#: fire ("人民政府" holds "民政", "居民政策" is not 民政)
BLOCKERS = ("人民政府", "人民", "居民", "市民", "村民", "网民", "镇政府", "乡政府", "区政府", "县政府",
            "市政府", "省政府")


class Lexicon:
    def __init__(self, entries: Iterable[Entry]):
        self.entries: dict[str, Entry | None] = {b: None for b in BLOCKERS}
        for e in entries:
            key = normalize(e.phrase)
            if key and self.entries.get(key) is None:
                self.entries[key] = e
        lengths: dict[str, set[int]] = {}
        for key in self.entries:
            lengths.setdefault(key[0], set()).add(len(key))
        # per first character, the phrase lengths to try, longest first
        self._lengths = {c: sorted(ls, reverse=True) for c, ls in lengths.items()}

    def __len__(self) -> int:
        return sum(1 for e in self.entries.values() if e is not None)

    def match(self, text: str, normalized: bool = False) -> list[Hit]:
        """Non-overlapping hits, left to right, the longest phrase at each
        position."""
        t = text if normalized else normalize(text)
        hits: list[Hit] = []
        i, n = 0, len(t)
        entries, lengths = self.entries, self._lengths
        while i < n:
            for length in lengths.get(t[i], ()):
                key = t[i:i + length]
                if key in entries:
                    e = entries[key]
                    if e is not None:
                        hits.append(Hit(e, i))
                    i += length
                    break
            else:
                i += 1
        return hits


def hit_weight(hit: Hit) -> float:
    """Longer phrases say more: 1 for two characters, 1.5 for three, 2 for
    four or more; a single character counts half."""
    n = len(hit.entry.phrase)
    return 0.5 if n < 2 else 1.0 if n == 2 else 1.5 if n == 3 else 2.0


def votes(hits: Sequence[Hit], labels: Sequence[str]) -> tuple[list[float], list[float]]:
    """Per unit label: summed hit weights in the whole text and in the head."""
    index = {u: k for k, u in enumerate(labels)}
    whole, head = [0.0] * len(labels), [0.0] * len(labels)
    for h in hits:
        k = index.get(h.entry.unit)
        if k is None:
            continue
        w = hit_weight(h)
        whole[k] += w
        if h.in_head:
            head[k] += w
    return whole, head
