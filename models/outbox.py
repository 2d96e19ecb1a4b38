"""Outbound messages to peers (110, 综治, callers …) written in the same
transaction as the ticket change that caused them, and the ids of inbound
webhook messages already seen (replay protection)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

OUTBOX_STATES = ("pending", "sent", "dead")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer: Mapped[str] = mapped_column(String(32))          # police110, governance, …
    kind: Mapped[str] = mapped_column(String(64))          # e.g. "incident.create"
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tickets.id"), index=True)
    payload: Mapped[dict] = mapped_column(default=dict)
    # Sent as Idempotency-Key so the receiver can drop duplicates.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[dt.datetime]]
    # Attempts the peer did not answer in time (the request may have reached
    # it): each retry waits longer for the answer.
    timeouts: Mapped[int] = mapped_column(default=0)
    # When delivery first failed (cleared once delivered): the age the
    # coordinators see for an undelivered emergency.
    first_failed_at: Mapped[Optional[dt.datetime]]
    # Why a message is dead: "refused" (the peer said no; a person must look)
    # or "exhausted" (no answer within max_attempts; re-driven automatically
    # when the peer answers again).
    dead_reason: Mapped[str] = mapped_column(String(16), default="")
    # Set while a worker holds the claim (cleared with the outcome): a row in
    # flight is never re-driven early, only re-claimed when its lease ends.
    claimed_at: Mapped[Optional[dt.datetime]]


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("peer", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    peer: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tickets.id"))
    result: Mapped[dict] = mapped_column(default=dict)
