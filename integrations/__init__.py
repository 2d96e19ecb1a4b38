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

Nothing here registers itself on import: each adapter exposes its hooks,
action handlers, webhook handler and outbox follow-ups, and the composition
root (hotline/wiring.py) wires them into every process.
"""
