"""Emergencies at intake: screening a new ticket, its own clock, the
hand-overs (110 through the existing linkage; 119, 120 and the utilities'
emergency lines as three-way-call records), dismissal with a reason, and
the alarm when 110 has not acknowledged a hand-over in time.

Everything the coordinators see is a ``Linkage`` row, so the 联动看板 shows
it live with its sound:
- peer ``emergency`` (inbound): the ticket is an emergency; state ``open`` →
  ``handed_over`` / ``dismissed`` / ``closed`` (the ticket closed); its
  ``detail`` holds the kind, the deciding words, the confidence and the
  clock (``clock_due_at``: sign for within ``HOTLINE_EMERGENCY_CLOCK_MINUTES``).
- peers ``fire119``, ``medical120``, ``gas``, ``power``, ``water``
  (outbound, state ``handed_over``): a three-way call, with who, when, the
  other side's number and operator, and the outcome.
- ``police110`` (outbound): the existing push; unacknowledged after
  ``HOTLINE_EMERGENCY_ACK_SECONDS_110`` (180) it raises an alarm
  (``detail.alarm_at``, unseen again, ``emergency.alarm`` to the board).

Screening (``screen_intake``) runs before a ticket is created, so an
emergency is created with urgency ``emergency`` (and its SLA) from the
start; the agent's dismissal travels with the intake and is recorded on the
ticket as a note (who, when, why).

Settings (environment, read when used): ``HOTLINE_EMERGENCY_CLOCK_MINUTES``
(30), ``HOTLINE_EMERGENCY_ACK_SECONDS_110`` (180),
``HOTLINE_EMERGENCY_LINES`` (``fire119=119;medical120=120;gas=96777;power=95598;water=96106``:
the numbers the banner offers; the agent can correct them).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifier.emergency import KIND_LABELS, detect
from dispatch import events
from dispatch.change import Change
from dispatch.errors import Invalid, NotFound
from integrations import linkage
from models import Database, Linkage, Ticket, TicketEvent, utcnow

log = logging.getLogger(__name__)
PEER = "emergency"
HANDOVER_LABELS = {"police110": "110", "fire119": "119消防", "medical120": "120急救", "gas": "燃气抢修",
                   "power": "供电抢修", "water": "供水抢修"}
DEFAULT_LINES = {"fire119": "119", "medical120": "120", "gas": "96777", "power": "95598", "water": "96106"}
#: Which hand-overs the banner offers for each kind (the first is the main one).
OFFERS = {"police110": ("police110",), "fire119": ("fire119", "gas", "medical120"),
          "medical120": ("medical120", "police110"), "utility_urgent": ("water", "power", "gas", "fire119")}
OPEN_STATES = ("open", "handed_over")
FINAL_TICKET_STATES = ("closed", "archived", "cancelled", "merged")
linkage.LABELS.update({PEER: "紧急情况", **{k: v for k, v in HANDOVER_LABELS.items() if k != "police110"}})


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive")
    return value


def clock_minutes() -> int:
    return _int_env("HOTLINE_EMERGENCY_CLOCK_MINUTES", 30)


def ack_seconds_110() -> int:
    return _int_env("HOTLINE_EMERGENCY_ACK_SECONDS_110", 180)


def lines() -> dict[str, str]:
    raw = os.environ.get("HOTLINE_EMERGENCY_LINES")
    out = dict(DEFAULT_LINES)
    if raw:
        for part in raw.split(";"):
            if part.strip():
                key, sep, number = part.partition("=")
                if not sep or key.strip() not in DEFAULT_LINES:
                    raise ValueError(f"HOTLINE_EMERGENCY_LINES: {part!r} is not one of "
                                     f"{', '.join(DEFAULT_LINES)}=number")
                out[key.strip()] = number.strip()
    return out


def offers(kind: str | None) -> list[dict]:
    nums = lines()
    return [{"target": t, "label": HANDOVER_LABELS[t], "number": "110" if t == "police110" else nums[t],
             "via": "linkage" if t == "police110" else "three_way_call"} for t in OFFERS.get(kind or "", ())]


def verdict_json(text: str) -> dict:
    v = detect(text)
    out = v.as_dict()
    out["offers"] = offers(v.kind) if v.emergency else []
    return out


# ------------------------------------------------------------------ intake
@dataclass
class Dismissal:
    reason: str
    kind: str | None = None


def screen_intake(data, dismissal: Dismissal | None = None, now: dt.datetime | None = None):
    """Before a ticket is created: an emergency (detected, or pushed as one
    by 110/综治) is created with urgency ``emergency`` and the screening in
    ``extra``; a dismissal is carried to the ticket's history instead."""
    text = " ".join(x for x in (data.subject, data.description, data.transcript) if x)
    v = detect(text)
    pushed = data.channel in ("police110", "governance") and data.urgency == "emergency"
    if dismissal is not None:
        data.extra = {**(data.extra or {}), "emergency_dismissed": {
            "reason": dismissal.reason, "kind": dismissal.kind or v.likely_kind, "words": list(v.words),
            "confidence": round(v.confidence, 3)}}
        return data
    if not (v.emergency or pushed):
        return data
    now = now or utcnow()
    kind = v.kind or v.likely_kind
    data.urgency = "emergency"
    data.extra = {**(data.extra or {}), "emergency": {
        "kind": kind, "kind_label": KIND_LABELS.get(kind, ""), "words": list(v.words),
        "confidence": round(v.confidence, 3), "source": data.channel if pushed else "detector",
        "clock_due_at": (now + dt.timedelta(minutes=clock_minutes())).isoformat()}}
    return data


