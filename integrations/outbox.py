"""Delivery of the outbox: every message to a peer, exactly once as far as
the peer can tell.

An ``OutboxMessage`` row is written in the transaction of the ticket change
that caused it (``add``); after commit ``schedule`` enqueues ``deliver`` on
the outbox queue.  Nothing depends on that job surviving: ``sweep`` (a
periodic job, listed in hotline/wiring.py) re-enqueues every pending row that is due, so
a lost rq job, a worker killed mid-delivery or Redis down at commit time
only delays a message.

Claiming a row is one compare-and-set UPDATE (``state = 'pending' AND
next_attempt_at <= now``) that bumps ``attempts`` and pushes
``next_attempt_at`` a lease into the future: of two workers handed the same
row exactly one wins, without holding a database lock across the HTTP call.
A worker that dies mid-delivery leaves the lease to expire; the sweep then
hands the row to another worker.  The result is written back only if
``attempts`` is still the claimed one (a fencing token), so a straggler can
never overwrite a newer attempt.  The receiver gets the row's
``idempotency_key`` as ``Idempotency-Key`` (and as the signed message id)
and drops the rare duplicate that a lease expiry can cause.

Retries back off exponentially with jitter; after ``max_attempts`` the row
is dead-lettered (state ``dead``) for a coordinator to see and retry.
A 4xx other than 408/409/425/429 is not retried: the peer refused the
message itself (a coordinator fixes and retries it).  409 means the peer
already has it.
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
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch import jobs
from runtime.settings import parse_int
from integrations import peers, signing
from models import Database, OutboxMessage, utcnow

log = logging.getLogger(__name__)
RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 8
    base_delay: float = 10.0        # seconds before the 2nd attempt; doubles each time
    max_delay: float = 3600.0
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    lease: float = 45.0             # > connect + read timeout: a live worker is done by then
    sweep_every: int = 30

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Policy":
        env = dict(os.environ if env is None else env)
        p = cls()
        base_ms = parse_int("HOTLINE_OUTBOX_BASE_DELAY_MS", env.get("HOTLINE_OUTBOX_BASE_DELAY_MS"),
                            int(p.base_delay * 1000), 1, 3_600_000)
        read = parse_int("HOTLINE_OUTBOX_READ_TIMEOUT", env.get("HOTLINE_OUTBOX_READ_TIMEOUT"),
                         int(p.read_timeout), 1, 300)
        return replace(
            p,
            max_attempts=parse_int("HOTLINE_OUTBOX_MAX_ATTEMPTS", env.get("HOTLINE_OUTBOX_MAX_ATTEMPTS"),
                                   p.max_attempts, 1, 100),
            base_delay=base_ms / 1000.0,
            read_timeout=float(read),
            lease=float(parse_int("HOTLINE_OUTBOX_LEASE_SECONDS", env.get("HOTLINE_OUTBOX_LEASE_SECONDS"),
                                  int(read + p.connect_timeout + 30), 1, 3600)),
            sweep_every=parse_int("HOTLINE_OUTBOX_SWEEP_SECONDS", env.get("HOTLINE_OUTBOX_SWEEP_SECONDS"),
                                  p.sweep_every, 1, 3600),
        )


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


def backoff(attempts: int, pol: Policy, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempts``-th failure: the exponential
    delay with "equal jitter" (half fixed, half random), so a crowd of
    messages failed together does not retry together."""
    d = min(pol.max_delay, pol.base_delay * (2 ** max(0, attempts - 1)))
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
_follow_ups: dict[str, dict[str, Handler]] = {"sent": {}, "dead": {}}


def set_follow_ups(delivered: dict[str, Handler], dead: dict[str, Handler]) -> None:
    _follow_ups["sent"], _follow_ups["dead"] = dict(delivered), dict(dead)


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
        res = s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == "pending",
                   OutboxMessage.next_attempt_at <= now)
            .values(attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now + dt.timedelta(seconds=pol.lease))
            .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            return None
        m = s.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id)
                     .execution_options(populate_existing=True))
        return {"id": m.id, "peer": m.peer, "kind": m.kind, "payload": m.payload, "key": m.idempotency_key,
                "attempts": m.attempts, "ticket_id": m.ticket_id}


def _post(msg: dict, pol: Policy) -> tuple[str, int | None, dict, str]:
    """(outcome, status, response, error) with outcome sent|retry|refused."""
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
    try:
        r = requests.post(url, data=body, headers=headers, timeout=(pol.connect_timeout, pol.read_timeout))
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
    """Try to deliver one message.  Returns sent, retry, dead or skipped
    (not due, not pending, or claimed by another worker)."""
    db = db or jobs.database()
    pol = policy()
    msg = _claim(db, message_id, pol)
    if msg is None:
        log.info("outbox %s: %s not due or claimed elsewhere; skipped", _job_tag(), message_id)
        return "skipped"
    outcome, status, resp, err = _post(msg, pol)
    now = utcnow()
    if outcome == "sent":
        values = {"state": "sent", "sent_at": now, "response": resp, "last_error": ""}
    elif outcome == "refused" or msg["attempts"] >= pol.max_attempts:
        outcome = "dead"
        values = {"state": "dead", "last_error": err, "response": resp}
    else:
        values = {"next_attempt_at": now + dt.timedelta(seconds=backoff(msg["attempts"], pol)),
                  "last_error": err}
    with db.session() as s:
        res = s.execute(update(OutboxMessage)
                        .where(OutboxMessage.id == msg["id"], OutboxMessage.attempts == msg["attempts"],
                               OutboxMessage.state == "pending")
                        .values(**values).execution_options(synchronize_session=False))
        fenced = res.rowcount != 1
    if fenced:
        log.warning("outbox %s: %s attempt %s finished after its lease was taken over (%s); not recorded",
                    _job_tag(), msg["id"], msg["attempts"], outcome)
        return "skipped"
    log_fn = log.info if outcome == "sent" else log.warning
    log_fn("outbox %s: %s %s→%s attempt %s: %s %s %s", _job_tag(), msg["id"], msg["kind"], msg["peer"],
           msg["attempts"], outcome, status if status is not None else "", err)
    handler = _follow_ups.get(outcome, {}).get(msg["kind"])
    if handler:
        try:
            handler(msg, resp if outcome == "sent" else {"error": err, "status": status})
        except Exception:
            # The delivery itself is recorded; the follow-up is logged for a person.
            log.exception("outbox %s: follow-up of %s (%s) failed", _job_tag(), msg["id"], outcome)
    return outcome


# ------------------------------------------------------------------ safety net
def due_ids(db: Database, limit: int = 500) -> list[int]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage.id)
                              .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= utcnow())
                              .order_by(OutboxMessage.next_attempt_at).limit(limit)))


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
                        .values(state="pending", attempts=0, next_attempt_at=utcnow(), last_error="")
                        .execution_options(synchronize_session=False))
        ok = res.rowcount == 1
    if ok:
        schedule(message_id)
    return ok
