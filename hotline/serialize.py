"""Kept importable for older imports: tickets are shaped for JSON in
``dispatch.ticket_json``."""
from dispatch.ticket_json import event_json, mask_phone, ticket_json  # noqa: F401
