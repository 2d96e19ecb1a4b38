"""The lexicon as the running service sees it: the active database entries
(``models.LexiconEntry``) with the unit label each votes for, cached per
process and rebuilt when an entry or the catalogue changes; and the admin's
operations on entries (add, disable, enable, test), each versioned and
written to the audit log.

An entry's unit label is its own ``unit_code`` when set, else what the
platform's routing catalogue names for its category city-wide: a unit
code, or ``district`` when the catalogue sends the matter to the district
of the place (one rule per district).
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from classifier import lexicon as lx
from dispatch.errors import Conflict, Invalid, NotFound
from models import Category, LexiconEntry, RoutingRule, Unit, utcnow

#: how often a process checks whether the lexicon changed (seconds)
CHECK_SECONDS = 2.0

_lock = threading.Lock()
_cache: dict[int, tuple[tuple, "Routing", float]] = {}


class Routing:
    """A platform's lexicon with the catalogue's unit labels: ``labels``
    (category id → unit label) and ``home`` (unit label → the broadest
    category the catalogue gives it, for a ticket whose unit is known but
    whose matter is not)."""

    def __init__(self, lexicon: lx.Lexicon, labels: dict[int, str], home: dict[str, int],
                 unit_ids: dict[str, int], districts: list[tuple[int, str]]):
        self.lexicon, self.labels, self.home = lexicon, labels, home
        self.unit_ids = unit_ids            # active unit code → id
        self.districts = districts          # (id, division code) of the platform's districts

    def district_of(self, division: str) -> int | None:
        """The most specific district unit whose area holds ``division``."""
        best = [(len(code), uid) for uid, code in self.districts if code and (division or "").startswith(code)]
        return max(best)[1] if best else None


def _stamp(session: Session) -> tuple:
    e = session.execute(select(func.count(LexiconEntry.id), func.max(LexiconEntry.updated_at),
                               func.sum(LexiconEntry.version))).one()
    r = session.execute(select(func.count(RoutingRule.id), func.max(RoutingRule.id),
                               func.sum(RoutingRule.unit_id)).where(RoutingRule.active.is_(True))).one()
    u = session.execute(select(func.count(Unit.id), func.max(Unit.id)).where(Unit.active.is_(True))).one()
    return tuple(e) + tuple(r) + tuple(u)


def unit_labels(session: Session, platform: Unit) -> dict[int, str]:
    """category id → the unit label the catalogue gives it city-wide."""
    rules = session.scalars(select(RoutingRule).where(RoutingRule.platform_id == platform.id,
                                                      RoutingRule.active.is_(True),
                                                      RoutingRule.category_id.is_not(None))).all()
    by_cat: dict[int, list[RoutingRule]] = {}
    for r in rules:
        by_cat.setdefault(r.category_id, []).append(r)
    cats = {c.id: c for c in session.scalars(select(Category))}
    out: dict[int, str] = {}
    for cid, cat in cats.items():
        c = cat
        while c is not None:
            rs = by_cat.get(c.id)
            if rs:
                everywhere = [r for r in rs if not r.division_code]
                if everywhere:
                    u = min(everywhere, key=lambda r: r.priority).unit
                    out[cid] = "district" if u.kind == "district" else u.code
                elif all(r.unit.kind == "district" for r in rs):
                    out[cid] = "district"
                break
            c = cats.get(c.parent_id) if c.parent_id else None
    return out


def build(session: Session, platform: Unit) -> Routing:
    labels = unit_labels(session, platform)
    levels = dict(session.execute(select(Category.id, Category.level)).all())
    home: dict[str, int] = {}
    for cid in sorted(labels, key=lambda c: (levels.get(c, 9), c)):
        home.setdefault(labels[cid], cid)
    rows = session.scalars(select(LexiconEntry).where(LexiconEntry.active.is_(True))).all()
    entries = []
    for e in rows:
        unit = e.unit_code or labels.get(e.category_id)
        if unit:
            entries.append(lx.Entry(e.phrase, e.category.full_name, unit, e.id))
    units = session.execute(select(Unit.id, Unit.code, Unit.kind, Unit.division_code)
                            .where(Unit.active.is_(True), Unit.path.startswith(platform.path))).all()
    return Routing(lx.Lexicon(entries), labels, home, {code: uid for uid, code, _, _ in units},
                   [(uid, div or "") for uid, _, kind, div in units if kind == "district"])


def current(session: Session, platform: Unit) -> Routing:
    """The platform's lexicon; rebuilt when the entries or the catalogue
    changed (checked at most every CHECK_SECONDS, immediately after a change
    made by this process)."""
    now = time.monotonic()
    cached = _cache.get(platform.id)
    if cached is not None and now - cached[2] < CHECK_SECONDS:
        return cached[1]
    stamp = _stamp(session)
    if cached is not None and cached[0] == stamp:
        _cache[platform.id] = (stamp, cached[1], now)
        return cached[1]
    routing = build(session, platform)
    with _lock:
        _cache[platform.id] = (stamp, routing, now)
    return routing


def invalidate() -> None:
    with _lock:
        _cache.clear()


# ------------------------------------------------------------------ admin
def describe(e: LexiconEntry) -> dict:
    return {"id": e.id, "phrase": e.phrase, "matter": e.category.full_name, "category_code": e.category.code,
            "unit_code": e.unit_code, "active": e.active, "version": e.version, "source": e.source,
            "note": e.note, "updated_at": e.updated_at.isoformat() if e.updated_at else None}


def add_entry(session: Session, phrase: str, category: str, unit_code: str = "", note: str = "",
              actor_id: int | None = None, actor_label: str = "") -> LexiconEntry:
    from models.audit import record

    phrase = (phrase or "").strip()
    errors = {}
    if not (1 <= len(phrase) <= 100):
        errors["phrase"] = "1–100 个字符 / 1-100 characters"
    cat = session.scalar(select(Category).where((Category.full_name == category) | (Category.code == category)))
    if cat is None:
        errors["category"] = f"unknown category {category!r}"
    unit_code = (unit_code or "").strip()
    if unit_code and unit_code != "district" and session.scalar(select(Unit.id).where(Unit.code == unit_code)) is None:
        errors["unit_code"] = f"unknown unit {unit_code!r}"
    if errors:
        raise Invalid("词条无效", errors)
    if session.scalar(select(LexiconEntry.id).where(LexiconEntry.phrase == phrase)) is not None:
        raise Conflict(f"词条“{phrase}”已存在", code="lexicon_entry_exists")
    now = utcnow()
    e = LexiconEntry(phrase=phrase, category_id=cat.id, unit_code=unit_code, note=note[:200], source="admin",
                     created_at=now, updated_at=now, created_by_id=actor_id, version=1)
    e.category = cat
    session.add(e)
    session.flush()
    record(session, "lexicon_entry.create", "lexicon_entry", e.id, note,
           payload={"phrase": phrase, "matter": cat.full_name, "unit_code": unit_code, "version": 1},
           actor_id=actor_id, actor_label=actor_label)
    invalidate()
    return e


def set_active(session: Session, entry_id: int, active: bool, reason: str = "",
               actor_id: int | None = None, actor_label: str = "") -> LexiconEntry:
    from models.audit import record

    e = session.get(LexiconEntry, entry_id)
    if e is None:
        raise NotFound("词条不存在")
    if e.active != active:
        e.active = active
        e.version += 1
        e.updated_at = utcnow()
        record(session, "lexicon_entry.enable" if active else "lexicon_entry.disable", "lexicon_entry", e.id,
               reason, payload={"phrase": e.phrase, "version": e.version},
               actor_id=actor_id, actor_label=actor_label)
        invalidate()
    return e
