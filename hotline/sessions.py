"""Console sessions kept on the server, in the database in every
configuration (so a Redis outage never breaks login).

The browser's signed cookie carries a random session id; the database holds
its SHA-256 with the user, the address, when it began, when it was last
used and when it must end.  A session is valid while it has not been ended
(logout, deactivation, an administrator), has been used within the idle
timeout (``HOTLINE_SESSION_IDLE_MINUTES``, 30) and is younger than the
absolute lifetime (``HOTLINE_SESSION_MAX_HOURS``, 12).  ``last_seen_at`` is
written at most once a minute, so the idle timeout is exact to a minute.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from models import User, UserSession, utcnow

TOUCH_EVERY = dt.timedelta(seconds=60)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


@dataclass(frozen=True)
class Policy:
    idle: dt.timedelta
    lifetime: dt.timedelta

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        return cls(dt.timedelta(minutes=settings.session_idle_minutes),
                   dt.timedelta(hours=settings.session_max_hours))


def start(s, user: User, policy: Policy, address: str, user_agent: str, now: dt.datetime | None = None
          ) -> tuple[str, UserSession]:
    now = now or utcnow()
    sid = secrets.token_urlsafe(32)
    row = UserSession(sid_hash=_hash(sid), user_id=user.id, created_at=now, last_seen_at=now,
                      expires_at=now + policy.lifetime, address=(address or "")[:64],
                      user_agent=(user_agent or "")[:200])
    s.add(row)
    s.flush()
    return sid, row


def why_invalid(row: UserSession, policy: Policy, now: dt.datetime) -> str | None:
    if row.ended_at is not None:
        return row.end_reason or "ended"
    if not row.user.active:
        return "deactivated"
    if now >= row.expires_at:
        return "expired"
    if now - row.last_seen_at >= policy.idle:
        return "idle"
    return None


def resolve(s, sid: str, policy: Policy, now: dt.datetime | None = None) -> UserSession | None:
    """The live session for a cookie's id (touched), or None.  A session
    found past its idle timeout or lifetime is ended on the spot."""
    if not sid or not isinstance(sid, str) or len(sid) > 100:
        return None
    now = now or utcnow()
    row = s.scalar(select(UserSession).where(UserSession.sid_hash == _hash(sid)))
    if row is None:
        return None
    reason = why_invalid(row, policy, now)
    if reason is not None:
        if row.ended_at is None:
            row.ended_at, row.end_reason = now, reason
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def end(s, session_id: int, reason: str, now: dt.datetime | None = None) -> bool:
    res = s.execute(update(UserSession).where(UserSession.id == session_id, UserSession.ended_at.is_(None))
                    .values(ended_at=now or utcnow(), end_reason=reason))
    return res.rowcount > 0


def end_all(s, user_id: int, reason: str, now: dt.datetime | None = None) -> int:
    """Every open session of a user (deactivation, password change)."""
    res = s.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
                    .values(ended_at=now or utcnow(), end_reason=reason))
    return res.rowcount


def open_sessions(s, user_id: int, policy: Policy, now: dt.datetime | None = None) -> list[UserSession]:
    now = now or utcnow()
    rows = s.scalars(select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
                     .order_by(UserSession.last_seen_at.desc())).all()
    return [r for r in rows if why_invalid(r, policy, now) is None]


def session_json(r: UserSession, current_id: int | None = None) -> dict:
    return {"id": r.id, "created_at": r.created_at.isoformat(), "last_seen_at": r.last_seen_at.isoformat(),
            "expires_at": r.expires_at.isoformat(), "address": r.address, "user_agent": r.user_agent,
            "ended_at": r.ended_at.isoformat() if r.ended_at else None, "end_reason": r.end_reason,
            "current": r.id == current_id}
