"""Telephony platform: call events and streaming transcripts.

The platform's webhooks (``POST /webhooks/telephony``) carry one of:

- ``call.ringing``  {call_id, caller_phone, agent}: the agent's browser gets
  ``call.ringing`` with the caller's previous tickets;
- ``call.answered`` {call_id, agent};
- ``transcript``    {call_id, seq, text, final, speaker}: a segment from the
  platform's speech recogniser; the agent gets ``call.transcript`` with the
  segment and an intake draft (description from the caller's words, phone
  numbers, a name, an address) re-extracted from the whole transcript;
- ``call.ended``    {call_id, recording_ref}.

Live notices go to the room ``user:<agent id>``.  The agent submits the
draft through the ordinary intake (``POST /api/v1/tickets`` with
``call_id`` and ``transcript``); the ticket keeps both and the call is
linked to it.  A recogniser running here can feed the same path: anything
that produces ``transcript`` messages (``Recogniser``) plugs in.
"""
from __future__ import annotations

import logging
import re
from typing import Iterable, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import events, rooms
from dispatch.change import Change
from dispatch.access import Actor, visible_clause
from dispatch.ticket_json import brief
from dispatch.errors import NotFound, validate_typed
from models import Call, Database, InboundMessage, Ticket, TicketEvent, User, utcnow

log = logging.getLogger(__name__)
PEER = "telephony"


class Recogniser(Protocol):
    """A local speech recogniser: audio chunks in, (seq, text, final) out."""

    def segments(self, audio: Iterable[bytes]) -> Iterable[tuple[int, str, bool]]: ...


# ------------------------------------------------------------------ extraction
PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
NAME = re.compile(r"(?:我叫|我是|本人|我姓)([\u4e00-\u9fa5]{1,3}?)(?:[，。,. ]|先生|女士|$|的)")
ADDRESS_TAIL = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9\-]{2,40}?(?:路|街|大道|巷|弄|小区|花园|村|组|社区|"
                          r"号楼|号|栋|单元|室)(?:[\u4e00-\u9fa5A-Za-z0-9\-]{0,12}?(?:号楼|号|栋|单元|室|楼))*")


CUE = re.compile(r"(?:家住|住在|住址是?|地址是|地址在|地点是|地点在|位于|事发地是?|在)")


def extract(text: str) -> dict:
    """Phone numbers, a name and an address found in a transcript.  The
    address starts at the first division ``dispatch.places`` finds (area,
    street …, against the divisions data) and runs on through the road and
    number; without a division, it follows a cue (家住, 地址是 …)."""
    from dispatch.places import parse_address

    phones = list(dict.fromkeys(PHONE.findall(text)))
    m = NAME.search(text)
    name = m.group(1) if m else ""
    place = parse_address(text)
    address, division = "", place.division_code or ""
    if place.matched:
        start = min(sp.start for sp in place.matched)
        tail = ADDRESS_TAIL.match(text, start)
        end = max(sp.end for sp in place.matched)
        address = tail.group(0) if tail and tail.end() >= end else text[start:end]
    else:
        for cue in CUE.finditer(text):
            tail = ADDRESS_TAIL.match(text, cue.end())
            if tail:
                address = tail.group(0)
                break
    return {"phones": phones, "name": name, "address": address[:300], "division_code": division}


def caller_text(segments: list[dict]) -> str:
    """What the caller said (the agent's lines left out), in order."""
    return "".join(s["text"] for s in sorted(segments, key=lambda s: s["seq"]) if s.get("speaker") != "agent")


def draft(call: Call) -> dict:
    """The intake form, pre-filled from the call."""
    said = caller_text(call.segments or [])
    found = extract(said)
    full = "\n".join(f"{'坐席' if s.get('speaker') == 'agent' else '来电人'}：{s['text']}"
                     for s in sorted(call.segments or [], key=lambda s: s["seq"]))
    return {"call_id": call.call_id, "channel": "phone", "description": said[:5000], "transcript": full,
            "caller": {"name": found["name"], "phone": call.caller_phone or (found["phones"][0] if found["phones"] else "")},
            "phones": found["phones"], "address": found["address"], "division_code": found["division_code"]}


# ------------------------------------------------------------------ webhooks
class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    type: str
    call_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")


class Ringing(_In):
    caller_phone: str = Field("", max_length=32, pattern=r"^[0-9+\-\s*()]*$")
    agent: str = Field(min_length=1, max_length=64)


