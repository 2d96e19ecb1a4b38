"""Each step of unit routing on an annotated CSV (text,unit), at the
classifier level (no database; ``district`` counts as right when the step
says ``district``, which intake can only dispatch when the place is known):

    python bench/routing_ablation.py --data data/routing/eval.csv [--json]

steps:
  topic → catalogue   the topic model's label through the catalogue's
                      level-1 rules (what intake did before unit routing,
                      with the new units in the seed)
  lexicon only        the unit with the most lexicon votes (head counted
                      twice); no hit → the topic's unit
  unit model only     the unit router's model, without lexicon votes
  model + lexicon     the shipped combiner (calibrated, with its threshold)

Uses the default topic model and unit router (trained if missing).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from classifier import get_predictor, units
    from classifier import lexicon as lx
    from classifier.model import Docs, _calibrated, _softmax

    with open(args.data, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("text") and r.get("unit")]
    y = np.array([r["unit"] for r in rows])
    texts = [r["text"] for r in rows]
    topic = get_predictor()
    router = units.get_router()
    lexicon = lx.Lexicon(lx.read_csv())
    catalogue = lx.read_catalogue()
    labels = router.labels
    docs = Docs.of(texts)
    topics = topic.predict_batch(texts, explain=0)
    topic_unit = np.array([catalogue.get(p.label, "") for p in topics])

    out = {}

    def record(name, pred, conf=None, threshold=None, top3=None):
        right = pred == y
        d = {"n": len(y), "suggested_unit_accuracy": round(float(right.mean()), 4)}
        if top3 is not None:
            d["top3_unit_accuracy"] = round(float(np.mean([y[i] in top3[i] for i in range(len(y))])), 4)
        if conf is not None:
            auto = conf >= threshold
            d.update(auto_routed_share=round(float(auto.mean()), 4),
                     auto_routed_accuracy=round(float(right[auto].mean()), 4) if auto.any() else None,
                     first_dispatch_accuracy=round(float((right & auto).mean()), 4), threshold=round(threshold, 4))
        out[name] = d

    tconf = np.array([p.confidence for p in topics])
    record("topic → catalogue", topic_unit, tconf, topic.threshold)

    lex_pred = []
    for t, fallback in zip(docs.norm, topic_unit):
        whole, head = lx.votes(lexicon.match(t, normalized=True), labels)
        score = np.array(whole) + np.array(head)
        lex_pred.append(labels[int(score.argmax())] if score.max() > 0 else fallback)
    record("lexicon only", np.array(lex_pred))

    rows_, _ = router.base.features.rows(docs)
    coef_t = router.base.coef_t()
    margins = np.array([v @ coef_t[c] for c, v in rows_]).reshape(len(rows_), -1)
    p_model = _calibrated(router.calibrator, margins + router.base.svc.intercept_)
    order = np.argsort(-p_model, axis=1)
    record("unit model only", np.array(labels)[order[:, 0]],
           top3=[set(np.array(labels)[o[:3]]) for o in order])

    preds = router.predict_docs(docs, lexicon, explain=0)
    record("model + lexicon (shipped)", np.array([p.unit for p in preds]), np.array([p.confidence for p in preds]),
           router.threshold, top3=[{u for u, _ in p.top} for p in preds])
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        keys = ["suggested_unit_accuracy", "top3_unit_accuracy", "auto_routed_share", "auto_routed_accuracy",
                "first_dispatch_accuracy"]
        print(f"{'step':<28}" + "".join(f"{k[:22]:>24}" for k in keys))
        for name, d in out.items():
            print(f"{name:<28}" + "".join(f"{'' if d.get(k) is None else d[k]:>24}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
