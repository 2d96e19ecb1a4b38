"""The emergency detector and ``python -m hotline emergency-eval`` as the
outside check calls it."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.emergency import KINDS, detect, normalise

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "data" / "emergency" / "eval.csv"
EVAL_SHA256 = "5bbcd80b4d3b916279a0c8d8f0c7f481e6222c73a2ba89d77bf0968d934ea7e6"


def _eval(*args, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "hotline", "emergency-eval", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_the_evaluation_set_is_frozen():
    assert hashlib.sha256(EVAL.read_bytes()).hexdigest() == EVAL_SHA256


def test_emergency_eval_json_contract_and_targets_on_the_frozen_set():
    r = _eval("--data", str(EVAL), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("n", "precision", "recall", "f1", "kind_accuracy", "per_kind", "latency_ms_p50"):
        assert key in out, key
    assert out["n"] == 256
    assert set(out["per_kind"]) == set(KINDS)
    assert sum(k["n"] for k in out["per_kind"].values()) == 128
    # the targets, on a set the detector was not tuned on
    assert out["recall"] >= 0.97 and out["precision"] >= 0.90 and out["kind_accuracy"] >= 0.90, out
    assert out["latency_ms_p50"] > 0


def _eval_in_process(capsys, *args) -> tuple[int, str, str]:
    from hotline.cli import main

    code = main(["emergency-eval", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_emergency_eval_without_kind_column_and_readable_output(tmp_path, capsys):
    f = tmp_path / "two.csv"
    f.write_text("text,emergency\n有个男的拿着刀在我店里抢钱 人还没走,1\n上个月的燃气费怎么交,0\n", encoding="utf-8")
    code, stdout, stderr = _eval_in_process(capsys, "--data", str(f), "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out["n"] == 2 and out["kind_accuracy"] is None and out["recall"] == 1.0 and out["precision"] == 1.0
    code, stdout, _ = _eval_in_process(capsys, "--data", str(f))
    assert code == 0 and "precision=" in stdout


@pytest.mark.parametrize("content, complaint", [
    (None, "no such file"),
    ("words,label\n火,1\n", "needs the columns text,emergency"),
    ("text,emergency\n着火了,maybe\n", "emergency must be 1 or 0"),
    ("text,emergency,kind\n着火了,1,fire\n", "unknown kind"),
    ("text,emergency\n", "no rows"),
])
def test_emergency_eval_refuses_bad_files_with_a_message(tmp_path, capsys, content, complaint):
    f = tmp_path / "bad.csv"
    if content is not None:
        f.write_text(content, encoding="utf-8")
    code, _, stderr = _eval_in_process(capsys, "--data", str(f))
    assert code == 2 and complaint in stderr


# Contrast pairs written for this test (not in either data set): the same
# event now, and past / administrative / negated.
NOW_AND_NOT = [
    ("police110", "快来 有个人拿着菜刀在我们单位门口砍人 现在还在砍", "去年我们单位门口砍人的那个案子判了没有"),
    ("fire119", "我们家楼下的饭馆着火了 火苗蹿到二楼了", "我们家楼下的饭馆上个月着过火 想问问赔偿怎么算"),
    ("medical120", "我爸刚才一下子倒在地上了 叫他也没反应", "我爸去年倒在地上那次 医保报销怎么办理"),
    ("utility_urgent", "门口马路上的自来水管爆了 水冲得到处都是 车都过不去", "上周门口爆管的那个 水费能不能减免"),
]


@pytest.mark.parametrize("kind, now, not_now", NOW_AND_NOT)
def test_time_and_administrative_framing_turn_an_emergency_into_a_mention(kind, now, not_now):
    v = detect(now)
    assert v.emergency and v.kind == kind, v
    assert v.words and all(w in normalise(now) for w in v.words)
    assert 0.5 <= v.confidence <= 1
    w = detect(not_now)
    assert not w.emergency and w.kind is None, w


def test_empty_text_is_no_emergency():
    v = detect("   ")
    assert not v.emergency and v.kind is None and v.words == ()
