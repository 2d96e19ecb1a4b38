"""Classifier speed and size: training time, model load time, memory of a
loaded model, single-ticket latency and batch throughput.

    python bench/classifier.py [--model PATH] [--units PATH] [--json] [--tickets N]

Without --model it trains the full configuration on the shipped data (and
reports the time); --model measures an existing file instead.  Latency and
throughput run pinned to one CPU core, on texts from the fixed holdout of the
shipped data.  Load time and memory are measured in fresh subprocesses.
Routing latency (``routing_ms_*``) is what intake computes per ticket
before touching the database: the topic model, the lexicon match and the
unit router (``--units``, default: the default unit router, trained if
missing).
Progress goes to stderr, figures to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# one core means one BLAS thread too
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

_PROBE = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
t0 = time.perf_counter()
import numpy, scipy.sparse, sklearn.linear_model, sklearn.svm, sklearn.naive_bayes, joblib, jieba
from classifier import text
from classifier.model import Predictor
t_import = time.perf_counter() - t0
rss0 = rss_mb()
t0 = time.perf_counter()
text.ensure_jieba()
t_jieba = time.perf_counter() - t0
rss1 = rss_mb()
t0 = time.perf_counter()
m = Predictor.load({path!r})
t_model = time.perf_counter() - t0
m.predict("路灯不亮")               # first call builds the explanation names
rss2 = rss_mb()
print(json.dumps(dict(t_import=t_import, t_jieba=t_jieba, t_model=t_model,
                      rss_jieba_mb=rss1 - rss0, rss_model_mb=rss2 - rss1, rss_total_mb=rss2)))
"""


def progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="an existing model file (skips the training measurement)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tickets", type=int, default=500, help="single-ticket calls to time")
    ap.add_argument("--units", help="a unit router file (default: the default one, trained if missing)")
    args = ap.parse_args(argv)

    from classifier import data
    from classifier.model import Predictor, train

    texts, labels = data.shipped()
    _, _, ho_texts, _ = data.holdout_split(texts, labels)
    figures: dict = {"cpus": os.cpu_count(), "loadavg_1min": os.getloadavg()[0]}

    tmp = tempfile.TemporaryDirectory()
    if args.model:
        path = Path(args.model)
    else:
        progress(f"training the full configuration on the shipped data ({len(texts)} tickets)…")
        t0, c0 = time.perf_counter(), time.process_time()
        model = train(texts, labels, quiet=True)
        figures["train_s"] = round(time.perf_counter() - t0, 2)
        figures["train_cpu_s"] = round(time.process_time() - c0, 2)
        path = Path(tmp.name) / "bench.joblib"
        model.save(path)
        progress(f"trained in {figures['train_s']} s wall, {figures['train_cpu_s']} s CPU")
    figures["model_file_mb"] = round(path.stat().st_size / 2**20, 1)

    progress("model load and memory, 3 fresh processes…")
    probes = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _PROBE.format(root=str(ROOT), path=str(path))],
                             capture_output=True, text=True, check=True, env=os.environ)
        probes.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {k: statistics.median(p[k] for p in probes) for k in probes[0]}
    figures["load_model_s"] = round(med["t_model"], 3)
    figures["load_jieba_init_s"] = round(med["t_jieba"], 3)
    figures["load_total_s"] = round(med["t_model"] + med["t_jieba"], 3)
    figures["import_s"] = round(med["t_import"], 3)
    figures["rss_model_mb"] = round(med["rss_model_mb"], 1)
    figures["rss_jieba_mb"] = round(med["rss_jieba_mb"], 1)
    figures["rss_process_mb"] = round(med["rss_total_mb"], 1)
    progress(f"load: model {figures['load_model_s']} s + jieba init {figures['load_jieba_init_s']} s; "
             f"RSS of the model {figures['rss_model_mb']} MB")

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        figures["pinned_to_one_core"] = True
    model = Predictor.load(path)
    sample = (ho_texts * (args.tickets // len(ho_texts) + 1))[: args.tickets]
    for t in sample[:20]:
        model.predict(t)
    progress(f"single-ticket latency over {len(sample)} calls…")
    lat, cpu = [], []
    for t in sample:
        t0, c0 = time.perf_counter(), time.thread_time()
        model.predict(t)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    figures["latency_ms_p50"] = round(statistics.median(lat), 3)
    figures["latency_ms_p95"] = round(pct(lat, 0.95), 3)
    # CPU time of the calling thread: what a ticket costs when the machine
    # is shared (wall time above also counts waiting for the core)
    figures["cpu_ms_p50"] = round(statistics.median(cpu), 3)
    figures["cpu_ms_p95"] = round(pct(cpu, 0.95), 3)
    lat_noexp = []
    for t in sample:
        t0 = time.perf_counter()
        model.predict(t, explain=0)
        lat_noexp.append((time.perf_counter() - t0) * 1000)
    figures["latency_ms_p50_without_explain"] = round(statistics.median(lat_noexp), 3)

    from classifier import lexicon as lx
    from classifier import units

    router = units.UnitRouter.load(args.units) if args.units else units.load_or_train_default(quiet=True)
    lexicon = lx.Lexicon(lx.read_csv())
    progress(f"routing latency (topic + lexicon + unit router) over {len(sample)} calls…")
    rlat, rcpu = [], []
    for t in sample:
        t0, c0 = time.perf_counter(), time.thread_time()
        model.predict(t)
        router.predict(t, lexicon)
        rlat.append((time.perf_counter() - t0) * 1000)
        rcpu.append((time.thread_time() - c0) * 1000)
    figures["routing_ms_p50"] = round(statistics.median(rlat), 3)
    figures["routing_ms_p95"] = round(pct(rlat, 0.95), 3)
    figures["routing_cpu_ms_p50"] = round(statistics.median(rcpu), 3)
    progress(f"routing p50 {figures['routing_ms_p50']} ms")
    progress(f"p50 {figures['latency_ms_p50']} ms, p95 {figures['latency_ms_p95']} ms")

    batch = ho_texts * 8
    progress(f"batch throughput over {len(batch)} tickets…")
    t0, c0 = time.perf_counter(), time.thread_time()
    model.predict_batch(batch)
    dt, dc = time.perf_counter() - t0, time.thread_time() - c0
    figures["batch_tickets_per_s"] = round(len(batch) / dt, 1)
    figures["batch_tickets_per_cpu_s"] = round(len(batch) / dc, 1)
    t0 = time.perf_counter()
    model.predict_batch(batch, explain=0)
    figures["batch_tickets_per_s_without_explain"] = round(len(batch) / (time.perf_counter() - t0), 1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    workers = os.cpu_count() or 1
    progress(f"batch throughput with {workers} forked processes…")
    model.predict_batch(batch[:200], workers=workers)   # warm the page cache of the fork path
    t0 = time.perf_counter()
    par = model.predict_batch(batch, workers=workers)
    figures[f"batch_tickets_per_s_{workers}_processes"] = round(len(batch) / (time.perf_counter() - t0), 1)
    assert [p.label for p in par] == [p.label for p in model.predict_batch(batch[:len(par)])]
    figures["loadavg_1min_after"] = os.getloadavg()[0]
    progress(f"{figures['batch_tickets_per_s']} tickets/s")

    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        for k, v in figures.items():
            print(f"{k:<{width}}  {v}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
