"""The audit log: logins, logouts, failed logins, permission refusals,
exports and every administrative change (routing catalogue, model registry,
accounts, tokens, sessions): when, who, from which address, on what, with
which result, and why.  Append-only, like ticket events: on PostgreSQL a
trigger refuses UPDATE and DELETE on both tables (migration 0011_security)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # Failed logins per name, newest first: the login throttle's database path.
    __table_args__ = (Index("ix_audit_events_action_object_at", "action", "object_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(64))         # e.g. routing_rule.create
    object_type: Mapped[str] = mapped_column(String(32))    # routing_rule | model_version | api_token
    object_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(default=dict)
    address: Mapped[str] = mapped_column(String(64), default="")
    result: Mapped[str] = mapped_column(String(16), default="success")   # success | failure | refused


def record(session, action: str, object_type: str, object_id, reason: str = "", payload: dict | None = None,
           actor_id: int | None = None, actor_label: str = "", address: str = "",
           result: str = "success") -> AuditEvent:
    """Append an audit event in the caller's transaction."""
    ev = AuditEvent(actor_id=actor_id, actor_label=actor_label, action=action, object_type=object_type,
                    object_id=str(object_id)[:64], reason=reason, payload=payload or {}, address=address[:64],
                    result=result)
    session.add(ev)
    return ev
