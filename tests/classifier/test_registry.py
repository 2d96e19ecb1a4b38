"""Registry: register, activate, roll back; the service follows the active
version without a restart."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier import registry
from classifier.model import Predictor

ROOT = Path(__file__).resolve().parents[2]


def _copy_as(model_file, model_dir, name, version):
    """A registered-looking model file with its own version."""
    m = Predictor.load(model_file)
    m.version = version
    path = model_dir / name
    m.save(path)
    return path


def test_register_activate_rollback(db, model_dir, model_file):
    a = _copy_as(model_file, model_dir, "a.joblib", "va")
    b = _copy_as(model_file, model_dir, "b.joblib", "vb")
    with db.session() as s:
        ra = registry.register(s, a)
        registry.register(s, b, metrics={"macro_f1": 0.9}, note="second")
        assert ra.path == "a.joblib"          # relative to the model directory
        assert ra.data_hash and ra.metrics["train"]["n_train"] > 0
        with pytest.raises(registry.RegistryError):
            registry.register(s, a)            # same version twice
        assert registry.active_version(s) is None
        with pytest.raises(registry.RegistryError):
            registry.rollback(s)               # nothing was ever active
    with db.session() as s:
        registry.activate(s, "va")
    with db.session() as s:
        registry.activate(s, "vb")
    with db.session() as s:
        assert registry.active_version(s).version == "vb"
        assert [r.version for r in registry.list_versions(s) if r.active] == ["vb"]
        assert registry.rollback(s).version == "va"
    with db.session() as s:
        assert registry.active_version(s).version == "va"
        assert sum(r.active for r in registry.list_versions(s)) == 1
        with pytest.raises(registry.RegistryError):
            registry.activate(s, "nope")


def test_activate_refuses_a_missing_file(db, model_dir, model_file):
    p = _copy_as(model_file, model_dir, "gone.joblib", "vgone")
    with db.session() as s:
        registry.register(s, p)
    p.unlink()
    with db.session() as s, pytest.raises(registry.RegistryError):
        registry.activate(s, "vgone")


def test_service_reloads_the_active_model(db, default_model, model_file, monkeypatch):
    import classifier

    model_dir = default_model.parent
    monkeypatch.setattr(classifier, "REGISTRY_CHECK_SECONDS", 0.0)
    classifier.set_registry_source(db.Session)
    first = classifier.get_predictor()          # nothing active: the default model
    assert first.version == Predictor.load(default_model).version
    b = _copy_as(model_file, model_dir, "b.joblib", "vb")
    with db.session() as s:
        registry.register(s, b)
        registry.activate(s, "vb")
    assert classifier.get_predictor().version == "vb"
    assert classifier.get_predictor().predict("路灯不亮").model_version == "vb"
    c = _copy_as(model_file, model_dir, "c.joblib", "vc")
    with db.session() as s:
        registry.register(s, c)
        registry.activate(s, "vc")
    assert classifier.get_predictor().version == "vc"
    with db.session() as s:
        registry.rollback(s)
    assert classifier.get_predictor().version == "vb"


def test_registry_check_is_throttled(db, default_model, model_file, monkeypatch):
    import classifier

    monkeypatch.setattr(classifier, "REGISTRY_CHECK_SECONDS", 3600.0)
    classifier.set_registry_source(db.Session)
    before = classifier.get_predictor().version       # first call checks
    b = _copy_as(model_file, default_model.parent, "b.joblib", "vb")
    with db.session() as s:
        registry.register(s, b)
        registry.activate(s, "vb")
    assert classifier.get_predictor().version == before   # not re-checked within the hour


def test_registry_cli(db, database_url, model_dir, model_file):
    a = _copy_as(model_file, model_dir, "a.joblib", "va")
    b = _copy_as(model_file, model_dir, "b.joblib", "vb")
    env = dict(os.environ, DATABASE_URL=database_url, HOTLINE_MODEL_DIR=str(model_dir))

    def run(*args):
        r = subprocess.run([sys.executable, "-m", "classifier", *args], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
        return r

    assert run("register", str(a)).returncode == 0
    assert run("register", str(b), "--note", "b").returncode == 0
    assert run("activate", "va").returncode == 0
    assert run("activate", "vb").returncode == 0
    listed = json.loads(run("list", "--json").stdout)
    assert [r["version"] for r in listed if r["active"]] == ["vb"]
    r = run("rollback")
    assert r.returncode == 0 and json.loads(r.stdout)["version"] == "va"
    bad = run("activate", "missing")
    assert bad.returncode != 0 and "missing" in bad.stderr
    assert subprocess.run([sys.executable, "-m", "classifier", "list"], cwd=ROOT,
                          env={k: v for k, v in env.items() if k != "DATABASE_URL"},
                          capture_output=True, text=True).returncode != 0


def test_add_correction(db):
    with db.session() as s:
        c = registry.add_correction(s, "路灯坏了", "城乡建设", "intake_override", predicted_label="交通运输")
        assert c.id
    with db.session() as s:
        assert [(c.label, c.predicted_label) for c in registry.corrections(s)] == [("城乡建设", "交通运输")]
