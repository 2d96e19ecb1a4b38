"""The ticket workflow as data.

``TRANSITIONS`` is the single source of truth: which action moves a ticket
from which statuses to which status, which roles may take it and which fields
it needs.  ``dispatch.services`` enforces it and the tests build the full
matrix of allowed and refused transitions from it, so the two cannot drift.
A ``target`` of ``None`` means the action records something without moving
the ticket (supervision, extensions, notes).

Actions are the English verbs in snake_case used in the API
(``POST /api/v1/tickets/<id>/actions/<action>``).
"""
from __future__ import annotations

from dataclasses import dataclass

PLATFORM_ROLES = frozenset({"agent", "dispatcher", "coordinator", "supervisor", "admin"})
DEPARTMENT = frozenset({"department"})
DISPATCHERS = frozenset({"agent", "dispatcher", "admin"})
OPEN = frozenset({"accepted", "dispatched", "handling", "returned", "replied"})


@dataclass(frozen=True)
class Transition:
    action: str
    label: str                  # shown in the console (zh-CN)
    sources: frozenset[str]
    target: str | None
    roles: frozenset[str]
    required: tuple[str, ...] = ()
    # Department users may act only on tickets their unit is responsible
    # for; platform users only on tickets of their platform's subtree.
    unit_scoped: bool = True


def _t(action, label, sources, target, roles, required=()):
    return Transition(action, label, frozenset(sources), target, frozenset(roles), tuple(required))


TRANSITIONS: dict[str, Transition] = {t.action: t for t in [
    _t("dispatch", "派单", {"accepted"}, "dispatched", DISPATCHERS, ("unit_id",)),
    _t("sign_for", "签收", {"dispatched"}, "handling", DEPARTMENT),
    _t("reply", "答复", {"handling"}, "replied", DEPARTMENT, ("reply_text",)),
    _t("close", "办结", {"replied"}, "closed", DEPARTMENT | DISPATCHERS),
    _t("return", "退单", {"dispatched", "handling"}, "returned", DEPARTMENT, ("reason",)),
    _t("uphold_return", "同意退单并改派", {"returned"}, "dispatched", DISPATCHERS, ("unit_id", "reason")),
    _t("reject_return", "驳回退单", {"returned"}, "handling", DISPATCHERS, ("reason",)),
    _t("reassign", "改派", {"dispatched", "handling"}, "dispatched", DISPATCHERS, ("unit_id", "reason")),
    _t("request_extension", "申请延期", {"handling"}, None, DEPARTMENT, ("reason", "days")),
    _t("approve_extension", "批准延期", {"handling"}, None, DISPATCHERS, ("reason",)),
    _t("refuse_extension", "驳回延期", {"handling"}, None, DISPATCHERS, ("reason",)),
    _t("supervise", "督办", {"dispatched", "handling", "returned", "replied"}, None,
       {"dispatcher", "coordinator", "supervisor", "admin"}, ("reason",)),
    _t("callback", "回访", {"closed"}, "archived", {"agent", "dispatcher", "admin"}, ("satisfaction",)),
    _t("redo", "重办", {"closed"}, "dispatched", {"agent", "dispatcher", "admin"}, ("reason",)),
    _t("merge", "并单", {"accepted", "dispatched", "handling"}, "merged", DISPATCHERS, ("into_ticket_id", "reason")),
    _t("direct_answer", "直办", {"accepted"}, "closed", {"agent", "dispatcher", "admin"}, ("reply_text",)),
    _t("cancel", "撤销", OPEN, "cancelled", DISPATCHERS, ("reason",)),
    _t("note", "备注", OPEN | {"closed"}, None, PLATFORM_ROLES | DEPARTMENT, ("reason",)),
    # Linkage with 110 and the social-governance (综治) platform (integrations/).
    _t("transfer_to_110", "推送110", OPEN, None, {"agent", "dispatcher", "coordinator", "admin"}, ("reason",)),
    _t("three_way_call", "三方通话", OPEN, None, {"agent", "dispatcher", "coordinator"}, ("reason",)),
    _t("push_to_governance", "推送综治", OPEN, None, {"dispatcher", "coordinator", "admin"}, ("reason",)),
    # A peer's news recorded by its system actor (acknowledgement, feedback, status).
    _t("linkage_update", "联动回执", OPEN | {"closed", "archived", "merged", "cancelled"}, None, {"system"},
       ("reason",)),
]}

SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意",
                "unsatisfied": "不满意", "unreachable": "无法联系"}


def transition(action: str) -> Transition | None:
    return TRANSITIONS.get(action)


def allowed_actions(status: str, role: str) -> list[str]:
    """Actions a person of ``role`` may take on a ticket in ``status``."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources and role in t.roles]


def describe() -> list[dict]:
    """The table as JSON for GET /api/v1/workflow."""
    return [
        {"action": t.action, "label": t.label, "from": sorted(t.sources), "to": t.target,
         "roles": sorted(t.roles), "required": list(t.required)}
        for t in TRANSITIONS.values()
    ]
