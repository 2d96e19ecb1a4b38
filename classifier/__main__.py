"""``python -m classifier``: train, evaluate, and the model registry.

  train [--data CSV ...] [--out PATH] [--fast]
  evaluate --data FILE.csv [--model PATH] [--json]
  register PATH [--note TEXT] | list | activate VERSION | rollback | retrain [--fast] [--enqueue]

Registry commands need DATABASE_URL; ``retrain --enqueue`` also REDIS_URL.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _die(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def cmd_train(args) -> int:
    from classifier import data, default_model_path
    from classifier.model import TrainConfig, train

    if args.data:
        texts, labels = data.read_many(args.data)
        note = "trained on " + ", ".join(str(Path(p).name) for p in args.data)
    else:
        texts, labels = data.shipped()
        note = "shipped train.csv"
    out = Path(args.out) if args.out else default_model_path()
    model = train(texts, labels, TrainConfig.fast() if args.fast else TrainConfig(), note=note,
                  extra_meta={"holdout_excluded": False})
    model.save(out)
    print(f"saved {model.version} to {out}", file=sys.stderr)
    print(json.dumps({"version": model.version, "path": str(out), "n_train": len(labels),
                      "train_seconds": model.meta["train_seconds"]}, ensure_ascii=False))
    return 0


def cmd_evaluate(args) -> int:
    from classifier import data, load_or_train_default
    from classifier.evaluate import evaluate
    from classifier.model import Predictor

    texts, labels = data.read_csv(args.data)
    if not texts:
        return _die(f"{args.data}: no labelled rows")
    model = Predictor.load(args.model) if args.model else load_or_train_default()
    result = evaluate(model, texts, labels)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"model {result['model_version']} on {args.data} (n={result['n']})")
    print(f"macro-F1 {result['macro_f1']:.4f}  accuracy {result['accuracy']:.4f}  "
          f"top-3 {result['top3_accuracy']:.4f}  ECE {result['ece']:.4f}")
    print(f"abstain threshold {result['threshold']:.3f}: auto-routed {result['auto_routed_share']:.1%} "
          f"with accuracy {result['auto_routed_accuracy']}")
    print(f"latency p50 {result['latency_ms_p50']} ms, p95 {result['latency_ms_p95']} ms")
    for lab, m in result["per_label"].items():
        print(f"  {lab:<8} P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f} n {m['support']}")
    return 0


def _db():
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit(_die("DATABASE_URL is not set"))
    from models import Database

    return Database(url)


def cmd_registry(args) -> int:
    from classifier import registry

    db = _db()
    try:
        with db.session() as s:
            if args.cmd == "register":
                row = registry.register(s, args.path, note=args.note)
                out = registry.describe(row)
            elif args.cmd == "list":
                out = [registry.describe(r) for r in registry.list_versions(s)]
                if not args.json:
                    for r in out:
                        m = (r["metrics"] or {}).get("holdout", {})
                        a = (r["metrics"] or {}).get("active_on_holdout", {})
                        print(f"{'*' if r['active'] else ' '} {r['version']:<40} "
                              f"holdout F1 {m.get('macro_f1', '-')!s:<7} active's {a.get('macro_f1', '-')!s:<7} "
                              f"{r['note']}")
                    return 0
            elif args.cmd == "activate":
                out = registry.describe(registry.activate(s, args.version))
            else:
                out = registry.describe(registry.rollback(s))
    except registry.RegistryError as e:
        return _die(str(e))
    finally:
        db.dispose()
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    return 0


def cmd_retrain(args) -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return _die("DATABASE_URL is not set")
    from classifier import jobs

    if args.enqueue:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            return _die("REDIS_URL is not set (needed by --enqueue)")
        import redis

        job = jobs.enqueue_retrain(redis.Redis.from_url(redis_url), url, **({"fast": True} if args.fast else {}))
        print(json.dumps({"enqueued": job.id, "queue": jobs.QUEUE}))
        return 0
    print(json.dumps(jobs.retrain(url, fast=args.fast), ensure_ascii=False, default=str))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m classifier", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a model (default: the shipped data → the default model)")
    t.add_argument("--data", nargs="+", help="CSV file(s) with columns text,label")
    t.add_argument("--out", help="model file (default: the default model path)")
    t.add_argument("--fast", action="store_true", help="smaller, quicker configuration")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="measure a model on a CSV with columns text,label")
    e.add_argument("--data", required=True)
    e.add_argument("--model", help="model file (default: the project's default model)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)
    r = sub.add_parser("register", help="record a model file in the registry")
    r.add_argument("path")
    r.add_argument("--note", default="")
    r.set_defaults(func=cmd_registry)
    ls = sub.add_parser("list", help="registered versions, newest first")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_registry)
    a = sub.add_parser("activate", help="make a version the active model")
    a.add_argument("version")
    a.set_defaults(func=cmd_registry)
    rb = sub.add_parser("rollback", help="re-activate the previously active version")
    rb.set_defaults(func=cmd_registry)
    rt = sub.add_parser("retrain", help="train a candidate from shipped data + corrections now")
    rt.add_argument("--fast", action="store_true")
    rt.add_argument("--enqueue", action="store_true", help="run it on an rq worker instead")
    rt.set_defaults(func=cmd_retrain)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
