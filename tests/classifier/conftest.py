"""Fixtures for the classifier tests: one small model trained per session
(the fast configuration on the shipped data minus the fixed holdout), and a
model directory of the test's own."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def split():
    from classifier import data

    return data.holdout_split(*data.shipped())


@pytest.fixture(scope="session")
def model_file(tmp_path_factory, split):
    from classifier.model import TrainConfig, train

    tr_t, tr_y, _, _ = split
    model = train(tr_t, tr_y, TrainConfig.fast(), note="test model", quiet=True,
                  extra_meta={"holdout_excluded": True})
    path = tmp_path_factory.mktemp("models") / "session.joblib"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def model(model_file):
    from classifier.model import Predictor

    return Predictor.load(model_file)


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    """HOTLINE_MODEL_DIR of this test, and a clean process-wide predictor."""
    import classifier

    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("HOTLINE_MODEL_DIR", str(d))
    classifier._reset_for_tests()
    yield d
    classifier._reset_for_tests()


@pytest.fixture
def default_model(model_dir, model_file):
    """The session model installed as this test's default model."""
    shutil.copy(model_file, model_dir / "default.joblib")
    return model_dir / "default.joblib"
