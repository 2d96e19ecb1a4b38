"""The model registry: versioned model files with their metrics and
training-data hash in ``models.ModelVersion``, exactly one active.

Functions take a SQLAlchemy Session and leave committing to the caller
(``with db.session() as s:`` commits on success).  Paths are stored relative
to the model directory ($HOTLINE_MODEL_DIR) when the file lives there, so
several machines sharing that directory agree on them.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import LabelCorrection, ModelVersion, utcnow


class RegistryError(Exception):
    pass


def _model_dir() -> Path:
    from classifier import model_dir

    return model_dir()


def resolve_path(stored: str) -> Path:
    p = Path(stored)
    return p if p.is_absolute() else _model_dir() / p


def _storable_path(path) -> str:
    p = Path(path).resolve()
    try:
        return str(p.relative_to(_model_dir().resolve()))
    except ValueError:
        return str(p)


KINDS = ("topic", "units")


def _loader(kind: str):
    if kind == "units":
        from classifier.units import UnitRouter

        return UnitRouter
    from classifier.model import Predictor

    return Predictor


def register(session: Session, path, metrics: dict | None = None, note: str = "",
             version: str | None = None, data_hash: str | None = None, kind: str = "topic") -> ModelVersion:
    """Record a model file (a topic model, or with ``kind="units"`` a unit
    router).  Version, data hash and (absent ``metrics``) the training
    metadata are read from the file itself."""
    if kind not in KINDS:
        raise RegistryError(f"unknown model kind {kind!r}")
    model = _loader(kind).load(path)
    version = version or model.version
    if session.scalar(select(ModelVersion).where(ModelVersion.version == version)):
        raise RegistryError(f"version {version} is already registered")
    row = ModelVersion(
        version=version,
        kind=kind,
        path=_storable_path(path),
        metrics=metrics if metrics is not None else {"train": model.meta},
        data_hash=data_hash or model.meta.get("data_hash", ""),
        active=False,
        note=note or model.meta.get("note", ""),
    )
    session.add(row)
    session.flush()
    return row


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(),
                                                              ModelVersion.id.desc())))


def get_version(session: Session, version: str) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise RegistryError(f"no model version {version}")
    return row


def active_version(session: Session, kind: str = "topic") -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True), ModelVersion.kind == kind)
                          .order_by(ModelVersion.activated_at.desc()).limit(1))


def activate(session: Session, version: str) -> ModelVersion:
    """Make ``version`` the one active model of its kind (its file must exist)."""
    row = get_version(session, version)
    if not resolve_path(row.path).exists():
        raise RegistryError(f"model file of {version} is missing: {resolve_path(row.path)}")
    # lock the active row(s) so two activations cannot both leave one active
    session.execute(select(ModelVersion.id).where(ModelVersion.active.is_(True), ModelVersion.kind == row.kind)
                    .with_for_update())
    session.execute(update(ModelVersion).where(ModelVersion.id != row.id, ModelVersion.kind == row.kind)
                    .values(active=False))
    row.active = True
    row.activated_at = utcnow()
    session.flush()
    return row


def rollback(session: Session, kind: str = "topic") -> ModelVersion:
    """Re-activate the version of this kind that was active before the current one."""
    current = active_version(session, kind)
    q = select(ModelVersion).where(ModelVersion.activated_at.is_not(None), ModelVersion.kind == kind)
    if current is not None:
        q = q.where(ModelVersion.id != current.id)
    previous = session.scalar(q.order_by(ModelVersion.activated_at.desc()).limit(1))
    if previous is None:
        raise RegistryError("no earlier active version to roll back to")
    return activate(session, previous.version)


def add_correction(session: Session, text: str, label: str, source: str,
                   predicted_label: str = "", ticket_id: int | None = None,
                   created_by_id: int | None = None) -> LabelCorrection:
    """Store a person's correction as a labelled example (dispatch calls this
    on an intake override or an upheld return)."""
    row = LabelCorrection(text=text, label=label, source=source, predicted_label=predicted_label,
                          ticket_id=ticket_id, created_by_id=created_by_id)
    session.add(row)
    session.flush()
    return row


def corrections(session: Session) -> list[LabelCorrection]:
    return list(session.scalars(select(LabelCorrection).order_by(LabelCorrection.id)))


def describe(row: ModelVersion) -> dict:
    return {
        "version": row.version,
        "kind": row.kind,
        "path": row.path,
        "active": row.active,
        "data_hash": row.data_hash,
        "note": row.note,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "activated_at": row.activated_at.isoformat() if row.activated_at else None,
        "metrics": row.metrics,
    }
