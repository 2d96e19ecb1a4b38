"""Repeat requests (重复诉求) at intake, and bursts of them (热点事件).

* Same caller: another ticket from the same phone number within 30 days.
* Similar text: another ticket of the same category, concerning the same
  area (county-level division, or the same code when the place is vaguer),
  within 7 days, whose text is at least ``THRESHOLD`` similar.
* Hot event: at least ``HOT_COUNT`` mutually similar tickets in one area
  within ``HOT_WINDOW`` (a water outage, a gas smell in one estate): one
  supervision item per burst, for the platform's coordinators.

Similarity (:func:`similarity`) is rapidfuzz's ``partial_token_set_ratio``
over character bigrams of the normalised text (no word segmentation is
needed for Chinese; boilerplate such as 您好/请问/市民/反映 is removed first).
Its precision on hand-labelled pairs is measured in
tests/dispatch/test_duplicates.py and stated in docs/dispatch.md.
These functions only read; dispatch.tickets records what they find.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Ticket

SAME_CALLER_DAYS = 30
SIMILAR_DAYS = 7
THRESHOLD = 60.0
HOT_WINDOW = dt.timedelta(hours=24)
HOT_COUNT = 5
SCAN_LIMIT = 500

_BOILERPLATE = re.compile(
    "您好|你好|请问|尊敬的|领导|市民|群众|反映|投诉|举报|咨询|希望|尽快|解决|处理|相关部门|有关部门|谢谢|感谢|"
    "问题|情况|我们|我是|请求|恳请|请|的|了|是|在|有|和|与|及|都|就|也|还|很|非常")
_NON_TEXT = re.compile(r"[^\w]|[_\d]")


def normalise(text: str) -> str:
    text = _NON_TEXT.sub("", text or "")
    return _BOILERPLATE.sub("", text)


@functools.lru_cache(maxsize=4096)
def _bigrams(text: str) -> str:
    # Cached: every intake scores the same few hundred recent tickets again.
    t = normalise(text)
    return " ".join(t[i:i + 2] for i in range(len(t) - 1)) if len(t) > 1 else t


def similarity(a: str, b: str) -> float:
    """0–100: how much of the shorter text's character bigrams the other shares."""
    if not a or not b:
        return 0.0
    return float(fuzz.token_set_ratio(_bigrams(a), _bigrams(b)))


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    number: str | None
    reason: str          # same_caller | similar_text
    score: float
    status: str
    created_at: dt.datetime

    def as_json(self) -> dict:
        return {"ticket_id": self.ticket_id, "number": self.number, "reason": self.reason,
                "score": round(self.score, 1), "status": self.status, "created_at": self.created_at.isoformat()}


def _text(t) -> str:
    return f"{t.subject or ''} {t.description or ''}".strip()


def area_of(code: str | None) -> str:
    code = code or ""
    return code[:6] if len(code) >= 6 else code


@dataclass(frozen=True)
class Probe:
    """A ticket being taken, not saved yet: what ``candidates`` reads of it."""
    caller_phone: str
    division_code: str
    category_id: int | None
    subject: str
    description: str
    id: int = -1


@dataclass(frozen=True)
class Scan:
    """Similar tickets since ``since``, best first: scored once per intake,
    read by both ``candidates`` and ``hot_event``."""
    since: dt.datetime
    found: list


def recent_similar(s: Session, t: Ticket, now: dt.datetime) -> Scan:
    since = now - dt.timedelta(days=SIMILAR_DAYS)
    return Scan(since, similar(s, t, now, since))


def candidates(s: Session, t: Ticket, now: dt.datetime, limit: int = 10, scan: Scan | None = None
               ) -> list[Candidate]:
    """Possible duplicates of ``t`` (already flushed), best first."""
    found: dict[int, Candidate] = {}
    phone = (t.caller_phone or "").strip()
    if phone:
        rows = s.scalars(select(Ticket).where(Ticket.caller_phone == phone, Ticket.id != t.id,
                                              Ticket.created_at >= now - dt.timedelta(days=SAME_CALLER_DAYS))
                         .order_by(Ticket.created_at.desc()).limit(limit)).all()
        for r in rows:
            found[r.id] = Candidate(r.id, r.number, "same_caller", similarity(_text(t), _text(r)), r.status,
                                    r.created_at)
    scan = scan or recent_similar(s, t, now)
    for r, score in scan.found:
        if r.id not in found:
            found[r.id] = Candidate(r.id, r.number, "similar_text", score, r.status, r.created_at)
    return sorted(found.values(), key=lambda c: (c.reason != "same_caller", -c.score))[:limit]


def similar(s: Session, t: Ticket, now: dt.datetime, since: dt.datetime,
            threshold: float = THRESHOLD) -> list[tuple[Ticket, float]]:
    """Tickets of the same category and area since ``since`` whose text is
    similar to ``t``'s, best first.  Runs on every intake: it reads only the
    columns it needs (no ORM objects) and scores in rapidfuzz's C loop."""
    area = area_of(t.division_code)
    if t.category_id is None or not area:
        return []
    q = (select(Ticket.id, Ticket.number, Ticket.subject, Ticket.description, Ticket.status,
                Ticket.created_at)
         .where(Ticket.id != t.id, Ticket.category_id == t.category_id,
                Ticket.division_code.startswith(area), Ticket.created_at >= since,
                Ticket.status != "cancelled")
         .order_by(Ticket.created_at.desc()).limit(SCAN_LIMIT))
    rows = s.execute(q).all()
    if not rows:
        return []
    query = _bigrams(_text(t))
    if not query:
        return []
    scored = process.extract(query, [_bigrams(_text(r)) for r in rows], scorer=fuzz.token_set_ratio,
                             processor=None, score_cutoff=threshold, limit=None)
    return sorted(((rows[i], float(score)) for _, score, i in scored), key=lambda x: -x[1])


def hot_event(s: Session, t: Ticket, now: dt.datetime, scan: Scan | None = None) -> dict | None:
    """A burst of similar tickets in ``t``'s area, or None."""
    since = now - HOT_WINDOW
    if scan is not None and scan.since <= since:
        # The intake's scan covers the last SIMILAR_DAYS: the burst window
        # is the recent end of it (newest first, same limit).
        burst = [(r, score) for r, score in scan.found if r.created_at >= since]
    else:
        burst = similar(s, t, now, since)
    if len(burst) + 1 < HOT_COUNT:
        return None
    first = min([r for r, _ in burst], key=lambda r: r.id)
    area = area_of(t.division_code)
    return {"key": f"hot:{area}:{t.category_id}:{first.id}", "area": area, "count": len(burst) + 1,
            "ticket_ids": sorted([r.id for r, _ in burst] + [t.id]),
            "reason": f"{len(burst) + 1} 件相似诉求集中出现（{t.subject or _text(t)[:20]}）"}
