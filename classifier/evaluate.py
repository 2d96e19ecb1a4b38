"""Measuring a model on labelled texts: F1, accuracy, calibration, the
abstain trade-off and latency."""
from __future__ import annotations

import statistics
import time
from typing import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from classifier.model import Predictor


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, bins: int = 10):
    """ECE over equal-width confidence bins, and the reliability table."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    table = []
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        n = int(mask.sum())
        if n == 0:
            continue
        acc = float(correct[mask].mean())
        mean_conf = float(conf[mask].mean())
        ece += n / len(conf) * abs(acc - mean_conf)
        table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": n,
                      "mean_confidence": round(mean_conf, 4), "accuracy": round(acc, 4)})
    return float(ece), table


def evaluate(model: Predictor, texts: Sequence[str], labels: Sequence[str],
             latency_samples: int = 200) -> dict:
    texts, labels = list(texts), list(labels)
    probs, _ = model.proba(texts)
    classes = model.calibrator.classes_
    pred = classes[probs.argmax(axis=1)]
    conf = probs.max(axis=1)
    y = np.asarray(labels)
    correct = pred == y
    known = sorted(set(labels) | set(pred.tolist()))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=known, zero_division=0)
    per_label = {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                       "f1": round(float(f[i]), 4), "support": int(s[i])}
                 for i, lab in enumerate(known)}
    auto = conf >= model.threshold
    ece, reliability = expected_calibration_error(conf, correct)
    # top-3: how often the right label is among the three suggestions
    top3 = np.argsort(-probs, axis=1)[:, :3]
    top3_hit = np.mean([y[i] in classes[top3[i]] for i in range(len(y))])

    # single-ticket latency, one call per ticket, as the service calls it
    lat, cpu = [], []
    for t in texts[:latency_samples]:
        t0, c0 = time.perf_counter(), time.thread_time()
        model.predict(t)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    lat.sort()

    trade_off = []
    for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, round(model.threshold, 3)):
        m = conf >= t
        trade_off.append({"threshold": t, "auto_routed_share": round(float(m.mean()), 4),
                          "auto_routed_accuracy": round(float(correct[m].mean()), 4) if m.any() else None})
    trade_off.sort(key=lambda d: d["threshold"])

    return {
        "model_version": model.version,
        "n": len(y),
        "macro_f1": round(float(f1_score(y, pred, labels=known, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "per_label": per_label,
        "threshold": round(float(model.threshold), 4),
        "auto_routed_share": round(float(auto.mean()), 4),
        "auto_routed_accuracy": round(float(correct[auto].mean()), 4) if auto.any() else None,
        "ece": round(ece, 4),
        "reliability": reliability,
        "top3_accuracy": round(float(top3_hit), 4),
        "latency_ms_p50": round(statistics.median(lat), 3) if lat else None,
        "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 3) if lat else None,
        # CPU time of the calling thread: wall time also counts waiting for
        # a core when the machine is shared
        "latency_cpu_ms_p50": round(statistics.median(cpu), 3) if cpu else None,
        "threshold_trade_off": trade_off,
    }
