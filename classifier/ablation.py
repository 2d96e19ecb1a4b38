"""The step table of docs/classifier.md: from the plain baseline to the
shipped model, each step trained on the shipped train.csv only and measured
on a labelled file (dev.csv).

    python -m classifier.ablation --data ../shared/data/complaints/dev.csv [--json]
        [--unlabelled ../shared/data/complaints/unlabelled.csv]

``--unlabelled`` adds the two tried-and-dropped uses of the unlabelled text
(vocabulary/IDF, self-training).  Progress on stderr.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.svm import LinearSVC

from classifier import data
from classifier.model import Docs, TrainConfig, _Block, _l2_rows, train


def _svc_step(name, cfg, blocks, tr: Docs, y, te: Docs, yd, category=False):
    def feats(d: Docs, fitted):
        parts = [w * b.transform(d) for b, w in fitted]
        if category:
            parts.append(sp.csr_matrix(cfg.category_weight * d.categories(cfg.head_chars)))
        return _l2_rows(sp.hstack(parts, format="csr"))

    fitted = [(_Block(key).fit(tr), w) for key, w in blocks]
    svc = LinearSVC(C=cfg.svc_c).fit(feats(tr, fitted), y)
    pred = svc.predict(feats(te, fitted))
    return {"step": name, "macro_f1": round(f1_score(yd, pred, average="macro"), 4),
            "accuracy": round(accuracy_score(yd, pred), 4)}


def run(dev_path: str, unlabelled: str | None = None) -> list[dict]:
    texts, labels = data.shipped()
    dev_t, dev_y = data.read_csv(dev_path)
    rows = []

    def log(r):
        print(f"[ablation] {r['step']}: macro-F1 {r['macro_f1']} accuracy {r['accuracy']}",
              file=sys.stderr, flush=True)
        rows.append(r)

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    svc = LinearSVC(C=1.0).fit(vec.fit_transform(texts), labels)
    pred = svc.predict(vec.transform(dev_t))
    log({"step": "0 baseline: raw text, char 1-2-gram TF-IDF, LinearSVC C=1",
         "macro_f1": round(f1_score(dev_y, pred, average="macro"), 4),
         "accuracy": round(accuracy_score(dev_y, pred), 4)})

    cfg = TrainConfig()
    tr, te = Docs.of(texts), Docs.of(dev_t)
    y = np.asarray(labels)
    chars = ("chars", 1, 3, 0)
    head = ("chars", 1, 3, cfg.head_chars)
    log(_svc_step("1 normalised text, char 1-3-grams, C=3", cfg, [(chars, 1.0)], tr, y, te, dev_y))
    log(_svc_step("2 + jieba words 1-2-grams (domain dictionary, stop words)", cfg,
                  [(("words",), 1.0), (chars, 1.0)], tr, y, te, dev_y))
    log(_svc_step(f"3 + subject weighting (head {cfg.head_chars} chars again)", cfg,
                  [(("words",), 1.0), (chars, 1.0), (head, 1.0)], tr, y, te, dev_y))
    log(_svc_step("4 + category-tree term counts", cfg,
                  [(("words",), 1.0), (chars, 1.0), (head, 1.0)], tr, y, te, dev_y, category=True))

    t0 = time.perf_counter()
    model = train(texts, labels, cfg, quiet=True)
    probs, _ = model.proba(dev_t)
    pred = model.calibrator.classes_[probs.argmax(1)]
    log({"step": "5 = step 4 calibrated by temperature scaling on out-of-fold margins (shipped model)",
         "macro_f1": round(f1_score(dev_y, pred, average="macro"), 4),
         "accuracy": round(accuracy_score(dev_y, pred), 4),
         "train_s": round(time.perf_counter() - t0, 1),
         "oof_accuracy": round(model.meta["oof_accuracy"], 4)})

    nb_cfg = TrainConfig(with_nb=True)
    model = train(texts, labels, nb_cfg, quiet=True)
    probs, _ = model.proba(dev_t)
    pred = model.calibrator.classes_[probs.argmax(1)]
    log({"step": "tried: step 4 + ComplementNB on the words, stacked and calibrated by a "
                 "logistic regression on out-of-fold scores",
         "macro_f1": round(f1_score(dev_y, pred, average="macro"), 4),
         "accuracy": round(accuracy_score(dev_y, pred), 4),
         "oof_accuracy": round(model.meta["oof_accuracy"], 4)})

    if unlabelled:
        with open(unlabelled, encoding="utf-8", newline="") as f:
            extra = [(r["subject"] or "") + (r["body"] or "") for r in csv.DictReader(f)]
        ux = Docs.of(extra)
        blocks = [("words",), chars, head]
        both = Docs(tr.norm + ux.norm, tr.tokens + ux.tokens)

        def feats(d, fitted):
            parts = [b.transform(d) for b in fitted]
            parts.append(sp.csr_matrix(cfg.category_weight * d.categories(cfg.head_chars)))
            return _l2_rows(sp.hstack(parts, format="csr"))

        fitted = [_Block(k).fit(both) for k in blocks]
        svc = LinearSVC(C=cfg.svc_c).fit(feats(tr, fitted), y)
        pred = svc.predict(feats(te, fitted))
        log({"step": "tried: step 4 with vocabulary/IDF from train + unlabelled text",
             "macro_f1": round(f1_score(dev_y, pred, average="macro"), 4),
             "accuracy": round(accuracy_score(dev_y, pred), 4)})

        fitted = [_Block(k).fit(tr) for k in blocks]
        svc = LinearSVC(C=cfg.svc_c).fit(feats(tr, fitted), y)
        dec = svc.decision_function(feats(ux, fitted))
        top2 = np.sort(dec, axis=1)[:, -2:]
        sure = np.where(top2[:, 1] - top2[:, 0] > 0.8)[0]
        pseudo = svc.classes_[dec.argmax(1)][sure]
        st = Docs(tr.norm + [ux.norm[i] for i in sure], tr.tokens + [ux.tokens[i] for i in sure])
        fitted = [_Block(k).fit(st) for k in blocks]
        svc = LinearSVC(C=cfg.svc_c).fit(feats(st, fitted), np.concatenate([y, pseudo]),
                                         sample_weight=np.r_[np.ones(len(y)), np.full(len(sure), 0.3)])
        pred = svc.predict(feats(te, fitted))
        log({"step": f"tried: step 4 + self-training on {len(sure)} confidently pseudo-labelled "
                     "unlabelled texts (weight 0.3)",
             "macro_f1": round(f1_score(dev_y, pred, average="macro"), 4),
             "accuracy": round(accuracy_score(dev_y, pred), 4)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="labelled CSV to measure on (text,label)")
    ap.add_argument("--unlabelled", help="unlabelled.csv (subject, body) for the tried variants")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = run(args.data, args.unlabelled)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        print("| step | macro-F1 | accuracy |\n|---|---|---|")
        for r in rows:
            print(f"| {r['step']} | {r['macro_f1']:.4f} | {r['accuracy']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
