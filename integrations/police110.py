"""12345 ⇄ 110 linkage (国办发〔2022〕12号).

12345 → 110.  A ticket is a police matter when an agent says so (the
``transfer_to_110`` action), when its category is on the transfer list, or
when the lexicon detector finds police signals in its text.  A detected or
listed matter is only *suggested* to the agent (the board and the ticket show
it) — the agent confirms with ``transfer_to_110`` — except on channels
configured to auto-push, where it is pushed at intake.  The push is an
outbox message (``incident.create``); 110's answer carries its incident
number (警情编号), and its later feedback arrives by webhook.  Both are
recorded on the ticket as ``linkage_update`` events.

110 → 12345.  110 pushes non-police matters (``transfer`` webhooks) whose
item is on the configured list; each becomes a ticket with channel
``police110``, accepted by the city platform and dispatched as usual.  When
it closes, 110 receives feedback (an outbox message ``feedback``).

Configuration (environment, read when used):
- ``HOTLINE_POLICE110_CATEGORIES``: comma-separated category paths (prefixes)
  that are police matters; default ``DEFAULT_CATEGORIES``.
- ``HOTLINE_POLICE110_AUTO_CHANNELS``: comma-separated channels whose
  detected police matters are pushed without an agent; default none.
- ``HOTLINE_POLICE110_ITEMS``: ``item=category path;…`` — what 110 may push to
  us and the category it becomes; default ``DEFAULT_ITEMS``.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime import jobs
from dispatch.change import Change
from dispatch.errors import Conflict, DomainError, Invalid, NotFound, validate_typed
from dispatch.intake import IntakeData
from integrations import linkage, outbox
from models import Category, Database, Ticket, TicketEvent, utcnow

log = logging.getLogger(__name__)
PEER = "police110"

DEFAULT_CATEGORIES = ("政法/社会治安", "政法/刑案侦破", "政法/交通管理/交通事故")
DEFAULT_ITEMS = {
    "停水": "城乡建设/城市建设和市政管理/自来水供应",
    "停电": "城乡建设/城市建设和市政管理/电力供应",
    "燃气": "城乡建设/城市建设和市政管理/燃气供应",
    "供暖": "城乡建设/城市建设和市政管理/冬季采暖",
    "噪音扰民": "环境保护/环境污染/噪音污染",
    "大气污染": "环境保护/环境污染/大气污染",
    "占道经营": "城乡建设/城市建设和市政管理/城管执法",
    "环境卫生": "城乡建设/城市建设和市政管理/环境卫生",
    "公共设施损坏": "城乡建设/城市建设和市政管理/城市公共设施",
    "违章建筑": "城乡建设/城乡规划/违章建筑",
    "物业纠纷": "城乡建设/住房保障与房地产/物业服务",
    "拖欠工资": "劳动和社会保障/工资福利/工资发放",
    "商品质量": "商贸旅游/市场监管/商品质量",
}

# ------------------------------------------------------------------ detector
# Weighted signals; a text scoring LEXICON_THRESHOLD or more is a police
# matter.  Violence, crime in progress and danger to life weigh 3; signals
# that need a second one weigh 2; urgency adds 1.  Police *administration*
# (ID cards, household registration, licences) and prevention campaigns are
# 公安局 department business, not the alarm desk: they subtract.
LEXICON: dict[str, int] = {
    **dict.fromkeys("抢劫 抢夺 被抢 持刀 砍人 杀人 行凶 捅伤 绑架 劫持 强奸 猥亵 斗殴 打架 打人 殴打 被打 "
                    "打老婆 入室盗窃 盗窃 小偷 被偷 偷走 撬锁 诈骗 被骗 骗走 跳楼 轻生 自杀 拐卖 拐骗 走失 "
                    "失踪 枪支 开枪 爆炸物 纵火 放火 吸毒 贩毒 赌博 赌场 卖淫 嫖娼 家暴 家庭暴力 醉驾 酒驾 "
                    "肇事逃逸 非法拘禁 敲诈勒索 勒索 寻衅滋事 械斗 持械 聚众闹事 砸车 砸店 报警 呼救 "
                    "被关".split(), 3),
    **dict.fromkeys("威胁 恐吓 跟踪 尾随 持棍 围堵 打砸 闹事 传销 偷拍 流血 受伤 昏迷 带走 人身安全".split(), 2),
    **dict.fromkeys("正在 刚刚 救命 快来 紧急".split(), 1),
    **dict.fromkeys("身份证 户口 户籍 居住证 驾驶证 驾照 出入境 护照 签证 无犯罪记录 防范 宣传 反诈 "
                    "咨询 政策 如何办理 尊敬的 领导 您好 建议".split(), -3),
}
# One strong signal is enough in a short report; the polite forms of a
# letter to officials (尊敬的, 领导, 您好) mark a written complaint, which
# is never an emergency in progress.
LEXICON_THRESHOLD = 3
# A negation right before a term ("没有打人", "不是诈骗") cancels it.
_NEGATION = re.compile(r"(没有|并未|不是|未曾|无)$")


@dataclass(frozen=True)
class Detection:
    police: bool
    score: int
    matched: tuple[str, ...]


def detect(text: str) -> Detection:
    """Score ``text`` against the lexicon (each term counted once)."""
    text = text or ""
    matched: list[str] = []
    score = 0
    for term, weight in LEXICON.items():
        for m in re.finditer(re.escape(term), text):
            if weight > 0 and _NEGATION.search(text[max(0, m.start() - 2):m.start()]):
                continue
            matched.append(term)
            score += weight
            break
    return Detection(score >= LEXICON_THRESHOLD, score, tuple(matched))


def _csv_env(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(x.strip() for x in raw.split(",") if x.strip())


def police_categories() -> tuple[str, ...]:
    return _csv_env("HOTLINE_POLICE110_CATEGORIES", DEFAULT_CATEGORIES)


def auto_channels() -> tuple[str, ...]:
    return _csv_env("HOTLINE_POLICE110_AUTO_CHANNELS", ())


def items() -> dict[str, str]:
    raw = os.environ.get("HOTLINE_POLICE110_ITEMS")
    if raw is None:
        return dict(DEFAULT_ITEMS)
    out = {}
    for part in raw.split(";"):
        if part.strip():
            item, sep, cat = part.partition("=")
            if not sep or not item.strip() or not cat.strip():
                raise ValueError(f"HOTLINE_POLICE110_ITEMS: {part!r} is not item=category")
            out[item.strip()] = cat.strip()
    return out


def is_police_category(full_name: str | None) -> bool:
    return bool(full_name) and any(full_name == c or full_name.startswith(c + "/") for c in police_categories())


def assess(t: Ticket) -> tuple[str, Detection] | None:
    """Why ``t`` looks like a police matter (category or lexicon), or None."""
    det = detect(" ".join((t.subject, t.description, t.transcript or "")))
    if is_police_category(linkage.category_name(t)):
        return "category", det
    if det.police:
        return "lexicon", det
    return None


# ------------------------------------------------------------------ 12345 → 110
def _incident_payload(t: Ticket, trigger: str, reason: str, det: Detection | None) -> dict:
    return {
        "ticket": {"id": t.id, "number": t.number, "channel": t.channel, "urgency": t.urgency,
                   "request_type": t.request_type, "category": linkage.category_name(t),
                   "created_at": t.created_at.isoformat() if t.created_at else None},
        "caller": {"name": t.caller_name, "phone": t.caller_phone},
        "place": {"address": t.address, "division_code": t.division_code},
        "description": t.description, "subject": t.subject, "transcript": t.transcript or "",
        "call_id": t.call_id, "trigger": trigger, "reason": reason,
        "signals": list(det.matched) if det else [],
    }


def push(s: Session, t: Ticket, trigger: str, reason: str, after_commit: list,
         det: Detection | None = None) -> None:
    existing = linkage.find(s, t.id, PEER, "outbound")
    if existing is not None and existing.state not in ("suggested",):
        raise Conflict("该工单已推送110", code="already_pushed")
    outbox.add(s, PEER, "incident.create", _incident_payload(t, trigger, reason, det), ticket_id=t.id,
               key=f"police110.incident.{t.id}", after_commit=after_commit)
    linkage.touch(s, t, PEER, "outbound", after_commit, state="pending", trigger=trigger, last_note=reason,
                  detail={"signals": list(det.matched) if det else [], "pushed_at": utcnow().isoformat()})


def transfer_to_110(c) -> dict:
    """The ``transfer_to_110`` action: the push is written in the action's
    own transaction, so the event never exists without its outbox row."""
    found = assess(c.t)
    push(c.s, c.t, "agent", str(c.p.get("reason") or ""), c.after_commit,
         found[1] if found else detect(c.t.description))
    return {}


def on_ticket_event(c: Change, ev: TicketEvent) -> None:
    """Hook: suggest or auto-push a detected police matter at intake; send
    110 its feedback when a ticket it transferred closes."""
    s, t, after_commit = c.s, c.t, c.after_commit
    if ev.action == "accept" and t.channel != PEER:
        found = assess(t)
        if found is None:
            return
        trigger, det = found
        if t.channel in auto_channels():
            note = f"自动推送110（{'、'.join(det.matched) or trigger}）"
            c.record(t, "transfer_to_110", note, {"trigger": "auto_channel", "signals": list(det.matched)},
                     label="系统（110自动推送）")
            push(s, t, "auto_channel", note, after_commit, det)
        else:
            linkage.touch(s, t, PEER, "outbound", after_commit, state="suggested", trigger=trigger,
                          last_note="疑似警情，待坐席确认推送110",
                          detail={"signals": list(det.matched), "score": det.score})
    elif ev.action in ("close", "direct_answer") and t.channel == PEER and t.status == "closed":
        inbound = linkage.find(s, t.id, PEER, "inbound")
        outbox.add(s, PEER, "feedback", {
            "incident_number": inbound.external_id if inbound else (t.extra or {}).get("incident_number", ""),
            "ticket": {"id": t.id, "number": t.number},
            "result": t.reply_text, "closed_at": t.closed_at.isoformat() if t.closed_at else None,
            "unit": t.responsible_unit.name if t.responsible_unit else None,
        }, ticket_id=t.id, key=f"police110.feedback.{t.id}.{ev.id}", after_commit=after_commit)
        if inbound is not None:
            linkage.touch(s, t, PEER, "inbound", after_commit, state="closed", last_note="已办结，反馈待送达110")


def _record_ack(db: Database, ticket_id: int, incident_number: str, message_id: str | None = None) -> bool:
    """110 acknowledged the push: its incident number and a "110已接警"
    event go on the ticket once, whichever arrives first (the delivery's
    answer, an ack webhook, or feedback that overtook a slow answer).  A
    repeated ack is remembered but changes nothing, and never moves the
    linkage back from feedback."""
    with db.session() as s:
        row = linkage.find(s, ticket_id, PEER, "outbound")
        already = row is not None and bool((row.detail or {}).get("acknowledged_at"))
    if already:
        if message_id:
            linkage.record_inbound(db, PEER, message_id, ticket_id, {"duplicate_ack": True})
        return False

    def apply(s, t, ev, after):
        row = linkage.find(s, t.id, PEER, "outbound")
        # 110's feedback can overtake its acknowledgement (a slow answer, or
        # one that never came): the linkage never goes back from feedback.
        later = row is not None and row.state in ("feedback", "closed")
        news = {} if later else {"state": "acknowledged", "last_note": f"110已接警，警情编号 {incident_number}"}
        linkage.touch(s, t, PEER, "outbound", after, external_id=incident_number,
                      detail={"acknowledged_at": utcnow().isoformat()}, **news)
        outbox.acknowledged(s, PEER, t.id, ("incident.create",), after)

    news = linkage.inbound(PEER, message_id, payload={"peer": PEER, "incident_number": incident_number,
                                                      "kind": "ack"}, apply=apply)
    jobs.tickets().act(linkage.system_actor(PEER), ticket_id, "linkage_update",
                       {"reason": f"110已接警，警情编号 {incident_number}"}, with_change=news)
    return True


def _acknowledged(db: Database, ticket_id: int) -> bool:
    with db.session() as s:
        row = linkage.find(s, ticket_id, PEER, "outbound")
        return row is not None and bool((row.detail or {}).get("acknowledged_at"))


def _delivered(msg: dict, resp: dict) -> None:
    db = jobs.database()
    number = str(resp.get("incident_number") or "").strip()[:64]
    if number:
        _record_ack(db, msg["ticket_id"], number)
    else:
        linkage.touch_by_id(db, msg["ticket_id"], PEER, "outbound", only_in=("pending", "failed"), state="sent",
                            last_note="已送达110，待回执")


_dead, _redriven = linkage.delivery_tracking(PEER, "outbound", "推送110失败", "110恢复应答，自动重新推送")


def _feedback_delivered(msg: dict, resp: dict) -> None:
    linkage.touch_by_id(jobs.database(), msg["ticket_id"], PEER, "inbound", state="feedback_sent",
                        last_note="办结反馈已送达110")


_feedback_dead, _feedback_redriven = linkage.delivery_tracking(
    PEER, "inbound", "办结反馈送达110失败", "110恢复应答，办结反馈自动重新送达", redriven_state="closed",
    fail_only_in=None)


# Outbox follow-ups by message kind (installed by hotline/wiring.py).
DELIVERED = {"incident.create": _delivered, "feedback": _feedback_delivered}
DEAD = {"incident.create": _dead, "feedback": _feedback_dead}
REDRIVEN = {"incident.create": _redriven, "feedback": _feedback_redriven}


# ------------------------------------------------------------------ webhooks from 110
class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Ack(_In):
    type: str
    ticket_number: str = Field(min_length=1, max_length=32)
    incident_number: str = Field(min_length=1, max_length=64)


class Feedback(_In):
    type: str
    ticket_number: str = Field(min_length=1, max_length=32)
    incident_number: str = Field("", max_length=64)
    result: str = Field(min_length=1, max_length=5000)
    status: str = Field("handled", max_length=32)


class CallerIn(_In):
    name: str = Field("", max_length=100)
    phone: str = Field("", max_length=32, pattern=r"^[0-9+\-\s*()]*$")


class Transfer(_In):
    type: str
    incident_number: str = Field(min_length=1, max_length=64)
    item: str = Field(min_length=1, max_length=50)
    description: str = Field(min_length=1, max_length=5000)
    caller: CallerIn = Field(default_factory=CallerIn)
    address: str = Field("", max_length=300)
    urgency: str = Field("general", pattern=r"^(emergency|utility|general|complex)$")


MODELS = {"ack": Ack, "feedback": Feedback, "transfer": Transfer}


class Replayed(DomainError):
    status, code = 409, "replayed"


def parse(data: dict) -> BaseModel:
    return validate_typed(MODELS, data)


def _ticket_id(db: Database, number: str) -> int:
    with db.session() as s:
        tid = s.scalar(select(Ticket.id).where(Ticket.number == number))
    if tid is None:
        raise NotFound(f"工单 {number} 不存在", {"ticket_number": "unknown"}, code="unknown_ticket")
    return tid


def handle_webhook(db: Database, data: dict, message_id: str, service=None) -> tuple[int, dict]:
    msg = parse(data)
    service = service or jobs.tickets()
    if isinstance(msg, Ack):
        tid = _ticket_id(db, msg.ticket_number)
        _record_ack(db, tid, msg.incident_number, message_id)
        return 200, {"ok": True, "ticket_number": msg.ticket_number}
    if isinstance(msg, Feedback):
        tid = _ticket_id(db, msg.ticket_number)
        if msg.incident_number and not _acknowledged(db, tid):
            # The feedback overtook the answer to our push (a slow 110, or a
            # timed-out attempt): 110 has the incident; say so first.
            _record_ack(db, tid, msg.incident_number)

        def apply(s, t, ev, after):
            outbox.acknowledged(s, PEER, t.id, ("incident.create",), after)
            linkage.touch(s, t, PEER, "outbound", after, state="feedback", last_note=f"110反馈：{msg.result[:200]}",
                          detail={"feedback_at": utcnow().isoformat(), "feedback_status": msg.status},
                          **({"external_id": msg.incident_number} if msg.incident_number else {}))

        news = linkage.inbound(PEER, message_id, payload={"peer": PEER, "kind": "feedback", "status": msg.status,
                                                          "incident_number": msg.incident_number,
                                                          "result": msg.result}, apply=apply)
        service.act(linkage.system_actor(PEER), tid, "linkage_update", {"reason": f"110反馈：{msg.result}"},
                    with_change=news)
        return 200, {"ok": True, "ticket_number": msg.ticket_number}
    return _transfer(db, msg, message_id, service)


def _transfer(db: Database, msg: Transfer, message_id: str, service) -> tuple[int, dict]:
    category = items().get(msg.item)
    if category is None:
        raise Invalid(f"事项“{msg.item}”不在110移交12345的清单内", {"item": "not on the agreed list"},
                      code="item_not_accepted")
    with db.session() as s:
        if s.scalar(select(Category.id).where(Category.full_name == category)) is None:
            log.error("HOTLINE_POLICE110_ITEMS maps %r to unknown category %r", msg.item, category)
            category = category.split("/")[0]
        actor = linkage.platform_actor(s, PEER)

    def apply(s, t, ev, after):
        linkage.touch(s, t, PEER, "inbound", after, state="received", trigger="peer",
                      external_id=msg.incident_number, last_note=f"110移交：{msg.item}",
                      detail={"item": msg.item})

    data = IntakeData(channel=PEER, description=msg.description, caller_name=msg.caller.name,
                      caller_phone=msg.caller.phone, address=msg.address, subject=f"110移交：{msg.item}",
                      urgency=msg.urgency, request_type="help", category=category,
                      extra={"incident_number": msg.incident_number, "police110_item": msg.item})
    # An emergency pushed by 110 arrives like one typed at intake: urgent,
    # on the board, with its clock.
    from integrations import emergency

    data = emergency.screen_intake(data)
    news = linkage.inbound(PEER, message_id, payload={"peer": PEER, "incident_number": msg.incident_number},
                           apply=apply)
    t, created = service.create_ticket(actor, data, idempotency_key=f"police110:{msg.incident_number}",
                                       with_change=news)
    if not created:
        raise Replayed("该警情已移交过", code="replayed")
    return 201, {"ok": True, "ticket_number": t.number, "status": t.status}

