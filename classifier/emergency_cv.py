"""Choose the emergency detector's variant and threshold by 5-fold
cross-validation on the training set (data/emergency/train.csv) only.

    python -m classifier.emergency_cv [--data data/emergency/train.csv] [--folds 5]

For each variant (n-gram range × C × cue features × rule override) it
prints out-of-fold precision, recall and kind accuracy at the threshold
that keeps out-of-fold recall ≥ 0.98 (the highest such threshold), and the
variant it would choose: the best precision at that recall, then the best
kind accuracy, then the simpler variant.  The evaluation set is not read.
"""
from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from sklearn.model_selection import StratifiedKFold

from classifier.emergency import CLASSES, NONE, TRAIN_PATH, Config, Detector, read_labelled

RECALL_FLOOR = 0.98


def oof(cfg: Config, texts: list[str], labels: list[str], folds: int, seed: int = 0) -> np.ndarray:
    out = np.zeros((len(texts), len(CLASSES)))
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for tr, te in skf.split(texts, labels):
        d = Detector(cfg).fit([texts[i] for i in tr], [labels[i] for i in tr])
        out[te] = d.proba([texts[i] for i in te])
    return out


def score(probs: np.ndarray, labels: list[str], threshold: float) -> dict:
    y = np.array([lab != NONE for lab in labels])
    p_em = 1 - probs[:, 0]
    pred = p_em >= threshold
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    kinds = [CLASSES[int(np.argmax(r[1:])) + 1] for r in probs]
    kind_ok = [k == lab for k, lab, t in zip(kinds, labels, y) if t]
    return {"threshold": round(threshold, 3), "precision": round(tp / max(1, tp + fp), 4),
            "recall": round(tp / max(1, tp + fn), 4), "kind_accuracy": round(float(np.mean(kind_ok)), 4),
            "fp": fp, "fn": fn}


def at_recall(probs: np.ndarray, labels: list[str], floor: float = RECALL_FLOOR) -> dict:
    best = score(probs, labels, 0.05)
    for t in np.arange(0.05, 0.951, 0.025):
        s = score(probs, labels, float(t))
        if s["recall"] >= floor:
            best = s
    return best


def variants():
    for ngram, C, cues, override in itertools.product([(1, 2), (1, 3), (2, 4)], [3.0, 10.0, 30.0],
                                                      [False, True], [False, True]):
        yield Config(ngram=ngram, C=C, cues=cues, override=override)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m classifier.emergency_cv")
    ap.add_argument("--data", default=str(TRAIN_PATH))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    texts, labels = read_labelled(args.data)
    rows = []
    for cfg in variants():
        probs = oof(cfg, texts, labels, args.folds)
        r = {"ngram": list(cfg.ngram), "C": cfg.C, "cues": cfg.cues, "override": cfg.override,
             "at_0.5": score(probs, labels, 0.5), "at_recall_0.98": at_recall(probs, labels)}
        rows.append(r)
        if not args.json:
            a, b = r["at_0.5"], r["at_recall_0.98"]
            print(f"ngram={cfg.ngram} C={cfg.C:<4} cues={cfg.cues!s:<5} override={cfg.override!s:<5} "
                  f"@0.5 P={a['precision']:.3f} R={a['recall']:.3f} K={a['kind_accuracy']:.3f} | "
                  f"@t={b['threshold']:.3f} P={b['precision']:.3f} R={b['recall']:.3f} K={b['kind_accuracy']:.3f}",
                  flush=True)
    best = max(rows, key=lambda r: (r["at_recall_0.98"]["precision"], r["at_recall_0.98"]["kind_accuracy"],
                                    -r["ngram"][1], not r["cues"], not r["override"]))
    if args.json:
        print(json.dumps({"variants": rows, "chosen": best}, ensure_ascii=False, indent=1))
    else:
        print("chosen:", json.dumps(best, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
