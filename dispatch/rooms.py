"""Names of the live-notice rooms (Socket.IO), in one place.

The service layer and the adapters publish to these names after commit
(dispatch.events); hotline/realtime.py puts each connection into the rooms
``for_actor`` gives.  A room is a plain string so it crosses the Redis
message queue unchanged.
"""
from __future__ import annotations

from dispatch.access import Actor

# The province platform sees everything.
ALL_PLATFORMS = "platform:all"


def unit(unit_id) -> str:
    return f"unit:{unit_id}"


def role(name: str) -> str:
    return f"role:{name}"


def user(user_id) -> str:
    return f"user:{user_id}"


def for_actor(actor: Actor) -> list[str]:
    """The rooms a connection of ``actor`` joins."""
    rooms = [unit(actor.unit_id), role(actor.role), user(actor.user_id)]
    if actor.is_province:
        rooms.append(ALL_PLATFORMS)
    return rooms


def for_ticket(t) -> set[str]:
    """Who follows a ticket live: its platform, the province, its unit."""
    rooms = {unit(t.platform_id), ALL_PLATFORMS}
    if t.responsible_unit_id:
        rooms.add(unit(t.responsible_unit_id))
    return rooms


def coordinators_of(t) -> set[str]:
    """The coordinators of a ticket's platform (督办, linkage boards)."""
    return {unit(t.platform_id), role("coordinator")}
