"""The routing catalogue (派单目录): category × place → responsible unit.

A rule names a category (or none: any category) and a division code (or
none: anywhere the platform covers).  For a ticket, the rule with the most
specific matching category wins, then the most specific matching place,
then the lowest priority number.  Every platform keeps a rule with neither
category nor place (its fallback), so no ticket is left unowned; when the
fallback is the platform itself the ticket waits for a dispatcher.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select
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


@dataclass(frozen=True)
class _Rule:
    id: int
    category_id: int | None
    division_code: str
    unit_id: int
    priority: int


#: how often a process checks whether the catalogue changed (seconds)
CHECK_SECONDS = 2.0
_cache: dict[int, tuple[tuple, list[_Rule], float]] = {}
_cache_lock = threading.Lock()


def _rules(session: Session, platform: Unit) -> list[_Rule]:
    """The platform's active rules, cached per process; re-read when the
    catalogue changed (an aggregate over the active rules is compared at
    most every CHECK_SECONDS, and at once after ``invalidate()``)."""
    now = time.monotonic()
    cached = _cache.get(platform.id)
    if cached is not None and now - cached[2] < CHECK_SECONDS:
        return cached[1]
    active = (RoutingRule.platform_id == platform.id, RoutingRule.active.is_(True))
    stamp = tuple(session.execute(select(func.count(RoutingRule.id), func.max(RoutingRule.id),
                                         func.sum(RoutingRule.unit_id), func.sum(RoutingRule.priority))
                                  .where(*active)).one())
    if cached is not None and cached[0] == stamp:
        rules = cached[1]
    else:
        rows = session.execute(select(RoutingRule.id, RoutingRule.category_id, RoutingRule.division_code,
                                      RoutingRule.unit_id, RoutingRule.priority).where(*active)).all()
        rules = [_Rule(*row) for row in rows]
    with _cache_lock:
        _cache[platform.id] = (stamp, rules, now)
    return rules


def invalidate() -> None:
    with _cache_lock:
        _cache.clear()


def route(session: Session, platform: Unit, category: Category | None, division_code: str = "") -> Route:
    cats = category_chain(session, category)
    places = division_chain(division_code)
    best, best_key = None, None
    for r in _rules(session, platform):
        if r.category_id is not None and r.category_id not in cats:
            continue
        if r.division_code not in places:
            continue
        cat_rank = len(cats) - cats.index(r.category_id) if r.category_id is not None else 0
        key = (cat_rank, len(r.division_code), -r.priority)
        if best_key is None or key > best_key:
            best, best_key = r, key
    unit = session.get(Unit, best.unit_id) if best is not None else None
    if unit is None or not unit.active:
        return Route(unit=platform, rule_id=None, fallback=True)
    return Route(unit=unit, rule_id=best.id, fallback=best.category_id is None)
