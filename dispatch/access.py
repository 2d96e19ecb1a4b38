"""Who may see which tickets.

A department (or district, street) sees only tickets its unit is
responsible for.  A platform's people see the tickets of their platform and
of the platforms below it; the province platform sees all.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from models import PLATFORM_KINDS, Ticket, Unit, User


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str
    unit_id: int | None
    unit_kind: str
    unit_path: str
    display_name: str

    @classmethod
    def from_user(cls, user: User) -> "Actor":
        return cls(user.id, user.username, user.role, user.unit_id, user.unit.kind,
                   user.unit.path, user.display_name)

    @property
    def on_platform(self) -> bool:
        return self.unit_kind in PLATFORM_KINDS

    @property
    def is_province(self) -> bool:
        return self.unit_kind == "province_platform"


SYSTEM = Actor(None, "system", "system", None, "province_platform", "/", "系统")


def visible_clause(actor: Actor) -> ColumnElement[bool]:
    if actor.is_province:
        return Ticket.id.is_not(None)
    if actor.on_platform:
        subtree = select(Unit.id).where(Unit.path.startswith(actor.unit_path))
        return Ticket.platform_id.in_(subtree)
    return Ticket.responsible_unit_id == actor.unit_id


def can_see(actor: Actor, ticket: Ticket) -> bool:
    if actor.is_province:
        return True
    if actor.on_platform:
        return ticket.platform.path.startswith(actor.unit_path)
    return ticket.responsible_unit_id == actor.unit_id