def _emergency_row(s: Session, t: Ticket) -> Linkage | None:
    return linkage.find(s, t.id, PEER, "inbound")


def on_ticket_event(c: Change, ev: TicketEvent) -> None:
    """Hook (hotline/wiring.py): an accepted emergency goes on the board with
    its clock, a dismissal at intake into the history; signing stops the
    clock; a closed ticket takes its emergency off the board."""
    s, t, after_commit = c.s, c.t, c.after_commit
    extra = t.extra or {}
    if ev.action == "accept":
        info = extra.get("emergency")
        if info:
            linkage.touch(s, t, PEER, "inbound", after_commit, state="open", trigger=info.get("source", "detector"),
                          last_note=f"{info.get('kind_label', '')}：{'、'.join(info.get('words') or [])}",
                          detail=info)
        gone = extra.get("emergency_dismissed")
        if gone:
            c.record(t, "note", f"坐席排除紧急提示（{KIND_LABELS.get(gone.get('kind') or '', '')}）：{gone['reason']}",
                     {"emergency_dismissed": gone})
        return
    row = _emergency_row(s, t) if (ev.action == "sign_for" or t.status in FINAL_TICKET_STATES) else None
    if row is None:
        return
    if ev.action == "sign_for" and "signed_at" not in (row.detail or {}):
        linkage.touch(s, t, PEER, "inbound", after_commit, detail={"signed_at": ev.at.isoformat()})
    if t.status in FINAL_TICKET_STATES and row.state != "closed":
        linkage.touch(s, t, PEER, "inbound", after_commit, state="closed", last_note="工单已办结，移出看板")
        _mark(t, "closed")
        # A police suggestion nobody confirmed leaves the board with it.
        sug = linkage.find(s, t.id, "police110", "outbound")
        if sug is not None and sug.state == "suggested":
            linkage.touch(s, t, "police110", "outbound", after_commit, state="closed", last_note="工单已办结")


# ------------------------------------------------------------------ hand-over and dismissal
def _mark(t: Ticket, state: str, **more) -> None:
    """The ticket's own copy of the screening follows the hand-over or
    dismissal (a new dict: the JSON column notices reassignment only)."""
    info = (t.extra or {}).get("emergency")
    if info is not None:
        t.extra = {**t.extra, "emergency": {**info, "state": state, **more}}

