"""The ticket workflow as data.

``TRANSITIONS`` is the single source of truth: which action moves a ticket
from which statuses to which status, which roles may take it and which fields
it needs.  ``dispatch.tickets`` enforces it (role first, then status, then
required fields, then the action's own rules) and the tests build the full
matrix of allowed and refused transitions (every action x every status x
every role) from it, so the two cannot drift.  A ``target`` of ``None`` means
the action records something without moving the ticket.

Actions are the English verbs in snake_case used in the API
(``POST /api/v1/tickets/<id>/actions/<action>``).

The life of a ticket (GB/T 33358-2016)::

    accepted --dispatch--> dispatched --sign_for--> handling --reply--> replied --close--> closed
        |--forward (province -> city platform, stays accepted there)               |
        |--direct_answer (直办) ----------------------------------------------> closed |
        |                                                         callback (回访) --> archived
        |                                                         redo (重办, 不满意) --> dispatched

Side paths: return (退单) -> returned -> uphold_return (re-dispatch) |
reject_return (back to handling; the unit's clocks never stopped);
reassign (改派); await_citizen/resume (待群众补充: the close clock pauses);
request/approve/refuse_extension (延期: an approved extension pauses the
close clock for its days, and the citizen is told); supervise (督办);
merge (并单); cancel (撤销, the hotline only, with a reason).

Rules that are more than the table (enforced in dispatch.tickets):

* department users act only on tickets their unit is responsible for
  (``unit_scoped``); ``give_input`` is for assisting units (协办) instead;
* a reply by the lead unit of a co-handled ticket waits until every
  assisting unit gave input or its time (half the close limit) ran out;
* the review of a ticket's third (or later) return is a coordinator's;
* ``callback`` with ``unreachable`` needs two earlier ``callback_no_answer``
  tries (the third failed try ends the callback);
* ``redo`` needs the callback result ``unsatisfied``;
* ``uphold_return`` with a ``category`` different from the ticket's records
  a LabelCorrection for the classifier.

Events and their payload keys (stable: dispatch/figures.py counts them)
-----------------------------------------------------------------------
accept          {urgency, suggested, confidence, top, model_version, category, duplicates}
forward         {unit, from_platform_id}
dispatch        {unit, auto, assist_units}
sign_for        {on_time}                       sign-for clock met
return          {return_count, suggested_unit}  (reason = the unit's reason)
uphold_return   {unit, previous_unit_id, return_count, category_changed}
reject_return   {return_count}
reassign        {unit, previous_unit_id}
await_citizen   {}          resume {paused_for_s, due_at}
give_input      {unit, on_time, reply_text}   (an assisting unit's input)
reply           {reply_text, on_time}           close clock stopped
close           {on_time}                       = the close clock's result
request_extension {extension_id, days}
approve_extension {extension_id, days, due_at}  (+ a notify_citizen event)
refuse_extension  {extension_id}
supervise       {item_id}
callback_no_answer {attempts}
callback        {satisfaction, note, attempts}  satisfied | basically_satisfied | unreachable
redo            {satisfaction: "unsatisfied", note, round, unit}
merge           {into, into_id}   and on the lead: absorb {from, from_id, clock_started_at}
direct_answer   {reply_text} (+ knowledge_id, knowledge_version, knowledge_question: the 知识库 entry cited)
cancel          {}
sla_warning / sla_overdue  {clock_id, stage, due_at}  (system; overdue raises a 督办 item)
recompute_dues  {year, before: {sign_due_at, due_at, due_state}, after: {…}}  (system, calendar import)
escalate        {item_id, kind}   a supervision item raised by the service (third return)
notify_citizen  {kind, text, phone}   a message to the caller (extension approved, its date
                                      once the clock resumes, lead ticket of a merge closed)

Every event also records ``unit_id`` (the unit holding the ticket after it:
its responsible unit, or its platform while it has none) and
``charged_unit_id`` (the holder just before it, whom the figures charge).
"""
from __future__ import annotations

from dataclasses import dataclass

