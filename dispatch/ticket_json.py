"""Tickets as JSON, in one place: every shape a ticket takes on the way out.

- ``summary``: what live notices carry (no caller identity), and
  ``event_summary`` the event they announce;
- ``queue_row``: a row of the platform's queues and boards (dispatch.queues);
- ``brief``: a line in a list beside something else (linkage board, a
  caller's history on an incoming call);
- ``ticket_json``: the API's full ticket, with what the reader may not see
  taken out: phone numbers are masked for handling units, and a confidential
  caller (保密) is hidden from them entirely;
- ``event_json``: one event of a ticket's history, its payload filtered for
  the reader (``event_payload``).

Messages to peers (110, 综治) and Open311's GeoReport records are other
systems' formats and stay with their adapters.  No Flask here.
"""
from __future__ import annotations

from dispatch.access import Actor
from dispatch.workflow import allowed_actions
from models import CHANNELS, STATUSES, URGENCIES, Ticket, TicketEvent


def iso(v):
    return v.isoformat() if v else None


DUE_STATES = {"": None, "provisional": "按暂定日历计算", "pending": "时限待定（缺少工作日历）"}


def mask_phone(phone: str) -> str:
    """138****5678: at least four characters hidden, at most the last four
    and first three shown."""
    p = phone.strip()
    n = len(p)
    tail = 4 if n >= 8 else 0
    head = min(3, max(0, n - tail - 4))
    return p[:head] + "*" * (n - head - tail) + (p[-tail:] if tail else "")


def subject(t: Ticket) -> str:
    return t.subject or t.description[:40]


def summary(t: Ticket) -> dict:
    """What live notices carry: no caller identity."""
    return {
        "id": t.id, "number": t.number, "status": t.status, "version": t.version,
        "subject": subject(t), "urgency": t.urgency,
        "category": t.category.full_name if t.category else None,
        "responsible_unit": t.responsible_unit.name if t.responsible_unit else None,
        "responsible_unit_id": t.responsible_unit_id, "platform_id": t.platform_id,
        "due_at": iso(t.due_at), "sign_due_at": iso(t.sign_due_at), "due_state": t.due_state or "",
        "needs_review": t.needs_review,
        "emergency": emergency(t),
    }


def event_summary(ev: TicketEvent) -> dict:
    """The event half of a ``ticket.changed`` notice; ``id`` is the console's
    catch-up cursor (GET /api/v1/changes?after=<id>)."""
    return {"id": ev.id, "action": ev.action, "from": ev.from_status, "to": ev.to_status, "by": ev.actor_label,
            "at": iso(ev.at), "reason": ev.reason}


def emergency(t: Ticket) -> dict | None:
    """The intake's emergency screening (kind, deciding words, its own
    sign-for clock, and what became of it), or None."""
    return (t.extra or {}).get("emergency")


def queue_row(t: Ticket) -> dict:
    """A row of the review queue, the 督办 board and the callback queue."""
    return summary(t) | {"platform": t.platform.name, "return_count": t.return_count,
                         "category_confidence": t.category_confidence, "created_at": iso(t.created_at)}


def brief(t: Ticket) -> dict:
    return {"id": t.id, "number": t.number, "status": t.status, "subject": subject(t), "urgency": t.urgency,
            "channel": t.channel, "created_at": iso(t.created_at)}


