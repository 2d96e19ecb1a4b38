"""The category tree and the routing catalogue (派单目录: category × area → unit)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base

if TYPE_CHECKING:
    from models.units import Unit


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Hierarchical code: two digits per level ("03", "0302", "030207").
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int]
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("categories.id"), index=True)
    # "城乡建设/城市建设和市政管理/燃气供应": readable and unique.
    full_name: Mapped[str] = mapped_column(String(300), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Optional["Category"]] = relationship(remote_side="Category.id")


class RoutingRule(Base):
    """Send tickets of ``category`` (or any of its descendants) concerning
    ``division_code`` (or any place inside it; empty = anywhere under the
    platform) to ``unit``.  The most specific category wins, then the most
    specific place, then the lowest priority number."""

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    category_id: Mapped[Optional[int]] = mapped_column(ForeignKey("categories.id"), index=True)
    division_code: Mapped[str] = mapped_column(String(12), default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    priority: Mapped[int] = mapped_column(default=100)
    note: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[Optional[Category]] = relationship(lazy="joined")
    unit: Mapped["Unit"] = relationship(foreign_keys=[unit_id], lazy="joined")
