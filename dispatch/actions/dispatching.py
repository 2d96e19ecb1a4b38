"""派单 and its side paths: dispatch, forward to a city platform, return
(退单) and its review, reassign.  ``assign`` gives a ticket to a unit with
fresh clocks and assignments (also used at intake and by redo)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import clock_keeping
from dispatch.access import Actor
from dispatch.change import Change
from dispatch.errors import Forbidden, Invalid
from dispatch.supervision_items import raise_item, resolve_items
from dispatch.workflow import THIRD_RETURN, THIRD_RETURN_REVIEWERS
from models import Assignment, Category, LabelCorrection, Ticket, Unit


def dispatchable_unit(s: Session, actor: Actor, unit_id: int) -> Unit:
    unit = s.get(Unit, unit_id)
    if unit is None or not unit.active:
        raise Invalid("承办单位不存在", {"unit_id": f"no active unit {unit_id}"})
    if not (actor.is_province or unit.path.startswith(actor.unit_path)):
        raise Invalid("只能派给本平台下属单位", {"unit_id": "outside your platform"})
    if unit.id == actor.unit_id:
        raise Invalid("不能派给本平台自身", {"unit_id": "is your own platform"})
    return unit


def assign(c: Change, unit: Unit, assists: list[Unit] = (), round_: int | None = None,
           keep_assists: bool = False) -> None:
    """Give the ticket to ``unit`` (the lead) with fresh sign-for and close clocks."""
    t, now = c.t, c.now
    round_ = round_ or clock_keeping.last_round(c)
    t.responsible_unit_id, t.responsible_unit = unit.id, unit
    t.dispatched_at, t.signed_at = now, None
    clock_keeping.start(c, unit.id, round_)
    # Assignments: the lead, and any assisting units (协办) with half the close time.
    rows = {a.unit_id: a for a in c.s.scalars(select(Assignment).where(Assignment.ticket_id == t.id))}
    for a in rows.values():
        if a.role == "lead" and a.unit_id != unit.id:
            a.state = "withdrawn"
        elif a.role == "assist" and not keep_assists and a.state == "pending":
            a.state = "withdrawn"
    lead = rows.get(unit.id)
    if lead is None:
        c.s.add(Assignment(ticket_id=t.id, unit_id=unit.id, role="lead", state="pending", created_at=now))
    else:
        lead.role, lead.state = "lead", "pending"
    if assists:
        half = now + (t.due_at - now) / 2 if t.due_at else None
        for a in assists:
            row = rows.get(a.id)
            if row is None:
                c.s.add(Assignment(ticket_id=t.id, unit_id=a.id, role="assist", state="pending", due_at=half,
                                   created_at=now))
            else:
                row.role, row.state, row.due_at = "assist", "pending", half


def find_category(s: Session, key: str) -> Category | None:
    return s.scalar(select(Category).where((Category.code == key) | (Category.full_name == key)
                                           | ((Category.level == 1) & (Category.name == key))))


def top_level(s: Session, c: Category) -> Category:
    while c.parent_id is not None:
        c = s.get(Category, c.parent_id)
    return c


def ticket_text(t: Ticket) -> str:
    return f"{t.subject} {t.description}".strip()


def dispatch(c: Change) -> dict:
    unit = dispatchable_unit(c.s, c.actor, c.int_param("unit_id"))
    if unit.is_platform:
        raise Invalid("派往下级平台请用“转下级平台”", {"unit_id": "is a platform: use forward"})
    assists = [dispatchable_unit(c.s, c.actor, int(u)) for u in (c.p.get("assist_unit_ids") or [])]
    if any(a.id == unit.id or a.is_platform for a in assists):
        raise Invalid("协办单位无效", {"assist_unit_ids": "not the lead, not a platform"})
    assign(c, unit, assists)
    c.t.needs_review = False
    return {"unit": unit.code, "auto": False, "assist_units": [a.code for a in assists]}


def forward(c: Change) -> dict:
    unit = dispatchable_unit(c.s, c.actor, c.int_param("unit_id"))
    if unit.kind != "city_platform":
        raise Invalid("只能转给下级城市平台", {"unit_id": "not a city platform"})
    previous = c.t.platform_id
    c.t.platform_id, c.t.platform = unit.id, unit
    c.t.needs_review = True
    return {"unit": unit.code, "from_platform_id": previous}


def return_(c: Change) -> dict:
    t = c.t
    t.return_count += 1
    if t.return_count >= THIRD_RETURN:
        item = raise_item(c, "third_return", f"第{t.return_count}次退单，需协调员审核：{c.p['reason']}",
                          dedupe=f"return:{t.id}:{t.return_count}")
        c.record(t, "escalate", f"第{t.return_count}次退单转协调员", {"item_id": item.id, "kind": item.kind})
    return {"return_count": t.return_count, "suggested_unit": str(c.p.get("suggested_unit") or "")}


def _review_return(c: Change) -> None:
    if c.t.return_count >= THIRD_RETURN and c.actor.role not in THIRD_RETURN_REVIEWERS:
        raise Forbidden("第三次及以上退单由协调员审核", code="coordinator_review")
    resolve_items(c, "third_return")


def uphold_return(c: Change) -> dict:
    _review_return(c)
    t = c.t
    changed = False
    if c.p.get("category"):
        cat = find_category(c.s, str(c.p["category"]))
        if cat is None:
            raise Invalid("未知的分类", {"category": "unknown category"})
        if cat.id != t.category_id:
            old = top_level(c.s, t.category).name if t.category else ""
            c.s.add(LabelCorrection(ticket_id=t.id, text=ticket_text(t), predicted_label=old,
                                    label=top_level(c.s, cat).name, source="return_upheld",
                                    created_by_id=c.actor.user_id, created_at=c.now))
            t.category_id, t.category, changed = cat.id, cat, True
    payload = _redispatch(c)
    return payload | {"return_count": t.return_count, "category_changed": changed}


def reject_return(c: Change) -> dict:
    _review_return(c)
    # The unit keeps the ticket and its clocks keep running; if it returned
    # it before signing, the rejection counts as its signing for it.
    if c.t.signed_at is None:
        c.t.signed_at = c.now
        clock_keeping.stop(c, "sign")
    return {"return_count": c.t.return_count}


def reassign(c: Change) -> dict:
    return _redispatch(c)


def _redispatch(c: Change) -> dict:
    previous = c.t.responsible_unit_id
    unit = dispatchable_unit(c.s, c.actor, c.int_param("unit_id"))
    if unit.is_platform or unit.id == previous:
        raise Invalid("请选择另一个承办单位", {"unit_id": "another unit, not a platform"})
    assign(c, unit)
    c.t.needs_review = False
    return {"unit": unit.code, "previous_unit_id": previous}


HANDLERS = {"dispatch": dispatch, "forward": forward, "return": return_, "uphold_return": uphold_return,
            "reject_return": reject_return, "reassign": reassign}
