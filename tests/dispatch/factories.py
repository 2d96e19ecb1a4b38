"""Plain factories for dispatch tests: tickets put straight into any status,
actors of any role, and a service with a fixed classifier."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select

from dispatch.access import SYSTEM, Actor
from dispatch.tickets import TicketService
from hotline import wiring
from models import Database, Ticket, Unit, User, utcnow
from runtime.settings import Settings


class FixedPredictor:
    """Always the same answer, confident unless told otherwise."""

    def __init__(self, label: str = "劳动和社会保障", confidence: float = 0.9):
        self.label, self.confidence = label, confidence

    def predict(self, description: str, subject: str = ""):
        return SimpleNamespace(label=self.label, confidence=self.confidence, abstain=self.confidence < 0.5,
                               top=[(self.label, self.confidence)], explain=[], model_version="fixed")


def settings(db: Database, redis_url: str | None = None) -> Settings:
    return Settings(database_url=db.url, redis_url=redis_url, secret_key="test-secret-key-0123456789")


def runtime(db: Database, label: str = "劳动和社会保障", confidence: float = 0.9,
            redis_url: str | None = None) -> wiring.Runtime:
    """What the composition root builds for a process, with a fixed classifier."""
    p = FixedPredictor(label, confidence)
    return wiring.build(settings(db, redis_url), db=db, predictor=lambda: p)


def service(db: Database, label: str = "劳动和社会保障", confidence: float = 0.9) -> TicketService:
    """The service as every entry point gets it (all hooks and peer actions)."""
    return runtime(db, label, confidence).tickets


def wire(db: Database, redis_url: str | None = None, **kw) -> TicketService:
    """Install the runtime as an entry point does (job functions use it);
    undo with ``runtime.jobs.reset()``."""
    return wiring.install(runtime(db, redis_url=redis_url, **kw)).tickets


def unit(db: Database, code: str) -> Unit:
    with db.session() as s:
        return s.scalar(select(Unit).where(Unit.code == code))


def user_actor(db: Database, username: str) -> Actor:
    with db.session() as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)))


def role_actor(db: Database, role: str, unit_code: str = "gz12345") -> Actor:
    """An actor of ``role`` on ``unit_code`` (no user row needed)."""
    if role == "system":
        return SYSTEM
    u = unit(db, unit_code)
    return Actor(None, f"{role}@{unit_code}", role, u.id, u.kind, u.path, f"{role}@{unit_code}")


def ticket(db: Database, status: str = "accepted", unit_code: str | None = "gy_rsj",
           platform_code: str = "gy12345", urgency: str = "general", created_at: dt.datetime | None = None,
           **fields) -> int:
    """A ticket put directly into ``status`` (no history, no clocks)."""
    now = created_at or utcnow()
    with db.session() as s:
        platform = s.scalar(select(Unit).where(Unit.code == platform_code))
        u = s.scalar(select(Unit).where(Unit.code == unit_code)) if unit_code and status != "accepted" else None
        t = Ticket(channel="phone", description=fields.pop("description", "小区停水三天无人处理"),
                   subject=fields.pop("subject", "停水"), platform_id=platform.id, status=status, urgency=urgency,
                   responsible_unit_id=u.id if u else None, created_at=now, updated_at=now,
                   dispatched_at=now if u else None, caller_phone=fields.pop("caller_phone", "13800000000"),
                   **fields)
        s.add(t)
        s.flush()
        t.number = f"T{t.id:08d}"
        return t.id


def load(db: Database, ticket_id: int) -> Ticket:
    with db.session() as s:
        return s.get(Ticket, ticket_id)
