"""HMAC signatures for messages between the hotline and its peers.

Both directions use the same scheme and the same per-peer secret:

    X-Hotline-Timestamp:  unix seconds when the message was signed
    X-Hotline-Message-Id: the sender's unique id for the message
    X-Hotline-Signature:  "v1=" + hex HMAC-SHA256(secret, "<timestamp>.<message id>.<body bytes>")

The message id is inside the signed text so that a captured message cannot
be replayed under a fresh id; the receiver refuses a timestamp more than
``MAX_AGE`` seconds away from its clock (either way) and a message id it has
already accepted (``InboundMessage`` is unique on (peer, message_id)).

Secrets come from the environment, ``HOTLINE_WEBHOOK_SECRET_<PEER>``
(``Settings.webhook_secrets``).  Outside production, a peer without one uses
the published demo secret in ``DEMO_SECRETS``, which the simulators share;
in production a peer without a secret is switched off (every message is
refused), never signed with a guessable key.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Mapping

HEADER_TIMESTAMP = "X-Hotline-Timestamp"
HEADER_SIGNATURE = "X-Hotline-Signature"
HEADER_MESSAGE_ID = "X-Hotline-Message-Id"
MAX_AGE = 300
PEERS = ("police110", "governance", "telephony")
# Public on purpose: for the embedded demo and the simulators only.
DEMO_SECRETS = {peer: f"demo-{peer}-secret-not-for-production" for peer in PEERS}


class SignatureError(Exception):
    """Why a message was refused (logged, never sent back in detail)."""


@dataclass(frozen=True)
class Verified:
    message_id: str
    timestamp: int


def signature(secret: str, timestamp: int | str, message_id: str, body: bytes) -> str:
    text = f"{timestamp}.{message_id}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, message_id: str, now: float | None = None) -> dict[str, str]:
    ts = int(time.time() if now is None else now)
    return {HEADER_TIMESTAMP: str(ts), HEADER_MESSAGE_ID: message_id,
            HEADER_SIGNATURE: signature(secret, ts, message_id, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None,
           max_age: int = MAX_AGE) -> Verified:
    """Check a message's signature and age; raise SignatureError if either fails."""
    ts_raw = headers.get(HEADER_TIMESTAMP) or ""
    message_id = headers.get(HEADER_MESSAGE_ID) or ""
    sig = headers.get(HEADER_SIGNATURE) or ""
    if not ts_raw or not message_id or not sig:
        raise SignatureError("missing signature headers")
    if len(message_id) > 128 or not message_id.isprintable():
        raise SignatureError("unusable message id")
    # Seconds since 1970 fit in 12 digits until the year 33658; a longer
    # number cannot be a clock reading (and 10**400 would overflow a float).
    if not (ts_raw.isascii() and ts_raw.isdigit() and len(ts_raw) <= 12):
        raise SignatureError(f"timestamp is not an integer (Unix seconds): {ts_raw[:20]!r}")
    ts = int(ts_raw)
    expected = signature(secret, ts, message_id, body)
    if not hmac.compare_digest(expected.encode(), sig.encode()):
        raise SignatureError("bad signature")
    age = (time.time() if now is None else now) - ts
    if abs(age) > max_age:
        raise SignatureError(f"timestamp {age:.0f} s away from our clock (limit {max_age} s)")
    return Verified(message_id, ts)


def secret_for(peer: str, configured: Mapping[str, str] | None = None, production: bool | None = None
               ) -> str | None:
    """The peer's secret: configured (Settings.webhook_secrets), else the
    environment, else the demo secret outside production, else None."""
    peer = peer.lower()
    if configured and configured.get(peer):
        return configured[peer]
    env = os.environ.get(f"HOTLINE_WEBHOOK_SECRET_{peer.upper()}")
    if env:
        return env
    if production is None:
        production = os.environ.get("HOTLINE_ENV", "").strip().lower() == "production"
    if production:
        return None
    return DEMO_SECRETS.get(peer)
