"""Adapters for the systems outside the hotline, one module each, and the
outbox that delivers every outbound message:

- ``outbox``: delivery jobs, backoff, dead letters, the periodic sweep;
- ``signing``: HMAC signatures on messages in both directions;
- ``linkage``: what the 110 and 综治 adapters share (system actors, the
  coordinators' linkage rows, recording a peer's news on a ticket);
- ``police110``: 12345 ⇄ 110 (国办发〔2022〕12号), with the police-matter detector;
- ``governance``: the social-governance (综治) grid platform;
- ``telephony``: call events and streaming transcripts;
- ``simulate``: loopback simulators of the peers for demos and tests.

``init_app`` registers the adapters' hooks in the web process; workers
import the modules through the jobs they run.
"""
from __future__ import annotations


def register() -> None:
    """Import every adapter so its hooks and periodic jobs are registered."""
    from integrations import governance, outbox, police110, telephony  # noqa: F401
