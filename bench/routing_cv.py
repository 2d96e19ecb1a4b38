"""Cross-validation of the unit router on its TRAINING data only (the
shipped train.csv topics turned into units, the reply-derived labels and the
hand-annotated tune.csv), for choosing the combiner and the abstain
threshold without looking at eval.csv:

    python bench/routing_cv.py [--json] [--no-tune] [--targets 0.93,0.95]

The unit model's margins are out-of-fold (``units.out_of_fold``, 5 folds);
the combiner is fitted in a second, outer 5-fold loop on those margins, and
the threshold for each target precision is chosen on the combiner's
training folds (over all of them, or only over the independently labelled
rows: replies + tune.csv) and applied to the held-out fold.  Figures are
reported per source, because train.csv's unit labels are derived with the
lexicon (which is also a feature) and so flatter the router; replies and
tune.csv are labelled independently of it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def metrics(p: np.ndarray, y_idx: np.ndarray, auto: np.ndarray) -> dict:
    pred = p.argmax(axis=1)
    right = pred == y_idx
    top3 = np.argsort(-p, axis=1)[:, :3]
    return {"n": int(len(y_idx)), "suggested_unit_accuracy": round(float(right.mean()), 4),
            "top3_unit_accuracy": round(float(np.mean([y_idx[i] in top3[i] for i in range(len(y_idx))])), 4),
            "auto_routed_share": round(float(auto.mean()), 4),
            "auto_routed_accuracy": round(float(right[auto].mean()), 4) if auto.any() else None,
            "first_dispatch_accuracy": round(float((right & auto).mean()), 4)}


def cross_validate(logp, votes, y_idx, sources, targets, l2=1.0, folds=5, seed=0, fit=None, scores=None,
                   fit_mask=None):
    """``fit_mask``: fit the combiner only on these rows of each training fold."""
    from sklearn.model_selection import KFold

    from classifier import units
    from classifier.model import _softmax, choose_threshold

    fit = fit or units.fit_combiner
    scores = scores or units._scores
    p = np.zeros_like(logp)
    thr = {(t, basis): np.zeros(len(y_idx)) for t in targets for basis in ("all", "independent")}
    independent = np.isin(sources, ["replies", "tune"])
    for tr, te in KFold(folds, shuffle=True, random_state=seed).split(logp):
        fr = tr if fit_mask is None else tr[fit_mask[tr]]
        params = fit(logp[fr], votes[fr], y_idx[fr], l2)
        p_tr = _softmax(scores(params, logp[tr], votes[tr]))
        p[te] = _softmax(scores(params, logp[te], votes[te]))
        right_tr = p_tr.argmax(axis=1) == y_idx[tr]
        conf_tr = p_tr.max(axis=1)
        for t in targets:
            thr[(t, "all")][te] = choose_threshold(conf_tr, right_tr, t)
            ind = independent[tr]
            thr[(t, "independent")][te] = choose_threshold(conf_tr[ind], right_tr[ind], t)
    out = {}
    conf = p.max(axis=1)
    groups = {"all": np.ones(len(y_idx), bool), "train.csv": sources == "train.csv",
              "replies": sources == "replies", "tune": sources == "tune", "independent": independent}
    for (t, basis), th in thr.items():
        auto = conf >= th
        out[f"threshold for {t:.2f} on {basis}"] = {
            "threshold_mean": round(float(th.mean()), 4),
            **{g: metrics(p[m], y_idx[m], auto[m]) for g, m in groups.items() if m.any()}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-tune", action="store_true", help="leave tune.csv out of the training data")
    ap.add_argument("--targets", default="0.93,0.95")
    ap.add_argument("--cache", default="", help="npz file to keep the out-of-fold margins in")
    args = ap.parse_args(argv)

    from classifier import lexicon as lx
    from classifier import units
    from classifier.model import TemperatureCalibrator

    lexicon = lx.Lexicon(lx.read_csv())
    texts, labels, sources = units.training_set(lexicon, with_tune=not args.no_tune)
    y = np.asarray(labels)
    cfg = units.UnitConfig()
    cache = Path(args.cache) if args.cache else None
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        classes, votes, oof = z["classes"], z["votes"], z["oof"]
        assert len(oof) == len(y), "stale cache"
    else:
        _, classes, votes, oof = units.out_of_fold(texts, y, cfg, lexicon, quiet=False)
        if cache:
            np.savez(cache, classes=classes, votes=votes, oof=oof)
    calibrator = TemperatureCalibrator(classes).fit(oof, y)
    logp = np.log(np.clip(calibrator.predict_proba(oof), 1e-9, None))
    y_idx = np.searchsorted(classes, y)
    targets = [float(t) for t in args.targets.split(",")]
    out = cross_validate(logp, votes, y_idx, np.asarray(sources), targets, l2=cfg.bias_l2)
    out["unit model only (out-of-fold)"] = {
        g: round(float((logp.argmax(axis=1) == y_idx)[np.asarray(sources) == g].mean()), 4)
        for g in sorted(set(sources))}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    for name, d in out.items():
        print(name)
        for g, v in d.items():
            print(f"  {g:<16} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
