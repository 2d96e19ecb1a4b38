"""State kept for outside systems: linkages with 110 and the social-governance
(综治) platform, and telephone calls from the telephony platform.

A ``Linkage`` is the coordinator's view of one ticket's exchange with a peer
(pushed, acknowledged, feedback received, failed); the messages themselves
are ``OutboxMessage`` / ``InboundMessage`` rows and the ticket's history is
its ``TicketEvent`` rows.  A ``Call`` holds what the telephony platform has
told us about a call before (and after) it becomes a ticket.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

# outbound: pending (queued) → sent (delivered) → acknowledged (peer's id
# known) → feedback (peer reported back) → closed; failed when the outbox
# dead-lettered the push.  inbound (a peer pushed us a matter): received →
# feedback_sent when our feedback was delivered.
LINKAGE_STATES = ("pending", "sent", "acknowledged", "feedback", "closed", "failed",
                  "received", "feedback_sent")


class Linkage(Base):
    __tablename__ = "linkages"
    __table_args__ = (
        UniqueConstraint("ticket_id", "peer", "direction"),
        Index("ix_linkages_state_updated", "state", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    peer: Mapped[str] = mapped_column(String(32))            # police110, governance
    direction: Mapped[str] = mapped_column(String(8))        # outbound | inbound
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # Why it was pushed: agent, category, lexicon, auto_channel, peer.
    trigger: Mapped[str] = mapped_column(String(32), default="")
    external_id: Mapped[str] = mapped_column(String(64), default="")   # 警情编号 / 事件编号
    last_note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A coordinator acknowledged the escalation on the board.
    seen_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    seen_at: Mapped[Optional[dt.datetime]]


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller_phone: Mapped[str] = mapped_column(String(32), default="")
    agent_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="ringing")   # ringing, answered, ended
    # Final transcript segments, in order: [{"seq", "text", "speaker", "at"}].
    segments: Mapped[list] = mapped_column(default=list)
    recording_ref: Mapped[str] = mapped_column(String(300), default="")
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tickets.id"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[Optional[dt.datetime]]
    ended_at: Mapped[Optional[dt.datetime]]
