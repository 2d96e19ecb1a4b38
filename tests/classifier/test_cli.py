"""``python -m classifier evaluate --json`` and ``train`` as outside checks
call them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args, env_extra=None, timeout=300):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "classifier", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _small_csv(tmp_path, split, n=40):
    from classifier import data

    path = tmp_path / "small.csv"
    data.write_csv(path, split[2][:n], split[3][:n])
    return path, split[3][:n]


def _check_shape(out: dict, labels: list[str]):
    for key in ("macro_f1", "accuracy", "n", "per_label", "auto_routed_share", "auto_routed_accuracy",
                "latency_ms_p50", "ece", "threshold"):
        assert key in out, key
    assert out["n"] == len(labels)
    assert set(labels) <= set(out["per_label"])
    for m in out["per_label"].values():
        assert set(m) == {"precision", "recall", "f1", "support"}
    assert sum(m["support"] for m in out["per_label"].values()) == len(labels)
    assert 0 <= out["macro_f1"] <= 1 and 0 <= out["accuracy"] <= 1
    assert 0 <= out["auto_routed_share"] <= 1
    assert out["latency_ms_p50"] > 0


def test_evaluate_json_with_model(tmp_path, split, model_file, model):
    csv_path, labels = _small_csv(tmp_path, split)
    r = _run(["evaluate", "--data", str(csv_path), "--model", str(model_file), "--json"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)          # exactly one JSON object on stdout
    _check_shape(out, labels)
    assert out["model_version"] == model.version
    assert out["accuracy"] >= 0.8


def test_evaluate_default_model(tmp_path, split, default_model, model):
    csv_path, labels = _small_csv(tmp_path, split, n=15)
    r = _run(["evaluate", "--data", str(csv_path), "--json"],
             {"HOTLINE_MODEL_DIR": str(default_model.parent)})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    _check_shape(out, labels)
    assert out["model_version"] == model.version


def test_evaluate_rejects_a_file_without_labels(tmp_path, model_file):
    bad = tmp_path / "bad.csv"
    bad.write_text("text\n路灯不亮\n", encoding="utf-8")
    r = _run(["evaluate", "--data", str(bad), "--model", str(model_file), "--json"])
    assert r.returncode != 0
    assert "label" in r.stderr


def test_train_cli_writes_a_model(tmp_path, split):
    from classifier import data
    from classifier.model import Predictor

    train_csv = tmp_path / "t.csv"
    data.write_csv(train_csv, split[0][:300], split[1][:300])
    out = tmp_path / "m.joblib"
    r = _run(["train", "--data", str(train_csv), "--out", str(out), "--fast"])
    assert r.returncode == 0, r.stderr
    assert "fold 1/3" in r.stderr                 # progress on stderr
    info = json.loads(r.stdout)
    assert info["n_train"] == 300 and out.exists()
    assert Predictor.load(out).version == info["version"]