def ticket_json(t: Ticket, actor: Actor) -> dict:
    if actor.on_platform:
        name, phone = t.caller_name, t.caller_phone
    elif t.confidential:
        name, phone = "（保密）", ""
    else:
        name, phone = t.caller_name, mask_phone(t.caller_phone)
    return {
        "id": t.id, "number": t.number, "channel": t.channel, "channel_label": CHANNELS.get(t.channel),
        "status": t.status, "status_label": STATUSES.get(t.status), "version": t.version,
        "request_type": t.request_type, "urgency": t.urgency, "urgency_label": URGENCIES.get(t.urgency),
        "confidential": t.confidential,
        "caller": {"name": name, "phone": phone},
        "subject": t.subject, "description": t.description, "address": t.address,
        "division_code": t.division_code,
        "category": ({"code": t.category.code, "name": t.category.full_name, "confidence": t.category_confidence}
                     if t.category else {"code": None, "name": None, "confidence": t.category_confidence}),
        "needs_review": t.needs_review,
        "platform": {"id": t.platform.id, "code": t.platform.code, "name": t.platform.name},
        "responsible_unit": ({"id": t.responsible_unit.id, "code": t.responsible_unit.code,
                              "name": t.responsible_unit.name} if t.responsible_unit else None),
        "sign_due_at": iso(t.sign_due_at), "due_at": iso(t.due_at),
        # "" | provisional | pending (docs/sla.md): pending means no due until
        # the missing calendar year is imported.
        "due_state": t.due_state or "", "due_state_label": DUE_STATES.get(t.due_state or ""),
        "dispatched_at": iso(t.dispatched_at), "signed_at": iso(t.signed_at),
        "replied_at": iso(t.replied_at), "closed_at": iso(t.closed_at),
        "reply_text": t.reply_text, "return_count": t.return_count,
        "merged_into_id": t.merged_into_id, "call_id": t.call_id,
        "created_at": iso(t.created_at), "updated_at": iso(t.updated_at),
        "allowed_actions": actions_for(t, actor),
        "emergency": emergency(t),
    }


def actions_for(t: Ticket, actor: Actor) -> list[str]:
    """The workflow's actions for the role, narrowed to the reader's place:
    the lead unit does not give 协办 input, an assisting unit only does."""
    actions = allowed_actions(t.status, actor.role)
    if actor.on_platform:
        return actions
    if t.responsible_unit_id == actor.unit_id:
        return [a for a in actions if a != "give_input"]
    return [a for a in actions if a == "give_input"]


# What a handling unit may read in an event's payload: how its own work went.
# Everything else (possible duplicates, other tickets' numbers and ids, the
# classifier's reasoning, texts sent to the citizen, callback notes) is the
# platform's: it can name a confidential caller or another unit's tickets.
UNIT_PAYLOAD_KEYS = frozenset({
    "unit", "auto", "assist_units", "on_time", "return_count", "suggested_unit", "category_changed",
    "paused_for_s", "reply_text", "extension_id", "days", "due_at", "item_id", "kind", "satisfaction",
    "attempts", "round", "clock_id", "stage", "category",
})


def event_payload(payload: dict, actor: Actor, visible_ticket_ids: set[int] | frozenset = frozenset()) -> dict:
    """An event's payload as ``actor`` may read it.  Platforms see it whole,
    except possible duplicates outside their own subtree
    (``visible_ticket_ids`` are the ones they may see)."""
    payload = payload or {}
    if not actor.on_platform:
        return {k: v for k, v in payload.items() if k in UNIT_PAYLOAD_KEYS}
    if "duplicates" in payload:
        payload = dict(payload, duplicates=[d for d in payload["duplicates"] or []
                                            if d.get("ticket_id") in visible_ticket_ids])
    return payload


def referenced_tickets(payloads) -> set[int]:
    """Ticket ids event payloads mention (to check which the reader may see)."""
    ids: set[int] = set()
    for p in payloads:
        for d in (p or {}).get("duplicates") or []:
            if isinstance(d.get("ticket_id"), int):
                ids.add(d["ticket_id"])
    return ids


def event_json(e: TicketEvent, actor: Actor, visible_ticket_ids: set[int] | frozenset = frozenset()) -> dict:
    """One event as ``actor`` may read it (``event_payload``)."""
    return {"id": e.id, "at": iso(e.at), "action": e.action, "from_status": e.from_status,
            "to_status": e.to_status, "actor": e.actor.username if e.actor else None,
            "actor_name": e.actor_label, "reason": e.reason,
            "payload": event_payload(e.payload, actor, visible_ticket_ids)}
