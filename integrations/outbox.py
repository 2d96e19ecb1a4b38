"""Delivery of the outbox: every message to a peer, exactly once as far as
the peer can tell.

An ``OutboxMessage`` row is written in the transaction of the ticket change
that caused it (``add``); after commit ``schedule`` enqueues ``deliver`` on
the outbox queue.  Nothing depends on that job surviving: ``sweep`` (a
periodic job, listed in hotline/wiring.py) re-enqueues every pending row that is due, so
a lost rq job, a worker killed mid-delivery or Redis down at commit time
only delays a message.

Claiming a row is one compare-and-set UPDATE (``state = 'pending' AND
next_attempt_at <= now AND attempts = <read>``) that bumps ``attempts`` and
pushes ``next_attempt_at`` a lease into the future: of two workers handed
the same row exactly one wins, without holding a database lock across the
HTTP call.  A worker that dies mid-delivery leaves the lease to expire; the
sweep then hands the row to another worker.  The result is written back
only if ``attempts`` is still the claimed one (a fencing token), so a
straggler can never overwrite a newer attempt.  The receiver gets the row's
``idempotency_key`` as ``Idempotency-Key`` (and as the signed message id)
and drops the duplicates that retries of unanswered requests cause.

What an attempt's outcome means:

- 2xx, or 409 (the peer already has it): delivered.
- the peer did not answer within the read timeout: it may well have the
  message.  The retry carries the same key and waits twice as long for the
  answer (up to ``max_read_timeout``), so a slow peer is not flooded with
  copies it cannot answer in time; and the peer's own acknowledgement (its
  feedback webhook, ``acknowledged``) marks the message delivered whatever
  the sender saw.
- 5xx, 408, 425, 429, refused or dropped connections: retried after an
  exponential backoff with jitter.
- any other 4xx: the peer refused the message itself; dead at once
  (``dead_reason = 'refused'``), for a coordinator to look at.
- ``max_attempts`` failures: dead (``'exhausted'``), except to a critical
  peer (110 first, ``HOTLINE_OUTBOX_CRITICAL_PEERS``), which is retried
  until delivered with its backoff capped at ``critical_max_delay``.

When a peer answers again (a delivery succeeds, its acknowledgement
arrives, or the periodic health probe gets an answer) everything waiting
for it is re-driven at once, oldest first: rows waiting in backoff and rows
dead from exhaustion.  Coordinators see every undelivered message live
(``outbox.changed`` events, ``undelivered``) with its age since the first
failure.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import uuid
from dataclasses import dataclass, replace
from typing import Callable

import requests
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from dispatch import events
from runtime import jobs
from runtime.settings import parse_int
from integrations import peers, signing
from models import Database, OutboxMessage, Ticket, utcnow

log = logging.getLogger(__name__)
RETRYABLE_4XX = {408, 425, 429}


def _csv(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return default
    return tuple(x.strip() for x in raw.split(",") if x.strip())


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 8
    base_delay: float = 10.0        # seconds before the 2nd attempt; doubles each time
    max_delay: float = 3600.0
    connect_timeout: float = 3.05
    read_timeout: float = 10.0      # the first attempt's; doubles after each unanswered one
    max_read_timeout: float = 80.0
    lease: float = 45.0             # > connect + read timeout: a live worker is done by then
    sweep_every: int = 30
    critical_peers: tuple[str, ...] = ("police110",)
    critical_max_delay: float = 60.0
    probe_every: int = 15

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Policy":
        env = dict(os.environ if env is None else env)
        p = cls()

        def num(name, default, lo, hi):
            return parse_int(name, env.get(name), default, lo, hi)

        base_ms = num("HOTLINE_OUTBOX_BASE_DELAY_MS", int(p.base_delay * 1000), 1, 3_600_000)
        read = num("HOTLINE_OUTBOX_READ_TIMEOUT", int(p.read_timeout), 1, 300)
        return replace(
            p,
            max_attempts=num("HOTLINE_OUTBOX_MAX_ATTEMPTS", p.max_attempts, 1, 100),
            base_delay=base_ms / 1000.0,
            max_delay=float(num("HOTLINE_OUTBOX_MAX_DELAY_SECONDS", int(p.max_delay), 1, 86_400)),
            read_timeout=float(read),
            max_read_timeout=float(max(read, num("HOTLINE_OUTBOX_MAX_READ_TIMEOUT", int(p.max_read_timeout),
                                                 1, 600))),
            lease=float(num("HOTLINE_OUTBOX_LEASE_SECONDS", int(read + p.connect_timeout + 30), 1, 3600)),
            sweep_every=num("HOTLINE_OUTBOX_SWEEP_SECONDS", p.sweep_every, 1, 3600),
            critical_peers=_csv(env.get("HOTLINE_OUTBOX_CRITICAL_PEERS"), p.critical_peers),
            critical_max_delay=float(num("HOTLINE_OUTBOX_CRITICAL_MAX_DELAY_SECONDS", int(p.critical_max_delay),
                                         1, 3600)),
            probe_every=num("HOTLINE_OUTBOX_PROBE_SECONDS", p.probe_every, 1, 3600),
        )

    def read_timeout_for(self, timeouts: int) -> float:
        """The read timeout after ``timeouts`` unanswered attempts."""
        return min(self.max_read_timeout, self.read_timeout * (2 ** max(0, timeouts)))

    def lease_for(self, timeouts: int) -> float:
        """The lease covers the longer wait for an answer."""
        return self.lease + self.read_timeout_for(timeouts) - self.read_timeout

    def critical(self, peer: str) -> bool:
        return peer in self.critical_peers


_policy: dict[str, Policy] = {}


def policy() -> Policy:
    if "p" not in _policy:
        _policy["p"] = Policy.from_env()
    return _policy["p"]


def set_policy(p: Policy | None) -> None:
    """Tests: use ``p`` (None: read the environment again)."""
    _policy.clear()
    if p is not None:
        _policy["p"] = p


def backoff(attempts: int, pol: Policy, rng: Callable[[], float] = random.random, critical: bool = False) -> float:
    """Seconds to wait after the ``attempts``-th failure: the exponential
    delay with "equal jitter" (half fixed, half random), so a crowd of
    messages failed together does not retry together.  A critical peer's
    delay is capped lower: it is retried until delivered."""
    cap = min(pol.max_delay, pol.critical_max_delay) if critical else pol.max_delay
    d = min(cap, pol.base_delay * (2 ** min(max(0, attempts - 1), 40)))
    return d / 2 + rng() * d / 2


# ------------------------------------------------------------------ writing
def add(session: Session, peer: str, kind: str, payload: dict, ticket_id: int | None = None,
        key: str | None = None, after_commit: list | None = None) -> OutboxMessage:
    """Write a message in ``session``'s transaction; with ``after_commit``
    (a hook's list) it is enqueued once the transaction commits."""
    row = OutboxMessage(peer=peer, kind=kind, payload=payload, ticket_id=ticket_id,
                        idempotency_key=key or f"{peer}.{kind}.{uuid.uuid4().hex}",
                        state="pending", attempts=0, next_attempt_at=utcnow())
    session.add(row)
    session.flush()
    if after_commit is not None:
        mid = row.id
        after_commit.append(lambda: schedule(mid))
    return row


def schedule(message_id: int) -> None:
    jobs.enqueue(deliver, message_id, queue=jobs.QUEUE_OUTBOX)


# What to do once a message of a kind is delivered / dead-lettered
# (record the peer's acknowledgement on the ticket, flag the board …): each
# peer lists its follow-ups and the composition root (hotline/wiring.py)
# installs them in every process with ``set_follow_ups``.
Handler = Callable[[dict, dict], None]
_follow_ups: dict[str, dict[str, Handler]] = {"sent": {}, "dead": {}, "redriven": {}}


def set_follow_ups(delivered: dict[str, Handler], dead: dict[str, Handler],
                   redriven: dict[str, Handler] | None = None) -> None:
    """``redriven``: a dead message of that kind is pending again because its
    peer answers (its linkage leaves ``failed``)."""
    _follow_ups["sent"], _follow_ups["dead"] = dict(delivered), dict(dead)
    _follow_ups["redriven"] = dict(redriven or {})


# ------------------------------------------------------------------ delivery
def _job_tag() -> str:
    try:
        from rq import get_current_job

        job = get_current_job()
        return f"job={job.id}" if job else "job=inline"
    except Exception:
        return "job=?"


def _claim(db: Database, message_id: int, pol: Policy) -> dict | None:
    now = utcnow()
    with db.session() as s:
        m = s.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        if m is None or m.state != "pending" or m.next_attempt_at > now:
            return None
        seen_attempts, timeouts = m.attempts, m.timeouts
        res = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == "pending",
                   OutboxMessage.attempts == seen_attempts, OutboxMessage.next_attempt_at <= now)
            .values(attempts=seen_attempts + 1, claimed_at=now,
                    next_attempt_at=now + dt.timedelta(seconds=pol.lease_for(timeouts)))
            .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            return None
        return {"id": m.id, "peer": m.peer, "kind": m.kind, "payload": m.payload, "key": m.idempotency_key,
                "attempts": seen_attempts + 1, "ticket_id": m.ticket_id, "timeouts": timeouts,
                "first_failed_at": m.first_failed_at}


