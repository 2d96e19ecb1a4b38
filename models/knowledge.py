"""The knowledge base (知识库): answers the hotline gives itself (直办)
without dispatching, each with the question it answers, its matter
(category), the unit whose policy it states, when it is valid and where it
came from.  Every change bumps ``version`` and writes a
``KnowledgeRevision`` (who, when, why, the fields before and after); the
admin's changes are audit events too.

``terms`` is the jieba segmentation of question, detail and answer
(dispatch.knowledge), stored so that a process builds its search index
without segmenting 2,000+ entries again."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Optional

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

if TYPE_CHECKING:
    from models.catalog import Category


class KnowledgeEntry(Base):
    __tablename__ = "knowledge_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    question: Mapped[str] = mapped_column(String(300))
    # The question as the citizen put it (the message body), for matching.
    detail: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text)
    category_id: Mapped[Optional[int]] = mapped_column(ForeignKey("categories.id"), index=True)
    # A unit code ("gy_rsj") or "district" (the place's district government),
    # as the lexicon stores it: the shipped file and the database read the same.
    unit_code: Mapped[str] = mapped_column(String(64), default="")
    valid_from: Mapped[Optional[dt.date]] = mapped_column(Date)
    valid_until: Mapped[Optional[dt.date]] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    terms: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    category: Mapped[Optional["Category"]] = relationship(lazy="joined")


class KnowledgeRevision(Base):
    __tablename__ = "knowledge_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entries.id"), index=True)
    version: Mapped[int] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(32))          # create | update | disable | enable | seed
    reason: Mapped[str] = mapped_column(Text, default="")
    # {field: [before, after]} for an update; the whole entry for a create.
    changes: Mapped[dict] = mapped_column(default=dict)
