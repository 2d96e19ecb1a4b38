"""How often the knowledge base would have answered a held-back question.

    python -m bench.knowledge_hits [--folds 5] [--seed 20261130]

The shipped entries (data/knowledge/entries.csv.gz, 2,414 cleaned replies)
are split into ``folds`` parts (seeded shuffle).  Each part in turn is held
back: its questions (subject + body, as the citizen wrote them) are
searched in an index built from the other parts alone, exactly as
``GET /api/v1/knowledge?q=`` searches (dispatch.knowledge).

A held-back question counts as *answered at k* when one of the top k
entries was written by the same unit (the unit the government reply names,
classifier.replies; only the questions whose reply names a unit are
counted) and is filed under the same matter (the 通俗化词条 matter, level 3),
i.e. the same unit answered the same kind of question.  Also printed:
unit alone, unit + first-level topic, matter alone (over every question),
and a baseline that always names the most frequent unit.

Prints one JSON object."""
from __future__ import annotations

import argparse
import json
import random
import time

from dispatch.knowledge import Index, words
from dispatch.knowledge_build import read_shipped


def evaluate(rows: list[dict], folds: int, seed: int, ks=(1, 5)) -> dict:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    part = {i: n % folds for n, i in enumerate(order)}
    counts: dict[str, int] = {}
    n_unit = n_matter = 0
    baseline = 0
    latencies = []

    def bump(key):
        counts[key] = counts.get(key, 0) + 1

    for f in range(folds):
        train = [i for i in range(len(rows)) if part[i] != f]
        index = Index.from_rows([(i, rows[i]["terms"], None, None) for i in train])
        units = [rows[i]["unit"] for i in train if rows[i]["unit"]]
        common = max(set(units), key=units.count)
        for i in (i for i in range(len(rows)) if part[i] == f):
            q = rows[i]
            t0 = time.perf_counter()
            hits = [rows[j] for j, _ in index.search(words(q["question"] + " " + q["detail"]), max(ks))]
            latencies.append(time.perf_counter() - t0)
            top1 = q["matter"].split("/")[0]
            if q["matter"]:
                n_matter += 1
            if q["unit"]:
                n_unit += 1
                baseline += common == q["unit"]
            for k in ks:
                top = hits[:k]
                if q["unit"]:
                    if any(h["unit"] == q["unit"] for h in top):
                        bump(f"unit@{k}")
                    if any(h["unit"] == q["unit"] and h["matter"].split("/")[0] == top1 for h in top):
                        bump(f"unit_topic@{k}")
                    if any(h["unit"] == q["unit"] and h["matter"] == q["matter"] for h in top):
                        bump(f"unit_matter@{k}")
                if q["matter"] and any(h["matter"] == q["matter"] for h in top):
                    bump(f"matter@{k}")
    latencies.sort()
    rate = lambda key, n: round(counts.get(key, 0) / n, 4) if n else None  # noqa: E731
    return {
        "entries": len(rows), "folds": folds, "seed": seed,
        "questions_with_unit": n_unit, "questions_with_matter": n_matter,
        "answered_at_1": rate("unit_matter@1", n_unit), "answered_at_5": rate("unit_matter@5", n_unit),
        "unit_at_1": rate("unit@1", n_unit), "unit_at_5": rate("unit@5", n_unit),
        "unit_topic_at_1": rate("unit_topic@1", n_unit), "unit_topic_at_5": rate("unit_topic@5", n_unit),
        "matter_at_1": rate("matter@1", n_matter), "matter_at_5": rate("matter@5", n_matter),
        "baseline_most_frequent_unit": round(baseline / n_unit, 4) if n_unit else None,
        "search_ms_median": round(1000 * latencies[len(latencies) // 2], 3),
        "search_ms_p95": round(1000 * latencies[int(len(latencies) * 0.95)], 3),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.knowledge_hits")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=20261130)
    a = p.parse_args(argv)
    print(json.dumps(evaluate(read_shipped(), a.folds, a.seed), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