def _post(msg: dict, pol: Policy) -> tuple[str, int | None, dict, str]:
    """(outcome, status, response, error) with outcome sent | timeout (no
    answer in time: the peer may have it) | retry | refused."""
    body = json.dumps({"message_id": msg["key"], "kind": msg["kind"], "payload": msg["payload"]},
                      ensure_ascii=False, sort_keys=True).encode()
    try:
        url = peers.messages_url(msg["peer"])
    except peers.PeerNotConfigured as e:
        return "retry", None, {}, str(e)
    secret = signing.secret_for(msg["peer"])
    if secret is None:
        return "retry", None, {}, f"no secret for peer {msg['peer']} (HOTLINE_WEBHOOK_SECRET_{msg['peer'].upper()})"
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": msg["key"],
               "X-Hotline-Kind": msg["kind"], **signing.signed_headers(secret, body, msg["key"])}
    read = pol.read_timeout_for(msg.get("timeouts", 0))
    try:
        r = requests.post(url, data=body, headers=headers, timeout=(pol.connect_timeout, read))
    except requests.ReadTimeout:
        return "timeout", None, {}, f"no answer within {read:g} s (the peer may have it)"
    except requests.RequestException as e:
        return "retry", None, {}, f"{type(e).__name__}: {str(e)[:300]}"
    try:
        resp = r.json()
        resp = resp if isinstance(resp, dict) else {"body": resp}
    except ValueError:
        resp = {"text": r.text[:500]}
    if 200 <= r.status_code < 300 or r.status_code == 409:
        return "sent", r.status_code, resp, ""
    err = f"HTTP {r.status_code}: {r.text[:300]}"
    if 400 <= r.status_code < 500 and r.status_code not in RETRYABLE_4XX:
        return "refused", r.status_code, resp, err
    return "retry", r.status_code, resp, err


