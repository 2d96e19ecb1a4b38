"""``python -m hotline emergency-eval --data FILE.csv [--json]``: the
emergency detector's figures on a labelled file.

FILE has columns ``text,emergency`` (1/0, also true/false, yes/no) and an
optional ``kind`` (police110, fire119, medical120, utility_urgent).
Precision, recall and F1 are for "is an emergency"; ``kind_accuracy`` is
measured on the true emergencies that have a kind (a missed emergency
counts as a wrong kind); ``per_kind`` gives, per true kind, how many there
were, how many were detected and how many got the right kind, and per
predicted kind its precision; ``latency_ms_p50`` is the median time of one
``detect`` call, measured after the model is loaded.
"""
from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path

from classifier.emergency import KINDS, get_detector

TRUE = {"1", "true", "yes", "y", "是"}
FALSE = {"0", "false", "no", "n", "否", ""}


class EvalDataError(ValueError):
    pass


def read_rows(path: str | Path) -> list[tuple[str, bool, str | None]]:
    p = Path(path)
    if not p.is_file():
        raise EvalDataError(f"no such file: {path}")
    rows = []
    with open(p, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = {c.strip() for c in (reader.fieldnames or [])}
        if not {"text", "emergency"} <= cols:
            raise EvalDataError(f"{path}: needs the columns text,emergency (found: {', '.join(sorted(cols)) or 'none'})")
        for n, row in enumerate(reader, start=2):
            row = {(k or "").strip(): v for k, v in row.items()}
            flag = str(row.get("emergency") or "").strip().lower()
            if flag not in TRUE | FALSE:
                raise EvalDataError(f"{path}:{n}: emergency must be 1 or 0, not {flag!r}")
            kind = (row.get("kind") or "").strip() or None
            if kind is not None and kind not in KINDS:
                raise EvalDataError(f"{path}:{n}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
            rows.append((row.get("text") or "", flag in TRUE, kind))
    if not rows:
        raise EvalDataError(f"{path}: no rows")
    return rows


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def evaluate(rows: list[tuple[str, bool, str | None]]) -> dict:
    det = get_detector()
    det.detect("预热")  # the first call pays for lazy imports, not the p50
    verdicts, times = [], []
    for text, _, _ in rows:
        t0 = time.perf_counter()
        verdicts.append(det.detect(text))
        times.append((time.perf_counter() - t0) * 1000)
    tp = sum(1 for (_, y, _), v in zip(rows, verdicts) if y and v.emergency)
    fp = sum(1 for (_, y, _), v in zip(rows, verdicts) if not y and v.emergency)
    fn = sum(1 for (_, y, _), v in zip(rows, verdicts) if y and not v.emergency)
    tn = len(rows) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)) if precision and recall else (0.0 if precision is not None
                                                                                          and recall is not None else None)
    kinded = [(k, v) for (_, y, k), v in zip(rows, verdicts) if y and k]
    kind_accuracy = sum(1 for k, v in kinded if v.kind == k) / len(kinded) if kinded else None
    per_kind = {}
    for kind in KINDS:
        mine = [v for k, v in kinded if k == kind]
        predicted = [(y, k) for (_, y, k), v in zip(rows, verdicts) if v.emergency and v.kind == kind]
        per_kind[kind] = {
            "n": len(mine),
            "detected": sum(1 for v in mine if v.emergency),
            "kind_correct": sum(1 for v in mine if v.kind == kind),
            "recall": _r(sum(1 for v in mine if v.emergency) / len(mine)) if mine else None,
            "kind_accuracy": _r(sum(1 for v in mine if v.kind == kind) / len(mine)) if mine else None,
            "predicted": len(predicted),
            "precision": _r(sum(1 for y, k in predicted if y and k == kind) / len(predicted)) if predicted else None,
        }
    return {
        "n": len(rows), "precision": _r(precision), "recall": _r(recall), "f1": _r(f1),
        "kind_accuracy": _r(kind_accuracy), "per_kind": per_kind,
        "latency_ms_p50": round(statistics.median(times), 3),
        "latency_ms_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn, "threshold": det.cfg.threshold,
    }


def errors(rows, limit: int = 50) -> list[dict]:
    det = get_detector()
    out = []
    for text, y, k in rows:
        v = det.detect(text)
        if v.emergency != y or (y and k and v.kind != k):
            out.append({"text": text, "emergency": y, "kind": k, "got": v.kind if v.emergency else None,
                        "confidence": round(v.confidence, 3), "words": list(v.words)})
    return out[:limit]


def format_text(r: dict) -> str:
    lines = [f"n={r['n']}  precision={r['precision']}  recall={r['recall']}  f1={r['f1']}  "
             f"kind_accuracy={r['kind_accuracy']}  latency_ms_p50={r['latency_ms_p50']}",
             f"tp={r['tp']} fp={r['fp']} fn={r['fn']} tn={r['tn']} (threshold {r['threshold']})",
             f"{'kind':<16}{'n':>5}{'detected':>10}{'kind ok':>9}{'predicted':>11}{'precision':>11}"]
    for kind, k in r["per_kind"].items():
        lines.append(f"{kind:<16}{k['n']:>5}{k['detected']:>10}{k['kind_correct']:>9}{k['predicted']:>11}"
                     f"{'' if k['precision'] is None else k['precision']:>11}")
    return "\n".join(lines)
