"""Classifier model registry and the corrections people make to its guesses."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    # "topic" (classifier.model.Predictor) or "units" (classifier.units.UnitRouter);
    # one active version per kind
    kind: Mapped[str] = mapped_column(String(16), default="topic", server_default="topic", index=True)
    path: Mapped[str] = mapped_column(String(500))
    metrics: Mapped[dict] = mapped_column(default=dict)
    data_hash: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[Optional[dt.datetime]]


class LabelCorrection(Base):
    """A labelled example made by a person: an override of the suggested
    category at intake, or a re-categorisation after an upheld return."""

    __tablename__ = "label_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tickets.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    predicted_label: Mapped[str] = mapped_column(String(100), default="")
    label: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(32))   # intake_override | return_upheld
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_in_version: Mapped[Optional[str]] = mapped_column(String(64))