def deliver(message_id: int, db: Database | None = None) -> str:
    """Try to deliver one message.  Returns sent, retry, timeout, dead or
    skipped (not due, not pending, or claimed by another worker)."""
    db = db or jobs.database()
    pol = policy()
    msg = _claim(db, message_id, pol)
    if msg is None:
        log.info("outbox %s: %s not due or claimed elsewhere; skipped", _job_tag(), message_id)
        return "skipped"
    outcome, status, resp, err = _post(msg, pol)
    timed_out = outcome == "timeout"
    now = utcnow()
    critical = pol.critical(msg["peer"])
    failed_since = msg["first_failed_at"] or now
    values: dict = {"claimed_at": None}
    if outcome == "sent":
        values.update(state="sent", sent_at=now, response=resp, last_error="")
    elif outcome == "refused":
        outcome = "dead"
        values.update(state="dead", dead_reason="refused", last_error=err, response=resp,
                      first_failed_at=failed_since)
    elif msg["attempts"] >= pol.max_attempts and not critical:
        outcome = "dead"
        values.update(state="dead", dead_reason="exhausted", last_error=err, response=resp,
                      first_failed_at=failed_since, timeouts=msg["timeouts"] + timed_out)
    else:
        values.update(next_attempt_at=now + dt.timedelta(seconds=backoff(msg["attempts"], pol, critical=critical)),
                      last_error=err, first_failed_at=failed_since,
                      timeouts=msg["timeouts"] + timed_out)
    with db.session() as s:
        res = s.execute(update(OutboxMessage)
                        .where(OutboxMessage.id == msg["id"], OutboxMessage.attempts == msg["attempts"],
                               OutboxMessage.state == "pending")
                        .values(**values).execution_options(synchronize_session=False))
        fenced = res.rowcount != 1
    if fenced:
        log.warning("outbox %s: %s attempt %s (%s) not recorded: the row was delivered by its acknowledgement "
                    "or its lease was taken over", _job_tag(), msg["id"], msg["attempts"], outcome)
        if outcome == "sent":
            # The peer's acknowledgement overtook this answer: what the answer
            # carries (110's incident number …) still goes on the ticket; the
            # follow-ups are idempotent.
            _follow_up(_follow_ups["sent"], msg, resp, outcome)
        return "skipped"
    log_fn = log.info if outcome == "sent" else log.warning
    log_fn("outbox %s: %s %s→%s attempt %s: %s %s %s", _job_tag(), msg["id"], msg["kind"], msg["peer"],
           msg["attempts"], outcome, status if status is not None else "", err)
    if msg["first_failed_at"] is None and outcome != "sent" or msg["first_failed_at"] is not None and \
            outcome in ("sent", "dead"):
        # The board hears of the first failure and of the end (delivered or
        # dead), not of every retry in between.
        _announce(db, [msg["id"]])
    if outcome in ("sent", "dead"):
        _follow_up(_follow_ups[outcome], msg,
                   resp if outcome == "sent" else {"error": err, "status": status}, outcome)
    if outcome == "sent":
        redrive(db, msg["peer"], why=f"message {msg['id']} delivered")
    return outcome


