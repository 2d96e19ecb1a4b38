"""Tickets (工单) and their append-only history."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, event, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.catalog import Category
from models.units import Unit, User

STATUSES = {
    "accepted": "已受理",       # created; waiting to be dispatched (or in review)
    "dispatched": "已派单",     # waiting for the unit to sign for it
    "handling": "办理中",       # signed for
    "awaiting_citizen": "待群众补充",  # the unit waits for the citizen; the close clock is paused
    "returned": "退单待审",     # the unit returned it; the platform reviews
    "replied": "已答复",        # the unit replied; waiting for closure
    "closed": "已办结",         # waiting for the callback
    "archived": "已归档",
    "cancelled": "已撤销",
    "merged": "已并单",
}
CHANNELS = {
    "phone": "电话", "web": "网站", "app": "移动端", "wechat": "微信",
    "open311": "Open311", "police110": "110联动", "governance": "综治平台",
    "email": "邮件",
}
# Urgency classes and their national-practice time limits live in dispatch.sla.
URGENCIES = {
    "emergency": "紧急(生命财产)", "utility": "加急(水电气暖)",
    "general": "一般", "complex": "复杂",
}
REQUEST_TYPES = {
    "consultation": "咨询", "help": "求助", "complaint": "投诉",
    "report": "举报", "suggestion": "建议", "praise": "表扬",
}


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_unit_status_created", "responsible_unit_id", "status", "created_at"),
        Index("ix_tickets_platform_status_created", "platform_id", "status", "created_at"),
        Index("ix_tickets_status_due", "status", "due_at"),
        Index("ix_tickets_caller_name", "caller_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[Optional[str]] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    request_type: Mapped[str] = mapped_column(String(16), default="complaint")
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    caller_phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    # The last four digits of the phone (search by 尾号); filled by dispatch.search.
    phone_tail: Mapped[str] = mapped_column(String(4), default="", server_default="", index=True)
    confidential: Mapped[bool] = mapped_column(default=False)
    subject: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(300), default="")
    division_code: Mapped[str] = mapped_column(String(12), default="", index=True)

    category_id: Mapped[Optional[int]] = mapped_column(ForeignKey("categories.id"), index=True)
    category_confidence: Mapped[Optional[float]]
    suggested_category_id: Mapped[Optional[int]] = mapped_column(ForeignKey("categories.id"))
    needs_review: Mapped[bool] = mapped_column(default=False)

    # The platform that accepted and supervises the ticket (city or province).
    platform_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    responsible_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("units.id"))
    status: Mapped[str] = mapped_column(String(24), default="accepted")
    urgency: Mapped[str] = mapped_column(String(16), default="general")

    sign_due_at: Mapped[Optional[dt.datetime]]
    due_at: Mapped[Optional[dt.datetime]]
    # How far the dues can be trusted: "" (official calendar), "provisional"
    # (computed on a provisional calendar year), "pending" (a year the
    # calendar does not have: no due until `calendar import` loads it).
    due_state: Mapped[str] = mapped_column(String(12), default="", server_default="")
    dispatched_at: Mapped[Optional[dt.datetime]]
    signed_at: Mapped[Optional[dt.datetime]]
    replied_at: Mapped[Optional[dt.datetime]]
    closed_at: Mapped[Optional[dt.datetime]]
    reply_text: Mapped[str] = mapped_column(Text, default="")
    return_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tickets.id"))

    call_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    transcript: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict] = mapped_column(default=dict)
    # jieba's words of subject, description and address, space-separated:
    # what word search matches (dispatch.search; indexed by migration 0012).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    # "<user id>:<Idempotency-Key>" so a retried intake returns the same ticket.
    intake_key: Mapped[Optional[str]] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    category: Mapped[Optional[Category]] = relationship(foreign_keys=[category_id], lazy="joined")
    suggested_category: Mapped[Optional[Category]] = relationship(foreign_keys=[suggested_category_id])
    platform: Mapped[Unit] = relationship(foreign_keys=[platform_id], lazy="joined")
    responsible_unit: Mapped[Optional[Unit]] = relationship(foreign_keys=[responsible_unit_id], lazy="joined")
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])

    # Optimistic locking: every UPDATE says "WHERE version = <the one I read>"
    # and bumps it, so of two concurrent writers exactly one wins.
    __mapper_args__ = {"version_id_col": version}


class TicketEvent(Base):
    """Append-only: who did what to a ticket, when and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    # For system actors (sla sweep, 110 adapter …) when there is no user.
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[Optional[str]] = mapped_column(String(24))
    to_status: Mapped[Optional[str]] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(default=dict)
    # The unit holding the ticket once the event happened (its responsible
    # unit, or its platform while it has none), and the unit the event is
    # charged to in the figures: the holder just before it (whose work it
    # judges: the returning unit, the unit whose reply a callback rates, the
    # unit a return was taken from).  Written by the service, never derived
    # later, so the figures do not depend on when they are read.
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("units.id"))
    charged_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("units.id"))

    actor: Mapped[Optional[User]] = relationship(lazy="joined")


@event.listens_for(TicketEvent, "before_insert")
def _holder_on_event(mapper, connection, target: TicketEvent) -> None:
    """An event written outside dispatch.tickets (an adapter's own record)
    still says which unit held the ticket: the service sets both units; this
    fills what it left out, reading the ticket as this flush leaves it."""
    if target.unit_id is None:
        t = Ticket.__table__
        target.unit_id = connection.scalar(
            select(func.coalesce(t.c.responsible_unit_id, t.c.platform_id)).where(t.c.id == target.ticket_id))
    if target.charged_unit_id is None:
        target.charged_unit_id = target.unit_id