PLATFORM_ROLES = frozenset({"agent", "dispatcher", "coordinator", "supervisor", "admin"})
DEPARTMENT = frozenset({"department"})
DISPATCHERS = frozenset({"agent", "dispatcher", "admin"})
# The hotline itself (撤销 is the hotline's only).
HOTLINE = DISPATCHERS
# Who reviews returns and decides extensions; a coordinator takes the third return.
REVIEWERS = frozenset({"dispatcher", "coordinator", "admin"})
SUPERVISORS = frozenset({"dispatcher", "coordinator", "supervisor", "admin"})
CALLBACK_AGENTS = frozenset({"agent", "dispatcher", "admin"})
SYSTEM = frozenset({"system"})
# Every role an actor can have (the matrix test iterates over these).
ALL_ROLES = PLATFORM_ROLES | DEPARTMENT | SYSTEM

# Named groups of roles.  Pages, queues and API checks use these names
# instead of retyping the tuples (base.html hands them to the JavaScript).
# Who runs the coordinators' boards (督办看板, 联动看板) and resolves their items.
COORDINATORS = SUPERVISORS
# Who may read the figures (统计报表): everyone but agents.
FIGURE_READERS = frozenset({"supervisor", "coordinator", "dispatcher", "admin", "department"})
# Who reviews a ticket's third (or later) return.
THIRD_RETURN_REVIEWERS = frozenset({"coordinator", "admin"})

# Named sets of statuses (models.STATUSES holds their labels).
WITH_UNIT = frozenset({"dispatched", "handling", "awaiting_citizen", "returned", "replied"})
# Not finished: the citizen is still waiting for an answer.
OPEN = frozenset({"accepted"}) | WITH_UNIT
# Statuses whose clocks are running (or paused): SLA notices apply.
CLOCKED = frozenset({"dispatched", "handling", "awaiting_citizen", "returned"})
# The close clock is paused while the unit waits for the citizen.
PAUSED = frozenset({"awaiting_citizen"})
# The unit's close clock runs in these (it stops at the unit's reply).
RUNNING = CLOCKED - PAUSED
# Answered: waiting for the callback, or done with it.
ANSWERED = frozenset({"closed", "archived"})
TERMINAL = frozenset({"archived", "cancelled", "merged"})
# Statuses whose deadlines do not apply: the ticket is not the unit's work.
NO_DEADLINE = frozenset({"cancelled", "merged"})

# The return that goes to a coordinator instead of a dispatcher (第三次退单).
THIRD_RETURN = 3
# Callback tries: the last failed one is recorded as unreachable.
CALLBACK_TRIES = 3


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
    # The action only records its event (and moves the status): no handler.
    # Every other action needs one, and the service refuses it without.
    record_only: bool = False


def _t(action, label, sources, target, roles, required=(), unit_scoped=True, record_only=False):
    return Transition(action, label, frozenset(sources), target, frozenset(roles), tuple(required), unit_scoped,
                      record_only)


