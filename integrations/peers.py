"""Where the peers are and how we talk to them.

Each peer's base URL comes from ``HOTLINE_PEER_URL_<PEER>`` (read when a
message is sent, so a worker picks up its own environment); outside
production an unset peer points at its simulator on loopback
(``python -m integrations.simulate <peer>``).  Outbound messages are POSTed
to ``<base>/messages`` as JSON: ``{"message_id", "kind", "payload"}``; the
outbox's health probe GETs ``<base>/health`` (``HOTLINE_PEER_HEALTH_PATH_<PEER>``).
"""
from __future__ import annotations

import os

DEMO_URLS = {
    "police110": "http://127.0.0.1:8110",
    "governance": "http://127.0.0.1:8120",
}
# Tests may point a peer somewhere else without touching the environment.
_overrides: dict[str, str] = {}


class PeerNotConfigured(LookupError):
    pass


def base_url(peer: str) -> str:
    if peer in _overrides:
        return _overrides[peer]
    url = os.environ.get(f"HOTLINE_PEER_URL_{peer.upper()}", "").strip()
    if url:
        if not url.startswith(("http://", "https://")):
            raise PeerNotConfigured(f"HOTLINE_PEER_URL_{peer.upper()}={url!r} is not an http(s) URL")
        return url.rstrip("/")
    if os.environ.get("HOTLINE_ENV", "").strip().lower() == "production" or peer not in DEMO_URLS:
        raise PeerNotConfigured(f"HOTLINE_PEER_URL_{peer.upper()} is not set")
    return DEMO_URLS[peer]


def messages_url(peer: str) -> str:
    return base_url(peer) + "/messages"


def health_url(peer: str) -> str:
    """What the outbox's health probe GETs to learn that a peer answers
    again: ``HOTLINE_PEER_HEALTH_PATH_<PEER>`` (default ``/health``)."""
    path = os.environ.get(f"HOTLINE_PEER_HEALTH_PATH_{peer.upper()}", "").strip() or "/health"
    return base_url(peer) + ("" if path.startswith("/") else "/") + path


def override(peer: str, url: str | None) -> None:
    if url is None:
        _overrides.pop(peer, None)
    else:
        _overrides[peer] = url.rstrip("/")
