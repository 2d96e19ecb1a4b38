"""Emergency detector speed: model load (training from the shipped set),
then p50/p95/max of one ``detect`` call over every text of the training
and evaluation sets, several rounds.

    OMP_NUM_THREADS=1 python bench/emergency.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifier import emergency  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    det = emergency.get_detector()
    load_s = time.perf_counter() - t0
    texts = []
    for name in ("train.csv", "eval.csv"):
        texts += emergency.read_labelled(emergency.TRAIN_PATH.parent / name)[0]
    det.detect(texts[0])
    times = []
    for _ in range(args.rounds):
        for text in texts:
            a = time.perf_counter()
            det.detect(text)
            times.append((time.perf_counter() - a) * 1000)
    times.sort()
    print(f"load+train {load_s:.2f} s; {len(times)} detect calls over {len(texts)} texts: "
          f"p50 {statistics.median(times):.3f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.3f} ms, "
          f"max {times[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
