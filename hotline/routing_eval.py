"""``python -m hotline routing-eval --data FILE.csv [--json]``: how well the
intake path sends messages to the unit that acts.

FILE has columns ``text,unit`` (and optionally ``address``); ``unit`` is a
unit code, or ``district`` (right when the ticket goes to any unit of kind
district).  The command builds a fresh temporary SQLite database, migrates
it, loads the demo seed, and runs exactly what intake runs
(``TicketService.suggest``: classifier, lexicon, catalogue, address) with the
default model, as the Guiyang city platform (where the demo's agents work).
It creates no tickets.

Figures (all over the n rows):
  first_dispatch_accuracy  auto-routed (no person asked) and right, over n
  auto_routed_share        share the service would dispatch without a person
  auto_routed_accuracy     right among the auto-routed
  suggested_unit_accuracy  the suggested unit is right, reviewed or not
  top3_unit_accuracy       the right unit is among the three suggested
  per_unit                 precision, recall, support of the suggested unit
  latency_ms_p50/p95       wall time of one suggestion (the intake path)
"""
from __future__ import annotations

import csv
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def read_rows(path: str) -> list[dict]:
    if not Path(path).is_file():
        raise SystemExit(f"{path}: no such file")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"text", "unit"} - set(reader.fieldnames or [])
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = [{"text": (r.get("text") or "").strip(), "unit": (r.get("unit") or "").strip(),
                 "address": (r.get("address") or "").strip()} for r in reader]
    rows = [r for r in rows if r["text"] and r["unit"]]
    if not rows:
        raise SystemExit(f"{path}: no rows with text and unit")
    return rows


def _right(unit, expected: str) -> bool:
    if unit is None:
        return False
    if expected == "district":
        return unit.kind == "district"
    return unit.code == expected


def _label(unit) -> str:
    if unit is None:
        return "(none)"
    return "district" if unit.kind == "district" else unit.code


def evaluate(rows: list[dict], db_dir: str | None = None) -> dict:
    from sqlalchemy import select

    from dispatch.tickets import TicketService
    from hotline.seed import CITY, seed_demo
    from models import Database, Unit
    from models.migrate import upgrade

    with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'routing-eval.db'}"
        upgrade(url)
        db = Database(url)
        seed_demo(db, password="routing-eval-unused")
        service = TicketService(db)
        service.predictor()                     # load (or train) the default model first
        results = []
        with db.session() as s:
            city = s.scalar(select(Unit).where(Unit.code == CITY[0]))
            for r in rows:
                t0 = time.perf_counter()
                sug = service.suggest(s, city, r["text"], address=r["address"])
                ms = (time.perf_counter() - t0) * 1000
                unit = None if sug.unit.is_platform else sug.unit
                auto = not sug.abstain and not sug.fallback and unit is not None
                top3 = [u for u, _ in (getattr(sug, "unit_top", None) or [])][:3] \
                    or _topic_units(s, city, sug)
                results.append({"expected": r["unit"], "unit": unit, "auto": auto, "ms": ms,
                                "right": _right(unit, r["unit"]),
                                "top3": any(_right(u, r["unit"]) for u in top3)})
            out = summarise(results)
            s.rollback()
        db.dispose()
    return out


def _topic_units(session, city, sug) -> list:
    """Units of the three suggested topics, for a suggestion that carries
    no unit ranking of its own (the topic-only pipeline)."""
    from sqlalchemy import select

    from dispatch import routing
    from models import Category

    units = []
    for label, _ in sug.top[:3]:
        cat = session.scalar(select(Category).where(Category.level == 1, Category.name == label))
        u = routing.route(session, city, cat, sug.division_code).unit
        if not u.is_platform and u not in units:
            units.append(u)
    return units


def summarise(results: list[dict]) -> dict:
    n = len(results)
    auto = [r for r in results if r["auto"]]
    right = sum(r["right"] for r in results)
    per_unit = {}
    expected = Counter(r["expected"] for r in results)
    predicted = Counter(_label(r["unit"]) for r in results)
    for code in sorted(set(expected) | set(predicted)):
        tp = sum(1 for r in results if r["right"] and r["expected"] == code)
        per_unit[code] = {
            "precision": round(tp / predicted[code], 4) if predicted[code] else None,
            "recall": round(tp / expected[code], 4) if expected[code] else None,
            "support": expected[code],
            "predicted": predicted[code],
        }
    ms = sorted(r["ms"] for r in results)
    return {
        "n": n,
        "first_dispatch_accuracy": round(sum(r["right"] for r in auto) / n, 4),
        "auto_routed_share": round(len(auto) / n, 4),
        "auto_routed_accuracy": round(sum(r["right"] for r in auto) / len(auto), 4) if auto else None,
        "suggested_unit_accuracy": round(right / n, 4),
        "top3_unit_accuracy": round(sum(r["top3"] for r in results) / n, 4),
        "per_unit": per_unit,
        "latency_ms_p50": round(statistics.median(ms), 3),
        "latency_ms_p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
    }


def main(args) -> int:
    rows = read_rows(args.data)
    out = evaluate(rows)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"n = {out['n']}")
    for k in ("first_dispatch_accuracy", "auto_routed_share", "auto_routed_accuracy",
              "suggested_unit_accuracy", "top3_unit_accuracy", "latency_ms_p50", "latency_ms_p95"):
        print(f"{k:<26} {out[k]}")
    print(f"{'unit':<12}{'precision':>10}{'recall':>8}{'support':>9}{'predicted':>10}")
    for code, m in out["per_unit"].items():
        p = "-" if m["precision"] is None else f"{m['precision']:.3f}"
        r = "-" if m["recall"] is None else f"{m['recall']:.3f}"
        print(f"{code:<12}{p:>10}{r:>8}{m['support']:>9}{m['predicted']:>10}")
    return 0


if __name__ == "__main__":                    # pragma: no cover
    sys.exit(main(None))