def _follow_up(handlers: dict[str, Handler], msg: dict, info: dict, outcome: str) -> None:
    handler = handlers.get(msg["kind"])
    if handler:
        try:
            handler(msg, info)
        except Exception:
            # The delivery itself is recorded; the follow-up is logged for a person.
            log.exception("outbox %s: follow-up of %s (%s) failed", _job_tag(), msg["id"], outcome)


# ------------------------------------------------------------------ the peer answered
def acknowledged(s: Session, peer: str, ticket_id: int, kinds: tuple[str, ...],
                 after_commit: list | None = None) -> list[int]:
    """The peer has acknowledged what it was sent about ``ticket_id`` (its
    feedback or status webhook arrived), in ``s``'s transaction: the
    messages of ``kinds`` still pending or dead are delivered, whatever
    their last attempt saw.  After commit the board is told and whatever
    else waits for the peer is re-driven."""
    now = utcnow()
    ids = list(s.scalars(select(OutboxMessage.id).where(
        OutboxMessage.peer == peer, OutboxMessage.ticket_id == ticket_id, OutboxMessage.kind.in_(kinds),
        OutboxMessage.state.in_(("pending", "dead")))))
    if not ids:
        return []
    s.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.state.in_(("pending", "dead")))
              .values(state="sent", sent_at=now, claimed_at=None, dead_reason="", last_error="",
                      response={"acknowledged_by": "peer_webhook"})
              .execution_options(synchronize_session=False))
    log.info("outbox: %s acknowledged message(s) %s for ticket %s: delivered", peer, ids, ticket_id)
    if after_commit is not None:
        def later(db=None):
            db = db or jobs.database()
            _announce(db, ids)
            redrive(db, peer, why=f"{peer} acknowledged ticket {ticket_id}")
        after_commit.append(later)
    return ids


def _waiting_clause(peer: str, now: dt.datetime):
    """Rows that wait for ``peer`` to answer again: failed and waiting in
    backoff (not in flight), or dead from exhaustion."""
    return and_(OutboxMessage.peer == peer, or_(
        and_(OutboxMessage.state == "pending", OutboxMessage.first_failed_at.is_not(None),
             OutboxMessage.claimed_at.is_(None), OutboxMessage.next_attempt_at > now),
        and_(OutboxMessage.state == "dead", OutboxMessage.dead_reason == "exhausted")))


def redrive(db: Database, peer: str, why: str = "") -> list[int]:
    """``peer`` answers again: everything waiting for it is due now and
    enqueued, oldest first (dead-from-exhaustion rows come back with fresh
    attempts).  Returns the ids."""
    now = utcnow()
    with db.session() as s:
        rows = s.execute(select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.kind, OutboxMessage.ticket_id)
                         .where(_waiting_clause(peer, now))
                         .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        s.execute(update(OutboxMessage)
                  .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "pending",
                         OutboxMessage.claimed_at.is_(None))
                  .values(next_attempt_at=now).execution_options(synchronize_session=False))
        s.execute(update(OutboxMessage)
                  .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "dead",
                         OutboxMessage.dead_reason == "exhausted")
                  .values(state="pending", attempts=0, next_attempt_at=now, dead_reason="")
                  .execution_options(synchronize_session=False))
    revived = [r for r in rows if r.state == "dead"]
    log.info("outbox: %s answers again (%s): re-driving %d waiting message(s), %d of them dead", peer, why,
             len(ids), len(revived))
    for r in revived:
        fn = _follow_ups["redriven"].get(r.kind)
        if fn:
            try:
                fn({"id": r.id, "peer": peer, "kind": r.kind, "ticket_id": r.ticket_id}, {"why": why})
            except Exception:
                log.exception("outbox: re-drive follow-up of %s failed", r.id)
    _announce(db, ids)
    for mid in ids:
        schedule(mid)
    return ids


