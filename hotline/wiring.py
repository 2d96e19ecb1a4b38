"""The composition root: the one place that wires the service.

Every entry point calls ``boot``: the web app (``create_app``), the worker
(``python -m hotline worker``) and the CLI (``python -m hotline …``).  It
builds the one ``TicketService`` of the process, hands it every hook and
every action an adapter carries out, installs the peers' outbox follow-ups,
and tells the job functions which database and service to use.  The list of
periodic jobs lives here too.  Nothing registers itself by being imported,
so a new entry point that calls ``boot`` gets exactly what the others have,
and one that does not gets a loud error (``jobs.tickets()``), never a
service that silently skips a hook.

To add a hook, a peer or a periodic job, add it to ``HOOKS``, ``peers()``
or ``periodic_jobs()`` below (docs/architecture.md).  No Flask here.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

from classifier.jobs import nightly_retrain
from classifier.unit_jobs import nightly_retrain_units
from dispatch import figures, sweeps
from runtime import jobs
from dispatch.hooks import Hook
from runtime.periodic import PeriodicJob
from dispatch.tickets import TicketService
from integrations import emergency, governance, outbox, police110, telephony
from models import Database
from runtime.settings import Settings

log = logging.getLogger(__name__)

# Run in this order for every event, inside its transaction (after what a
# peer's message adds to its own change: linkage.inbound).
HOOKS: tuple[Hook, ...] = (
    telephony.link_call,
    police110.on_ticket_event,
    governance.on_ticket_event,
    emergency.on_ticket_event,
)


@dataclass(frozen=True)
class Peer:
    """A system outside the hotline: its signed webhook (``/webhooks/<name>``),
    the workflow actions it carries out, and what follows the delivery of
    each kind of outbox message to it."""
    name: str
    handle_webhook: Callable
    actions: Mapping[str, Callable] = field(default_factory=dict)
    delivered: Mapping[str, Callable] = field(default_factory=dict)
    dead: Mapping[str, Callable] = field(default_factory=dict)
    # A dead message re-driven because the peer answers again.
    redriven: Mapping[str, Callable] = field(default_factory=dict)

    def describe(self) -> dict:
        return {"webhook": _name(self.handle_webhook), "actions": sorted(self.actions),
                "delivered": sorted(self.delivered), "dead": sorted(self.dead),
                "redriven": sorted(self.redriven)}


def peers() -> tuple[Peer, ...]:
    return (
        Peer("police110", police110.handle_webhook, actions={"transfer_to_110": police110.transfer_to_110},
             delivered=police110.DELIVERED, dead=police110.DEAD, redriven=police110.REDRIVEN),
        Peer("governance", governance.handle_webhook,
             actions={"push_to_governance": governance.push_to_governance},
             delivered=governance.DELIVERED, dead=governance.DEAD, redriven=governance.REDRIVEN),
        Peer("telephony", telephony.handle_webhook),
    )


def periodic_jobs() -> tuple[PeriodicJob, ...]:
    """Every periodic job, with its interval (or cron) and timeout.  The
    interval jobs are safety nets for work also enqueued precisely."""
    return (
        PeriodicJob("sla_sweep", sweeps.sweep, every=sweeps.SWEEP_EVERY_S, timeout=300, queue=jobs.QUEUE_SLA),
        PeriodicJob("outbox-sweep", outbox.sweep, every=outbox.policy().sweep_every, timeout=120,
                    queue=jobs.QUEUE_OUTBOX),
        # Does a peer with messages waiting for it answer again?  Then they
        # are re-driven at once, oldest first.
        PeriodicJob("outbox-probe", outbox.probe, every=outbox.policy().probe_every, timeout=120,
                    queue=jobs.QUEUE_OUTBOX),
        PeriodicJob("figures-ledger", figures.refresh_ledger_job, every=300, timeout=600),
        # 110 hand-overs not acknowledged in time alarm the coordinators.
        PeriodicJob("emergency-ack-sweep", emergency.sweep, every=20, timeout=60),
        # Nightly retraining from people's corrections, at 03:00 Beijing time
        # (19:00 UTC), only with Redis: admins retrain on demand otherwise.
        PeriodicJob("classifier-nightly-retrain", nightly_retrain, cron="0 19 * * *", timeout=3600,
                    queue=jobs.QUEUE_TRAINING, in_process=False),
        # ... and the unit router from confirmed history and upheld returns,
        # an hour later (the two share the training queue and its one worker).
        PeriodicJob("unit-router-nightly-retrain", nightly_retrain_units, cron="0 20 * * *", timeout=3600,
                    queue=jobs.QUEUE_TRAINING, in_process=False),
    )


@dataclass(frozen=True)
class Runtime:
    """What a process runs with."""
    settings: Settings
    db: Database
    tickets: TicketService
    hooks: tuple[Hook, ...]
    peers: Mapping[str, Peer]
    periodic: tuple[PeriodicJob, ...]

    def describe(self) -> dict:
        """The wiring as JSON (logged at start; compared across entry points)."""
        return {"hooks": [_name(h) for h in self.hooks],
                "actions": sorted(self.tickets.handlers),
                "peers": {name: p.describe() for name, p in sorted(self.peers.items())},
                "periodic": [j.describe() for j in self.periodic]}


def build(settings: Settings, db: Database | None = None, predictor: Callable | None = None,
          clock: Callable | None = None) -> Runtime:
    """The runtime for ``settings``, without touching process-wide state
    (``boot`` installs it).  ``predictor`` and ``clock`` are for tests."""
    db = db or Database(settings.database_url)
    ps = peers()
    handlers: dict[str, Callable] = {}
    for p in ps:
        handlers.update(p.actions)
    opts = {k: v for k, v in (("predictor", predictor), ("clock", clock)) if v is not None}
    svc = TicketService(db, hooks=HOOKS, handlers=handlers, schedule_timer=sweeps.schedule, **opts)
    return Runtime(settings, db, svc, HOOKS, {p.name: p for p in ps}, periodic_jobs())


def install(rt: Runtime) -> Runtime:
    """Make ``rt`` the process's: job functions (rq or inline) use its
    database and service, and the outbox its peers' follow-ups."""
    jobs.configure(rt.settings.redis_url, rt.db, rt.tickets)
    delivered: dict[str, Callable] = {}
    dead: dict[str, Callable] = {}
    redriven: dict[str, Callable] = {}
    for p in rt.peers.values():
        delivered.update(p.delivered)
        dead.update(p.dead)
        redriven.update(p.redriven)
    outbox.set_follow_ups(delivered, dead, redriven)
    return rt


def boot(settings: Settings, db: Database | None = None) -> Runtime:
    """Build and install the runtime; every entry point calls this once."""
    rt = install(build(settings, db))
    log.info("wiring %s", json.dumps(rt.describe(), ensure_ascii=False, sort_keys=True))
    return rt


def _name(fn: Callable) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
