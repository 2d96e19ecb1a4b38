"""Text → first-level topic, with calibrated confidence, top-3 suggestions,
an explanation and an abstain flag.  No Flask imports: dispatch, the web app,
the rq workers and the CLI all call this.

    from classifier import get_predictor
    p = get_predictor().predict(body, subject=subject)
    p.label, p.confidence, p.top, p.explain, p.abstain, p.model_version

``get_predictor()`` returns the process-wide model, loaded (or, on a fresh
install, trained from the shipped data and saved) on first use.  After
``set_registry_source(session_factory)`` it follows the active row of the
model registry, checking at most every ``REGISTRY_CHECK_SECONDS``; call
``get_predictor()`` per request rather than keeping the object.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from classifier.model import Prediction, Predictor, TrainConfig

__all__ = ["Prediction", "Predictor", "TrainConfig", "get_predictor", "set_registry_source",
           "model_dir", "default_model_path", "REGISTRY_CHECK_SECONDS"]

log = logging.getLogger(__name__)

REGISTRY_CHECK_SECONDS = 5.0

_lock = threading.RLock()
_current: Predictor | None = None
_current_path: str | None = None
_registry_source = None
_last_check = 0.0


def model_dir() -> Path:
    """Where model files live: $HOTLINE_MODEL_DIR, else classifier/models."""
    env = os.environ.get("HOTLINE_MODEL_DIR", "").strip()
    return Path(env) if env else Path(__file__).resolve().parent / "models"


def default_model_path() -> Path:
    return model_dir() / "default.joblib"


def load_or_train_default(path: Path | None = None, quiet: bool = False) -> Predictor:
    """Load the default model file, training it from the shipped data first
    when it does not exist yet."""
    path = Path(path or default_model_path())
    if path.exists():
        try:
            return Predictor.load(path)
        except ValueError as e:
            # written by an older version of this code: train a current one
            log.warning("%s; retraining the default model", e)
    from classifier import data
    from classifier.model import train

    log.warning("no model at %s: training the default model from the shipped data", path)
    texts, labels = data.shipped()
    model = train(texts, labels, note="default model: shipped train.csv", quiet=quiet,
                  extra_meta={"holdout_excluded": False})
    model.save(path)
    return model


def set_registry_source(session_factory) -> None:
    """Follow the model registry: ``session_factory()`` must return a
    SQLAlchemy Session (a sessionmaker, or ``models.Database.Session``)."""
    global _registry_source, _last_check
    with _lock:
        _registry_source = session_factory
        _last_check = 0.0


def _check_registry() -> None:
    """Load the active registry version if it differs from the one in use.
    A failing check keeps the current model (logged, retried later)."""
    global _current, _current_path, _last_check
    now = time.monotonic()
    if _registry_source is None or now - _last_check < REGISTRY_CHECK_SECONDS:
        return
    _last_check = now
    from classifier import registry

    try:
        with _registry_source() as session:
            active = registry.active_version(session)
            path = str(registry.resolve_path(active.path)) if active else None
    except Exception:
        log.exception("model registry check failed; keeping model %s",
                      _current.version if _current else None)
        return
    if path is None or path == _current_path:
        return
    try:
        model = Predictor.load(path)
    except Exception:
        log.exception("could not load active model %s from %s; keeping %s",
                      active.version, path, _current.version if _current else None)
        return
    log.info("switched classifier model to %s (%s)", model.version, path)
    _current, _current_path = model, path


def get_predictor() -> Predictor:
    """The process-wide model (thread-safe lazy load; see module doc)."""
    global _current, _current_path
    if _current is not None and _registry_source is None:
        return _current
    with _lock:
        _check_registry()
        if _current is None:
            path = default_model_path()
            _current = load_or_train_default(path)
            _current_path = str(path)
        return _current


def _reset_for_tests() -> None:
    global _current, _current_path, _registry_source, _last_check
    with _lock:
        _current = _current_path = _registry_source = None
        _last_check = 0.0
