"""Labelled data: the shipped training set, CSV files, the fixed holdout.

The shipped set is classifier/data/train.csv.gz (see PROVENANCE.md there).
The registry's evaluation split is a deterministic 15 % stratified holdout
of it (seed ``HOLDOUT_SEED``): candidates trained by the retraining job never
see it, and every candidate and active model is scored on it.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from classifier.text import DATA_DIR

SHIPPED_TRAIN = DATA_DIR / "train.csv.gz"
HOLDOUT_FRACTION = 0.15
HOLDOUT_SEED = 12345


def read_csv(path) -> tuple[list[str], list[str]]:
    """Rows of a CSV (optionally .gz) with columns text,label."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"text", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = [(r["text"] or "", (r["label"] or "").strip()) for r in reader]
    rows = [(t, y) for t, y in rows if t.strip() and y]
    return [t for t, _ in rows], [y for _, y in rows]


def read_many(paths) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for p in paths:
        t, y = read_csv(p)
        texts += t
        labels += y
    return texts, labels


def shipped() -> tuple[list[str], list[str]]:
    return read_csv(SHIPPED_TRAIN)


def holdout_split(texts: list[str], labels: list[str]):
    """(train_texts, train_labels, holdout_texts, holdout_labels), fixed."""
    from sklearn.model_selection import train_test_split

    idx = list(range(len(texts)))
    tr, ho = train_test_split(idx, test_size=HOLDOUT_FRACTION, random_state=HOLDOUT_SEED,
                              stratify=labels)
    tr, ho = sorted(tr), sorted(ho)
    return ([texts[i] for i in tr], [labels[i] for i in tr],
            [texts[i] for i in ho], [labels[i] for i in ho])


def write_csv(path, texts, labels) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["text", "label"])
    w.writerows(zip(texts, labels))
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
