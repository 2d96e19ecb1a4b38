"""Who may see which tickets.

A department (or district, street) sees only tickets its unit is
responsible for, or assists with (协办).  A platform's people see the tickets of their platform and
of the platforms below it; the province platform sees all.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from models import PLATFORM_KINDS, Assignment, Ticket, Unit, User


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


def visible_clause(actor: Actor, assisting: bool = False) -> ColumnElement[bool]:
    """``assisting`` adds a department's 协办 tickets (kept out of the plain
    inbox query so it stays one index range scan)."""
    if actor.is_province:
        return Ticket.id.is_not(None)
    if actor.on_platform:
        subtree = select(Unit.id).where(Unit.path.startswith(actor.unit_path))
        return Ticket.platform_id.in_(subtree)
    if not assisting:
        return Ticket.responsible_unit_id == actor.unit_id
    helping = select(Assignment.ticket_id).where(Assignment.unit_id == actor.unit_id, Assignment.role == "assist")
    return (Ticket.responsible_unit_id == actor.unit_id) | Ticket.id.in_(helping)


def can_see(actor: Actor, ticket: Ticket) -> bool:
    """Without a query: a unit's assisting tickets are checked by the service."""
    if actor.is_province:
        return True
    if actor.on_platform:
        return ticket.platform.path.startswith(actor.unit_path)
    return ticket.responsible_unit_id == actor.unit_id