class Answered(_In):
    agent: str = Field(min_length=1, max_length=64)


class Segment(_In):
    seq: int = Field(ge=0, le=100000)
    text: str = Field(min_length=1, max_length=2000)
    final: bool = True
    speaker: str = Field("caller", pattern=r"^(caller|agent)$")


class Ended(_In):
    recording_ref: str = Field("", max_length=300)


MODELS = {"call.ringing": Ringing, "call.answered": Answered, "transcript": Segment, "call.ended": Ended}


def _parse(data: dict) -> _In:
    return validate_typed(MODELS, data)


def _agent(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise NotFound(f"坐席 {username} 不存在", {"agent": "unknown user"}, code="unknown_agent")
    return user


def history(s: Session, agent: User, phone: str, limit: int = 5) -> list[dict]:
    if not phone:
        return []
    actor = Actor.from_user(agent)
    rows = s.scalars(select(Ticket).where(Ticket.caller_phone == phone, visible_clause(actor))
                     .order_by(Ticket.created_at.desc()).limit(limit)).all()
    return [brief(t) for t in rows]


def handle_webhook(db: Database, data: dict, message_id: str, service=None) -> tuple[int, dict]:
    msg = _parse(data)
    notices: list[tuple[str, dict, list[str]]] = []
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_id == msg.call_id).with_for_update())
        if isinstance(msg, Ringing):
            agent = _agent(s, msg.agent)
            if call is None:
                call = Call(call_id=msg.call_id, caller_phone=msg.caller_phone, agent_user_id=agent.id,
                            state="ringing", segments=[], started_at=utcnow())
                s.add(call)
            notices.append(("call.ringing", {"call_id": msg.call_id, "caller_phone": msg.caller_phone,
                                             "history": history(s, agent, msg.caller_phone)},
                            [rooms.user(agent.id)]))
        else:
            if call is None:
                raise NotFound(f"通话 {msg.call_id} 不存在", {"call_id": "no call.ringing seen"},
                               code="unknown_call")
            if isinstance(msg, Answered):
                agent = _agent(s, msg.agent)
                call.agent_user_id, call.state, call.answered_at = agent.id, "answered", utcnow()
                notices.append(("call.answered", {"call_id": call.call_id}, [rooms.user(agent.id)]))
            elif isinstance(msg, Segment):
                if msg.final:
                    segs = [x for x in (call.segments or []) if x["seq"] != msg.seq]
                    segs.append({"seq": msg.seq, "text": msg.text, "speaker": msg.speaker,
                                 "at": utcnow().isoformat()})
                    call.segments = sorted(segs, key=lambda x: x["seq"])
                notices.append(("call.transcript", {
                    "call_id": call.call_id, "seq": msg.seq, "text": msg.text, "final": msg.final,
                    "speaker": msg.speaker, "draft": draft(call)}, [rooms.user(call.agent_user_id)]))
            elif isinstance(msg, Ended):
                call.state, call.ended_at, call.recording_ref = "ended", utcnow(), msg.recording_ref
                notices.append(("call.ended", {"call_id": call.call_id, "recording_ref": msg.recording_ref,
                                               "draft": draft(call)}, [rooms.user(call.agent_user_id)]))
        s.add(InboundMessage(peer=PEER, message_id=message_id, result={"call_id": msg.call_id, "type": msg.type}))
        s.flush()
    for name, payload, to in notices:
        events.publish(name, payload, to)
    return 200, {"ok": True, "call_id": msg.call_id}


def call_json(db: Database, call_id: str, actor: Actor) -> dict:
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_id == call_id))
        if call is None or not (actor.user_id == call.agent_user_id or actor.role in ("dispatcher", "admin")):
            raise NotFound("通话不存在")
        return {"call_id": call.call_id, "state": call.state, "caller_phone": call.caller_phone,
                "segments": call.segments or [], "recording_ref": call.recording_ref, "ticket_id": call.ticket_id,
                "draft": draft(call)}


def link_call(c: Change, ev: TicketEvent) -> None:
    s, t = c.s, c.t
    if ev.action == "accept" and t.call_id:
        call = s.scalar(select(Call).where(Call.call_id == t.call_id))
        if call is not None and call.ticket_id is None:
            call.ticket_id = t.id
