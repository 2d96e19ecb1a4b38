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
# admin: system administrator (catalogue, models); security_admin: accounts,
# roles, tokens; auditor: reads the audit log (三员分立, dispatch.capabilities).
ROLES = ("agent", "dispatcher", "department", "coordinator", "supervisor", "admin", "security_admin", "auditor")


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
    # A seeded or reset password must be replaced at the next login (in production).
    must_change_password: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[Optional[dt.datetime]]
    last_login_at: Mapped[Optional[dt.datetime]]
    last_login_address: Mapped[str] = mapped_column(String(64), default="")

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
    # Tokens expire (HOTLINE_TOKEN_DAYS, 90 by default); None only for rows
    # made before expiry existed.
    expires_at: Mapped[Optional[dt.datetime]]
    revoked_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship(lazy="joined")


class UserSession(Base):
    """A console login, kept on the server: the browser's cookie carries only
    a random id, whose SHA-256 is stored here.  Logging out, deactivation,
    the idle timeout and the absolute lifetime end it everywhere."""
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[Optional[dt.datetime]]
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(lazy="joined")
