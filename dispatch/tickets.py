"""The only writer of tickets: ``TicketService``.

``act`` is the engine every change goes through: it locks the ticket row
(and checks the optimistic version), validates the transition against
``dispatch.workflow``, runs the action's handler (dispatch.actions, or an
adapter's handler given by the composition root) on a ``Change``, writes
the event, runs every hook, commits, then publishes the notices and runs
the after-commit steps (enqueue deliveries, time the SLA clocks through
the injected timer scheduler).  Intake is dispatch.intake, the SLA clocks
dispatch.clock_keeping.  Nothing here reads Flask's request.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from dispatch import clock_keeping, clocks, intake, sweeps
from dispatch import search  # noqa: F401  (its mapper events keep every ticket's search words in step)
from dispatch.access import Actor, can_see
from dispatch.actions import HANDLERS
from dispatch.change import Change, Hook, holder, publish_after_commit, state_of, ticket_notices, write_event
from dispatch.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from dispatch.intake import IntakeData, Suggestion
from dispatch.workflow import transition
from models import Assignment, Database, Ticket, TicketEvent, Unit, utcnow

log = logging.getLogger(__name__)

# Called after commit for each warning and due of a clock a change started
# or moved (clock id, moment): dispatch.sweeps.schedule enqueues a job then.
TimerScheduler = Callable[[int, dt.datetime], None]
# Runs inside the change's transaction right after its event is written,
# before the hooks (a peer's message adds its own rows: integrations/linkage.py).
WithChange = Callable[[Change, TicketEvent], None]


class NotWired(DomainError):
    """An action whose handler this process was not given (e.g. 转110 in a
    process built without the 110 adapter): refused, never silently recorded."""
    status, code = 503, "action_not_wired"


class TicketService:
    """Built once per process by the composition root (hotline/wiring.py),
    which hands it every hook, every action handler the adapters carry out
    (``handlers``: action name -> handler taking the change) and the timer
    scheduler."""

    def __init__(self, db: Database, predictor: Callable[[], Any] = intake.default_predictor,
                 clock: Callable[[], dt.datetime] = utcnow, hooks: Iterable[Hook] = (),
                 handlers: Mapping[str, Callable] | None = None,
                 unit_router: Callable[[], Any] | None | str = "auto",
                 schedule_timer: TimerScheduler = sweeps.schedule):
        self.db = db
        self.predictor = predictor
        self.clock = clock
        self.hooks: tuple[Hook, ...] = tuple(hooks)
        self.handlers: dict[str, Callable] = dict(handlers or {})
        self.schedule_timer = schedule_timer
        # The unit router decides the unit; a service built with its own
        # topic predictor (tests) routes by topic and catalogue only unless
        # given a router too.
        if unit_router == "auto":
            unit_router = intake.default_unit_router if predictor is intake.default_predictor else None
        self.unit_router = unit_router

    def handler_for(self, action: str) -> Callable | None:
        return self.handlers.get(action) or HANDLERS.get(action)

    # ------------------------------------------------------------ intake
    def suggest(self, session: Session, platform: Unit, description: str, subject: str = "",
                address: str = "", category: str | None = None) -> Suggestion:
        return intake.suggest(self, session, platform, description, subject, address, category)

    def create_ticket(self, actor: Actor, data: IntakeData, idempotency_key: str | None = None,
                      with_change: WithChange | None = None) -> tuple[Ticket, bool]:
        """Accept a ticket and, when the route is sure, dispatch it.
        Returns (ticket, created); a repeated Idempotency-Key returns the
        first ticket with created=False."""
        return intake.create_ticket(self, actor, data, idempotency_key, with_change)

    # ------------------------------------------------------------ the engine
    def act(self, actor: Actor, ticket_id: int, action: str, params: dict | None = None,
            expected_version: int | None = None, with_change: WithChange | None = None) -> Ticket:
        tr = transition(action)
        if tr is None:
            raise NotFound(f"未知操作 {action}", {"action": "unknown action"}, code="unknown_action")
        handler = self.handler_for(action)
        if handler is None and not tr.record_only:
            raise NotWired(f"“{tr.label}”在本进程未接入，操作未执行", {"action": "no handler wired"})
        params = dict(params or {})
        now = self.clock()
        try:
            with self.db.session() as s:
                clocks.sync(s)
                t = s.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update(of=Ticket))
                if t is None or not (can_see(actor, t) or _assists(s, actor, t)):
                    raise NotFound("工单不存在或无权查看")
                if actor.role not in tr.roles:
                    raise Forbidden(f"角色 {actor.role} 不能执行 {tr.label}", code="role_not_allowed")
                if tr.unit_scoped and not actor.on_platform and t.responsible_unit_id != actor.unit_id:
                    raise Forbidden("协办单位只能提交协办意见", code="not_the_lead_unit")
                if expected_version is not None and t.version != expected_version:
                    raise Conflict("工单已被他人修改，请刷新", code="stale_version", current=state_of(t))
                if t.status not in tr.sources:
                    raise Conflict(f"当前状态“{t.status}”不能执行“{tr.label}”", code="transition_refused",
                                   current=state_of(t))
                missing = {f: "必填 / required" for f in tr.required if params.get(f) in (None, "", [])}
                if missing:
                    raise Invalid("缺少必填字段", missing, code="missing_fields")
                from_status, charged = t.status, holder(t)
                c = Change(s, actor, t, params, now)
                payload = handler(c) if handler else {}
                if tr.target:
                    t.status = tr.target
                t.updated_at = now
                ev = write_event(s, t, actor, action, from_status, t.status, now,
                                 reason=str(params.get("reason") or ""), payload=payload or {}, charged=charged)
                s.flush()
                if with_change is not None:
                    with_change(c, ev)
                self.run_hooks(c, ev)
                for other, oev in c.events:
                    self.run_hooks(c.on(other), oev)
                s.flush()
                notices = ticket_notices(t, [ev]) + c.notices
                for other in {o.id: o for o, _ in c.events if o.id != t.id}.values():
                    notices += ticket_notices(other, [e for o, e in c.events if o.id == other.id])
                self.time_clocks(c)
            publish_after_commit(notices, c.after_commit)
            return t
        except StaleDataError:
            with self.db.session() as s:
                t = s.get(Ticket, ticket_id)
                raise Conflict("工单已被他人修改，请刷新", code="stale_version", current=state_of(t) if t else None)
        except OperationalError as e:
            # Two merges locking the same pair of tickets in opposite order:
            # PostgreSQL breaks the deadlock by failing one; it is a conflict.
            if "deadlock" not in str(e).lower():
                raise
            with self.db.session() as s:
                t = s.get(Ticket, ticket_id)
                raise Conflict("工单正被他人处理，请刷新", code="stale_version",
                               current=state_of(t) if t else None) from None

    def run_hooks(self, c: Change, ev: TicketEvent) -> None:
        for fn in self.hooks:
            fn(c, ev)

    def time_clocks(self, c: Change) -> None:
        """After commit: the timer scheduler gets each warning and due of the
        clocks the change started or moved."""
        c.after_commit += [lambda cid=cid, at=at: self.schedule_timer(cid, at)
                           for cid, at in clock_keeping.timers(c)]


def _assists(s: Session, actor: Actor, t: Ticket) -> bool:
    """Is ``actor``'s unit assisting (协办) on ``t``? It sees the ticket then."""
    if actor.on_platform:
        return False
    return s.scalar(select(Assignment.id).where(Assignment.ticket_id == t.id, Assignment.unit_id == actor.unit_id,
                                                Assignment.role == "assist")) is not None
