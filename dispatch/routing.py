"""The routing catalogue (派单目录): category × place → responsible unit.

A rule names a category (or none: any category) and a division code (or
none: anywhere the platform covers).  For a ticket, the rule with the most
specific matching category wins, then the most specific matching place,
then the lowest priority number.  Every platform keeps a rule with neither
category nor place (its fallback), so no ticket is left unowned; when the
fallback is the platform itself the ticket waits for a dispatcher.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Category, RoutingRule, Unit


@dataclass(frozen=True)
class Route:
    unit: Unit
    rule_id: int | None
    fallback: bool


def division_chain(code: str) -> list[str]:
    """'520102003' → ['', '52', '5201', '520102', '520102003']."""
    code = (code or "").strip()
    chain = [""]
    for n in (2, 4, 6, 9, 12):
        if len(code) >= n:
            chain.append(code[:n])
    return chain


def category_chain(session: Session, category: Category | None) -> list[int]:
    """Ids from the category up to its root, most specific first."""
    ids: list[int] = []
    while category is not None:
        ids.append(category.id)
        category = session.get(Category, category.parent_id) if category.parent_id else None
    return ids


def route(session: Session, platform: Unit, category: Category | None, division_code: str = "") -> Route:
    cats = category_chain(session, category)
    places = division_chain(division_code)
    rules = session.scalars(
        select(RoutingRule).where(RoutingRule.platform_id == platform.id, RoutingRule.active.is_(True))
    ).all()
    best, best_key = None, None
    for r in rules:
        if r.category_id is not None and r.category_id not in cats:
            continue
        if r.division_code not in places:
            continue
        cat_rank = len(cats) - cats.index(r.category_id) if r.category_id is not None else 0
        key = (cat_rank, len(r.division_code), -r.priority)
        if best_key is None or key > best_key:
            best, best_key = r, key
    if best is None or not best.unit.active:
        return Route(unit=platform, rule_id=None, fallback=True)
    return Route(unit=best.unit, rule_id=best.id, fallback=best.category_id is None)
