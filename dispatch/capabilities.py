"""Who may do what: one table of role → capabilities, read by the API and by
the console alike (a page and the endpoints behind it ask for the same
capability, so a role can never do more through the API than its console
offers).  Ticket transitions (sign for, reply, …) stay in the workflow
table (dispatch.workflow), which names their roles per action.

Separated duties (三员分立, GB/T 22239-2019 level 3): the system
administrator (``admin``: routing catalogue, models), the security
administrator (``security_admin``: accounts, roles, tokens, sessions) and
the auditor (``auditor``: reads and exports the audit log, changes nothing)
hold disjoint capabilities, and no demo account holds two of the roles.
"""
from __future__ import annotations

from dispatch.errors import Forbidden
from dispatch.workflow import (CALLBACK_AGENTS, COORDINATORS, DEPARTMENT, DISPATCHERS, FIGURE_READERS,
                               PLATFORM_ROLES, REVIEWERS)

ADMIN_ROLES = ("admin", "security_admin", "auditor")

# Built on the workflow's named groups of roles (one vocabulary).
CAPABILITIES: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    # Tickets
    "tickets.read": PLATFORM_ROLES | DEPARTMENT,
    "tickets.create": DISPATCHERS,             # 受理登记, 来电受理, suggest, duplicates, Open311 keys
    "review.read": REVIEWERS,                  # 派单审核
    "supervision.read": COORDINATORS,          # 督办看板
    "supervision.resolve": COORDINATORS,
    "callbacks.read": CALLBACK_AGENTS,         # 回访队列
    "linkage.read": COORDINATORS,              # 联动看板, outbox
    "figures.read": FIGURE_READERS,            # 统计报表
    # Administration, split three ways
    "system.admin": ("admin",),                # routing catalogue, model registry
    "security.admin": ("security_admin",),     # accounts, roles, tokens, others' sessions
    "audit.read": ("auditor",),                # audit log, its export
}.items()}

# The three administrative duties are disjoint by construction.
_DUTIES = [CAPABILITIES["system.admin"], CAPABILITIES["security.admin"], CAPABILITIES["audit.read"]]
assert all(not (a & b) for i, a in enumerate(_DUTIES) for b in _DUTIES[i + 1:])


def can(role: str, capability: str) -> bool:
    return role in CAPABILITIES[capability]


def capabilities_of(role: str) -> list[str]:
    return sorted(c for c, roles in CAPABILITIES.items() if role in roles)


def require(actor, capability: str) -> None:
    """Raise Forbidden unless the actor's role holds ``capability``."""
    if actor.role not in CAPABILITIES[capability]:
        raise Forbidden("无权执行此操作", code="role_not_allowed", fields={"capability": capability})
