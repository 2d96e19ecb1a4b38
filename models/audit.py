"""Changes outside tickets (the routing catalogue, the model registry, API
tokens): who, when, what and why.  Append-only, like ticket events."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64))         # e.g. routing_rule.create
    object_type: Mapped[str] = mapped_column(String(32))    # routing_rule | model_version | api_token
    object_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(default=dict)


def record(session, action: str, object_type: str, object_id, reason: str = "", payload: dict | None = None,
           actor_id: int | None = None, actor_label: str = "") -> AuditEvent:
    """Append an audit event in the caller's transaction."""
    ev = AuditEvent(actor_id=actor_id, actor_label=actor_label, action=action, object_type=object_type,
                    object_id=str(object_id), reason=reason, payload=payload or {})
    session.add(ev)
    return ev
