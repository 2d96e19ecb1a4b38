"""The full matrix of allowed and refused transitions, built from the table
(every action x every status x every role) and run against the service, so
dispatch.workflow and dispatch.tickets cannot drift apart."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch.errors import Conflict, DomainError, Forbidden, NotFound
from dispatch.workflow import ALL_ROLES, DEPARTMENT, TRANSITIONS
from models import Assignment, ExtensionRequest, STATUSES, SlaClock, utcnow
from tests.dispatch import factories as f

# Valid parameters per action, for the combinations the table allows.
PARAMS = {
    "dispatch": lambda db: {"unit_id": f.unit(db, "gy_rsj").id},
    "forward": lambda db: {"unit_id": f.unit(db, "gy12345").id},
    "return": lambda db: {"reason": "不属于本单位职责", "suggested_unit": "贵阳市教育局"},
    "uphold_return": lambda db: {"unit_id": f.unit(db, "gy_jyj").id, "reason": "同意"},
    "reject_return": lambda db: {"reason": "属于本单位职责"},
    "reassign": lambda db: {"unit_id": f.unit(db, "gy_jyj").id, "reason": "改派"},
    "await_citizen": lambda db: {"reason": "等待群众提供材料"},
    "resume": lambda db: {"reason": "材料已补齐"},
    "give_input": lambda db: {"reply_text": "协办意见"},
    "reply": lambda db: {"reply_text": "已处理"},
    "request_extension": lambda db: {"reason": "需现场勘查", "days": 3},
    "approve_extension": lambda db: {"reason": "同意"},
    "refuse_extension": lambda db: {"reason": "不同意"},
    "supervise": lambda db: {"reason": "请加快办理"},
    "callback": lambda db: {"satisfaction": "satisfied"},
    "redo": lambda db: {"satisfaction": "unsatisfied", "reason": "群众不满意"},
    "direct_answer": lambda db: {"reply_text": "按政策答复"},
    "cancel": lambda db: {"reason": "重复登记"},
    "note": lambda db: {"reason": "备注"},
    "transfer_to_110": lambda db: {"reason": "疑似警情"},
    "three_way_call": lambda db: {"reason": "三方通话"},
    "push_to_governance": lambda db: {"reason": "网格事项"},
    "linkage_update": lambda db: {"reason": "回执"},
    "recompute_dues": lambda db: {"reason": "导入工作日历"},
}


def _prepare(db, action: str, ticket_id: int) -> dict:
    """What an allowed action needs besides its fields (a pending extension, a
    clock that is due …).  Returns extra parameters."""
    now = utcnow()
    with db.session() as s:
        if action in ("approve_extension", "refuse_extension"):
            s.add(ExtensionRequest(ticket_id=ticket_id, days=3, reason="需现场勘查", requested_at=now))
        if action == "give_input":
            s.add(Assignment(ticket_id=ticket_id, unit_id=f.unit(db, "gy_jyj").id, role="assist", state="pending"))
        if action in ("sla_warning", "sla_overdue"):
            c = SlaClock(ticket_id=ticket_id, stage="close", urgency="general", started_at=now - dt.timedelta(days=9),
                         due_at=now - dt.timedelta(minutes=1), warn_at=now - dt.timedelta(days=1), pauses=[])
            s.add(c)
            s.flush()
            return {"clock_id": c.id}
        if action == "recompute_dues":
            # A clock whose due waited for a calendar year.
            s.add(SlaClock(ticket_id=ticket_id, stage="close", urgency="general", started_at=now, due_at=None,
                           pauses=[], due_state="pending", missing_year=2028))
    if action == "merge":
        return {"into_ticket_id": f.ticket(db, "handling"), "reason": "重复诉求"}
    return {}


def _actor(db, role: str, action: str):
    if role in DEPARTMENT:
        # give_input is the assisting unit's; every other department action the lead's.
        return f.user_actor(db, "gy_jyj" if action == "give_input" else "gy_rsj")
    return f.role_actor(db, role)


def test_the_matrix_of_every_action_status_and_role(seeded_db):
    db = seeded_db
    svc = f.service(db)
    mismatches: list[str] = []
    statuses = list(STATUSES)
    # One ticket per status takes every refusal (a refusal changes nothing).
    shared = {st: f.ticket(db, st) for st in statuses}
    allowed_count = refused_count = 0
    for action, tr in TRANSITIONS.items():
        for status in statuses:
            for role in sorted(ALL_ROLES):
                allowed = status in tr.sources and role in tr.roles
                actor = _actor(db, role, action)
                # A department never sees a ticket no unit holds yet (accepted).
                hidden = role in DEPARTMENT and status == "accepted"
                if allowed and hidden:
                    with pytest.raises(NotFound):
                        svc.act(actor, shared[status], action, PARAMS.get(action, lambda db: {})(db))
                    continue
                if not allowed:
                    refused_count += 1
                    tid = shared[status]
                    params = PARAMS.get(action, lambda db: {})(db) | {"clock_id": 0, "into_ticket_id": 0}
                    try:
                        svc.act(actor, tid, action, params)
                        mismatches.append(f"{action} {status} {role}: allowed, the table refuses it")
                    except Forbidden:
                        if role in tr.roles:
                            mismatches.append(f"{action} {status} {role}: 403 but the role is allowed")
                    except NotFound:
                        # Hidden, or an assisting unit's action on a ticket it does not assist.
                        if not (hidden or (role in DEPARTMENT and action == "give_input")):
                            mismatches.append(f"{action} {status} {role}: 404")
                    except Conflict as e:
                        if role not in tr.roles or e.code != "transition_refused":
                            mismatches.append(f"{action} {status} {role}: 409 {e.code}")
                        elif e.current["status"] != status:
                            mismatches.append(f"{action} {status} {role}: 409 without the current state")
                    except DomainError as e:
                        mismatches.append(f"{action} {status} {role}: {e.status} {e.code} {e.fields}")
                    continue
                allowed_count += 1
                tid = f.ticket(db, status)
                params = PARAMS.get(action, lambda db: {})(db) | _prepare(db, action, tid)
                try:
                    t = svc.act(actor, tid, action, params)
                except DomainError as e:
                    mismatches.append(f"{action} {status} {role}: refused {e.status} {e.code} {e.message} {e.fields}")
                    continue
                expected = tr.target or status
                if t.status != expected:
                    mismatches.append(f"{action} {status} {role}: ended {t.status}, table says {expected}")
    # The shared tickets are untouched by all those refusals.
    for st, tid in shared.items():
        assert f.load(db, tid).status == st
    assert not mismatches, "\n".join(mismatches)
    assert allowed_count > 80 and refused_count > 1500


def test_unknown_action_and_missing_fields(seeded_db):
    svc = f.service(seeded_db)
    tid = f.ticket(seeded_db, "handling")
    dept = f.user_actor(seeded_db, "gy_rsj")
    with pytest.raises(NotFound):
        svc.act(dept, tid, "fly_away", {})
    for action in ("return", "reply", "request_extension"):
        with pytest.raises(DomainError) as e:
            svc.act(dept, tid, action, {})
        assert e.value.status == 422 and set(e.value.fields) == set(TRANSITIONS[action].required)


def test_an_assisting_unit_cannot_act_as_the_lead(seeded_db):
    svc = f.service(seeded_db)
    tid = f.ticket(seeded_db, "dispatched")
    with seeded_db.session() as s:
        s.add(Assignment(ticket_id=tid, unit_id=f.unit(seeded_db, "gy_jyj").id, role="assist", state="pending"))
    helper = f.user_actor(seeded_db, "gy_jyj")
    with pytest.raises(Forbidden) as e:
        svc.act(helper, tid, "sign_for", {})
    assert e.value.code == "not_the_lead_unit"
    with pytest.raises(NotFound):
        svc.act(f.user_actor(seeded_db, "gy_mzj"), tid, "give_input", {"reply_text": "x"})