def peer_answers(peer: str, pol: Policy | None = None) -> bool:
    """The health probe: does ``peer`` answer HTTP at all?  Any answer below
    500 counts (a 404 from a peer without a health page still means it is
    up); a 5xx, a refused connection or silence does not."""
    pol = pol or policy()
    try:
        url = peers.health_url(peer)
    except peers.PeerNotConfigured:
        return False
    try:
        r = requests.get(url, timeout=(pol.connect_timeout, min(5.0, pol.read_timeout)))
    except requests.RequestException:
        return False
    return r.status_code < 500


def probe(db: Database | None = None) -> dict[str, int]:
    """Periodic: for each peer with messages waiting for it, ask whether it
    answers again; if so, re-drive them.  Returns {peer: re-driven count}."""
    db = db or jobs.database()
    now = utcnow()
    with db.session() as s:
        waiting = set(s.scalars(select(OutboxMessage.peer).distinct().where(or_(
            and_(OutboxMessage.state == "pending", OutboxMessage.first_failed_at.is_not(None),
                 OutboxMessage.claimed_at.is_(None), OutboxMessage.next_attempt_at > now),
            and_(OutboxMessage.state == "dead", OutboxMessage.dead_reason == "exhausted")))))
    out = {}
    for peer in sorted(waiting):
        if peer_answers(peer):
            out[peer] = len(redrive(db, peer, why="health probe answered"))
    return out


# ------------------------------------------------------------------ coordinators' view
def message_json(m: OutboxMessage, t: Ticket | None = None, now: dt.datetime | None = None) -> dict:
    now = now or utcnow()
    undelivered = m.state == "dead" or (m.state == "pending" and m.first_failed_at is not None)
    return {"id": m.id, "peer": m.peer, "kind": m.kind, "ticket_id": m.ticket_id, "state": m.state,
            "attempts": m.attempts, "timeouts": m.timeouts, "idempotency_key": m.idempotency_key,
            "last_error": m.last_error, "dead_reason": m.dead_reason, "critical": policy().critical(m.peer),
            "undelivered": undelivered,
            "next_attempt_at": m.next_attempt_at.isoformat() if m.next_attempt_at else None,
            "created_at": m.created_at.isoformat() if m.created_at else None,
            "first_failed_at": m.first_failed_at.isoformat() if m.first_failed_at else None,
            "failing_seconds": (round((now - m.first_failed_at).total_seconds())
                                if undelivered and m.first_failed_at else None),
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "ticket": ({"number": t.number, "subject": t.subject or t.description[:40], "urgency": t.urgency}
                       if t is not None else None)}


def undelivered_query():
    """Messages that failed and are not delivered yet (retrying or dead),
    critical peers first, then the longest failing."""
    return (select(OutboxMessage, Ticket).outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
            .where(or_(OutboxMessage.state == "dead",
                       and_(OutboxMessage.state == "pending", OutboxMessage.first_failed_at.is_not(None))))
            .order_by(OutboxMessage.first_failed_at, OutboxMessage.id))


def _announce(db: Database, ids: list[int]) -> None:
    """Tell the coordinators' boards about these messages (after commit)."""
    if not ids:
        return
    try:
        with db.session() as s:
            rows = s.execute(select(OutboxMessage, Ticket).outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
                             .where(OutboxMessage.id.in_(ids))).all()
            out = [(message_json(m, t), t.platform_id if t is not None else None) for m, t in rows]
    except Exception:
        log.exception("outbox: could not read messages %s for the board", ids)
        return
    for payload, platform_id in out:
        rooms = ["platform:all"] + ([f"unit:{platform_id}"] if platform_id else [])
        events.publish("outbox.changed", payload, rooms)


# ------------------------------------------------------------------ safety net
def due_ids(db: Database, limit: int = 500) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage.id)
                              .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= utcnow())
                              .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)))


def sweep(db: Database | None = None) -> int:
    """Enqueue every pending message that is due (periodic).  Enqueuing a
    row twice is harmless: the claim lets one delivery through."""
    db = db or jobs.database()
    ids = due_ids(db)
    for mid in ids:
        schedule(mid)
    if ids:
        log.info("outbox sweep %s: re-enqueued %d due message(s)", _job_tag(), len(ids))
    return len(ids)


def retry_dead(db: Database, message_id: int) -> bool:
    """A coordinator's retry: a dead message becomes pending with fresh
    attempts and is enqueued.  False if it is not dead."""
    with db.session() as s:
        res = s.execute(update(OutboxMessage)
                        .where(OutboxMessage.id == message_id, OutboxMessage.state == "dead")
                        .values(state="pending", attempts=0, next_attempt_at=utcnow(), dead_reason="",
                                claimed_at=None)
                        .execution_options(synchronize_session=False))
        ok = res.rowcount == 1
    if ok:
        _announce(db, [message_id])
        schedule(message_id)
    return ok
