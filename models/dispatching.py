"""What the dispatch workflow keeps beside the ticket row: its SLA clocks,
co-handling assignments (主办/协办), extension requests, supervision items
(督办, hot events) and callback tasks (回访).

All of these are written only by ``dispatch.tickets`` in the same
transaction as the ticket change (and its event) that caused them.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

CLOCK_STAGES = ("sign", "close")
ASSIGNMENT_ROLES = ("lead", "assist")
ASSIGNMENT_STATES = ("pending", "given", "timed_out", "withdrawn")
EXTENSION_STATES = ("pending", "approved", "refused")
SUPERVISION_KINDS = {"overdue": "超时督办", "sign_overdue": "签收超时", "manual": "人工督办",
                     "third_return": "多次退单", "hot_event": "热点事件", "calendar_pending": "时限待定"}
CALLBACK_STATES = ("open", "done")


class SlaClock(Base):
    """One running of one limit (sign for / close) for one unit.

    A new pair starts at every dispatch, re-dispatch and redo; the old pair
    is stopped (``outcome`` says why).  ``pauses`` is an interval set (see
    dispatch.clocks): ``{"kind": "citizen", "from", "to"|null}`` while the
    unit awaits the citizen, ``{"kind": "extension", "from", "days",
    "extension_id"}`` for an approved extension; ``due_at`` is the due with
    the union of the pauses applied, null while an open pause holds time
    that was left (or while ``due_state`` is ``pending``)."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index("ix_sla_clocks_open_due", "stopped_at", "due_at"),
        Index("ix_sla_clocks_open_warn", "stopped_at", "warn_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    stage: Mapped[str] = mapped_column(String(8))                # sign | close
    round: Mapped[int] = mapped_column(default=1)                # 1, then 2 … after a redo
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("units.id"))
    urgency: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime]
    due_at: Mapped[Optional[dt.datetime]]
    warn_at: Mapped[Optional[dt.datetime]]
    pauses: Mapped[list] = mapped_column(default=list)
    stopped_at: Mapped[Optional[dt.datetime]]
    # met | late (stopped by doing the work), or superseded | cancelled | merged.
    outcome: Mapped[str] = mapped_column(String(16), default="")
    # "" | provisional | pending (see Ticket.due_state); the year missing.
    due_state: Mapped[str] = mapped_column(String(12), default="", server_default="")
    missing_year: Mapped[Optional[int]]
    warned_at: Mapped[Optional[dt.datetime]]
    overdue_at: Mapped[Optional[dt.datetime]]


class Assignment(Base):
    """A unit's part in a ticket: the lead (主办) or an assisting unit (协办)."""

    __tablename__ = "ticket_assignments"
    __table_args__ = (UniqueConstraint("ticket_id", "unit_id"), Index("ix_assignments_unit_state", "unit_id", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(8))                 # lead | assist
    state: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[Optional[dt.datetime]]
    input_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    given_at: Mapped[Optional[dt.datetime]]


class ExtensionRequest(Base):
    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("units.id"))
    days: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[Optional[dt.datetime]]
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class SupervisionItem(Base):
    """An entry on the coordinators' 督办 board of one platform."""

    __tablename__ = "supervision_items"
    __table_args__ = (Index("ix_supervision_platform_open", "platform_id", "resolved_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tickets.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict] = mapped_column(default=dict)
    # Makes raising an item idempotent (a sweep and a timer may both try).
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[Optional[dt.datetime]]
    resolved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))


class CallbackTask(Base):
    """A call back to the citizen after closure (回访)."""

    __tablename__ = "callback_tasks"
    __table_args__ = (Index("ix_callback_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    round: Mapped[int] = mapped_column(default=1)
    due_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(8), default="open")
    result: Mapped[str] = mapped_column(String(24), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[Optional[dt.datetime]]
    completed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))


class CalendarYear(Base):
    """A working-day calendar year loaded by ``python -m hotline calendar
    import FILE`` (the State Council notice): it overrides the shipped file
    of that year in every process (dispatch.clocks reads this table)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    document: Mapped[dict] = mapped_column(default=dict)
    provisional: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100), default="")
