"""The unit tree (province platform → city platforms → departments, districts,
streets), the people who work in it, and their API tokens."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

PLATFORM_KINDS = ("province_platform", "city_platform")
UNIT_KINDS = PLATFORM_KINDS + ("department", "district", "street")
# agent: takes calls; dispatcher: dispatches and reviews returns; department:
# staff of a handling unit; coordinator: supervision and emergencies;
# supervisor: figures; admin: catalogue, users, models.
ROLES = ("agent", "dispatcher", "department", "coordinator", "supervisor", "admin")


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("units.id"), index=True)
    # National statistics code of the place the unit covers (52, 5201, 520102 …).
    division_code: Mapped[Optional[str]] = mapped_column(String(12), index=True)
    # Materialised path of ids ("/1/2/7/") so a subtree is one LIKE query.
    path: Mapped[str] = mapped_column(String(400), default="/", index=True)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Optional["Unit"]] = relationship(remote_side="Unit.id")

    @property
    def is_platform(self) -> bool:
        return self.kind in PLATFORM_KINDS


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    unit: Mapped[Unit] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # sha256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[Optional[dt.datetime]]
    revoked_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship(lazy="joined")