def handover(db: Database, service, actor, ticket_id: int, target: str, number: str = "", operator: str = "",
             outcome: str = "", expected_version: int | None = None):
    """One click on the banner.  ``police110`` is the existing push; the
    others are a three-way call recorded with its fields."""
    if target not in HANDOVER_LABELS:
        raise Invalid("未知的移交对象", {"target": f"one of {', '.join(HANDOVER_LABELS)}"})
    label = HANDOVER_LABELS[target]
    if target == "police110":
        reason = f"紧急情况一键转110{('：' + outcome) if outcome else ''}"
        return service.act(actor, ticket_id, "transfer_to_110", {"reason": reason}, expected_version=expected_version)
    missing = {k: "required" for k, v in (("number", number), ("outcome", outcome)) if not (v or "").strip()}
    if missing:
        raise Invalid("三方通话需填写对方号码和结果", missing)
    now = utcnow()
    record = {"target": target, "label": label, "number": number.strip()[:32], "operator": operator.strip()[:50],
              "outcome": outcome.strip()[:500], "at": now.isoformat(), "by": actor.display_name,
              "by_user_id": actor.user_id}

    def apply(s, t, ev, after):
        existing = linkage.find(s, t.id, target, "outbound")
        history = (existing.detail or {}).get("handovers", []) if existing is not None else []
        linkage.touch(s, t, target, "outbound", after, state="handed_over", trigger="agent",
                      external_id=record["number"],
                      last_note=f"三方通话 {label}（{record['number']}，接线员{record['operator'] or '未留名'}）：{record['outcome']}",
                      detail={"handovers": [*history, record]})
        row = _emergency_row(s, t)
        if row is not None and row.state == "open":
            linkage.touch(s, t, PEER, "inbound", after, state="handed_over", last_note=f"已移交{label}")
        _mark(t, "handed_over", handed_to=[*((t.extra or {}).get("emergency", {}).get("handed_to") or []), target])

    reason = f"三方通话 {label} {record['number']}，对方接线员{record['operator'] or '未留名'}，结果：{record['outcome']}"
    news = linkage.inbound(target, None, payload={"three_way_call": record}, apply=apply)
    return service.act(actor, ticket_id, "three_way_call", {"reason": reason}, expected_version=expected_version,
                       with_change=news)


def dismiss(db: Database, service, actor, ticket_id: int, reason: str):
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写排除理由", {"reason": "required"})

    def apply(s, t, ev, after):
        row = _emergency_row(s, t)
        if row is None:
            raise NotFound("该工单没有紧急提示", code="no_emergency")
        linkage.touch(s, t, PEER, "inbound", after, state="dismissed", last_note=f"已排除：{reason}",
                      detail={"dismissed_by": actor.display_name, "dismissed_at": utcnow().isoformat(),
                              "dismiss_reason": reason})
        _mark(t, "dismissed")

    news = linkage.inbound(PEER, None, payload={"emergency_dismissed": {"reason": reason}}, apply=apply)
    return service.act(actor, ticket_id, "note", {"reason": f"排除紧急提示：{reason}"}, with_change=news)


# ------------------------------------------------------------------ unacknowledged 110 hand-overs
def _aware(d: dt.datetime | None) -> dt.datetime | None:
    """Stored datetimes are UTC; SQLite hands them back without a zone."""
    return None if d is None else (d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc))


def _parse(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    try:
        return _aware(dt.datetime.fromisoformat(iso))
    except ValueError:
        return None


def alarm_unacknowledged(db: Database, now: dt.datetime | None = None) -> list[int]:
    """110 pushes neither acknowledged nor failed after the configured time
    alarm the coordinators once (the row becomes unseen again, the board
    beeps).  ``now`` is injectable for tests; returns the linkage ids."""
    now = _aware(now or utcnow())
    limit = dt.timedelta(seconds=ack_seconds_110())
    raised: list[int] = []
    after: list = []
    with db.session() as s:
        rows = s.scalars(select(Linkage).where(Linkage.peer == "police110", Linkage.direction == "outbound",
                                               Linkage.state.in_(("pending", "sent")))).all()
        for row in rows:
            detail = row.detail or {}
            pushed = _parse(detail.get("pushed_at")) or _aware(row.created_at)
            if detail.get("alarm_at") or pushed is None or now - pushed < limit:
                continue
            t = s.get(Ticket, row.ticket_id)
            if t is None or t.status in FINAL_TICKET_STATES:
                continue
            minutes = int((now - pushed).total_seconds() // 60)
            row.seen_at, row.seen_by_id = None, None
            linkage.touch(s, t, "police110", "outbound", after,
                          last_note=f"110超过{ack_seconds_110() // 60 or 1}分钟未回执（已{minutes}分钟），请协调员电话跟进",
                          detail={"alarm_at": now.isoformat()})
            snapshot = {"linkage_id": row.id, "ticket_id": t.id, "number": t.number, "peer": "police110",
                        "minutes": minutes}
            rooms = [f"unit:{t.platform_id}", "platform:all"]
            after.append(lambda snap=snapshot, r=rooms: events.publish("emergency.alarm", snap, r))
            raised.append(row.id)
    for fn in after:
        fn()
    if raised:
        log.warning("emergency: %d unacknowledged 110 hand-over(s) alarmed: %s", len(raised), raised)
    return raised


def sweep() -> int:
    """Periodic job ``emergency-ack-sweep`` (hotline/wiring.py): rq cron
    beside the workers, or in the web process on the embedded default."""
    from runtime import jobs

    return len(alarm_unacknowledged(jobs.database()))
