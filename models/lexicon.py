"""The 通俗化词条 lexicon: citizens' words → a standard matter (category) →
the unit the routing catalogue names for it (or an entry's own unit).
Admins add, disable and re-enable entries; every change bumps the entry's
``version`` and is an ``audit_events`` row."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

if TYPE_CHECKING:
    from models.catalog import Category
    from models.units import Unit


class LexiconEntry(Base):
    __tablename__ = "lexicon_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    phrase: Mapped[str] = mapped_column(String(100), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    # A unit code ("gy_cgj") or "district"; empty = the catalogue's unit for
    # the category.  Stored as a code so the shipped file and the database
    # read the same.
    unit_code: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    source: Mapped[str] = mapped_column(String(32), default="seed")    # seed | admin
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))

    category: Mapped["Category"] = relationship(lazy="joined")