TRANSITIONS: dict[str, Transition] = {t.action: t for t in [
    _t("dispatch", "派单", {"accepted"}, "dispatched", DISPATCHERS, ("unit_id",)),
    _t("forward", "转下级平台", {"accepted"}, "accepted", DISPATCHERS, ("unit_id",)),
    _t("sign_for", "签收", {"dispatched"}, "handling", DEPARTMENT),
    _t("return", "退单", {"dispatched", "handling"}, "returned", DEPARTMENT, ("reason", "suggested_unit")),
    _t("uphold_return", "同意退单并改派", {"returned"}, "dispatched", REVIEWERS, ("unit_id", "reason")),
    _t("reject_return", "驳回退单", {"returned"}, "handling", REVIEWERS, ("reason",)),
    _t("reassign", "改派", {"dispatched", "handling"}, "dispatched", DISPATCHERS, ("unit_id", "reason")),
    _t("await_citizen", "待群众补充", {"handling"}, "awaiting_citizen", DEPARTMENT, ("reason",)),
    _t("resume", "恢复办理", {"awaiting_citizen"}, "handling", DEPARTMENT | DISPATCHERS, ("reason",)),
    _t("give_input", "协办意见", {"dispatched", "handling", "awaiting_citizen"}, None, DEPARTMENT,
       ("reply_text",), unit_scoped=False),
    _t("reply", "答复", {"handling"}, "replied", DEPARTMENT, ("reply_text",)),
    _t("close", "办结", {"replied"}, "closed", DEPARTMENT | DISPATCHERS),
    _t("request_extension", "申请延期", {"handling", "awaiting_citizen"}, None, DEPARTMENT, ("reason", "days")),
    _t("approve_extension", "批准延期", {"handling", "awaiting_citizen"}, None, REVIEWERS, ("reason",)),
    _t("refuse_extension", "驳回延期", {"handling", "awaiting_citizen"}, None, REVIEWERS, ("reason",)),
    _t("supervise", "督办", WITH_UNIT, None, SUPERVISORS, ("reason",)),
    _t("callback_no_answer", "回访未接通", {"closed"}, None, CALLBACK_AGENTS),
    _t("callback", "回访", {"closed"}, "archived", CALLBACK_AGENTS, ("satisfaction",)),
    _t("redo", "重办", {"closed"}, "dispatched", CALLBACK_AGENTS, ("satisfaction", "reason")),
    _t("merge", "并单", {"accepted", "dispatched", "handling"}, "merged", DISPATCHERS, ("into_ticket_id", "reason")),
    _t("direct_answer", "直办", {"accepted"}, "closed", DISPATCHERS, ("reply_text",)),
    _t("cancel", "撤销", OPEN, "cancelled", HOTLINE, ("reason",)),
    _t("note", "备注", OPEN | {"closed"}, None, PLATFORM_ROLES | DEPARTMENT, ("reason",), record_only=True),
    # SLA timers and the sweep (dispatch.sweeps), as the system actor.
    _t("sla_warning", "临期预警", CLOCKED, None, SYSTEM, ("clock_id",)),
    _t("sla_overdue", "超时", CLOCKED, None, SYSTEM, ("clock_id",)),
    # `python -m hotline calendar import FILE`: dues recomputed on the new year.
    _t("recompute_dues", "重算时限", CLOCKED | {"replied", "closed", "archived"}, None, SYSTEM, ("reason",)),
    # Linkage with 110 and the social-governance (综治) platform (integrations/).
    _t("transfer_to_110", "推送110", OPEN, None, {"agent", "dispatcher", "coordinator", "admin"}, ("reason",)),
    _t("three_way_call", "三方通话", OPEN, None, {"agent", "dispatcher", "coordinator"}, ("reason",), record_only=True),
    _t("push_to_governance", "推送综治", OPEN, None, {"dispatcher", "coordinator", "admin"}, ("reason",)),
    # A peer's news recorded by its system actor (acknowledgement, feedback, status).
    _t("linkage_update", "联动回执", OPEN | {"closed", "archived", "merged", "cancelled"}, None, {"system"},
       ("reason",), record_only=True),
]}

SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意",
                "unsatisfied": "不满意", "unreachable": "无法联系"}
# Events the service writes beside a transition (not actions anyone takes).
RECORD_ONLY = {"accept": "受理", "absorb": "并入", "escalate": "升级督办", "notify_citizen": "告知群众"}


def transition(action: str) -> Transition | None:
    return TRANSITIONS.get(action)


def allowed_actions(status: str, role: str) -> list[str]:
    """Actions a person of ``role`` may take on a ticket in ``status``."""
    return [t.action for t in TRANSITIONS.values() if status in t.sources and role in t.roles]


def vocabulary() -> dict:
    """The named sets as JSON lists, for the console's JavaScript (base.html)."""
    return {"statuses": {name: sorted(v) for name, v in (
                ("open", OPEN), ("with_unit", WITH_UNIT), ("clocked", CLOCKED), ("paused", PAUSED),
                ("running", RUNNING), ("answered", ANSWERED), ("terminal", TERMINAL))},
            "roles": {name: sorted(v) for name, v in (
                ("dispatchers", DISPATCHERS), ("reviewers", REVIEWERS), ("coordinators", COORDINATORS),
                ("callback_agents", CALLBACK_AGENTS), ("figure_readers", FIGURE_READERS))},
            "third_return": THIRD_RETURN, "callback_tries": CALLBACK_TRIES}


def describe() -> list[dict]:
    """The table as JSON for GET /api/v1/workflow."""
    return [
        {"action": t.action, "label": t.label, "from": sorted(t.sources), "to": t.target,
         "roles": sorted(t.roles), "required": list(t.required), "unit_scoped": t.unit_scoped}
        for t in TRANSITIONS.values()
    ]
