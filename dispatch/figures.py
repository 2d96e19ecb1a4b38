"""The figures supervisors judge a hotline by (考核指标), per unit and period.

Pure queries over a SQLAlchemy ``Session``: no Flask.  The API, the .xlsx
export, the dashboard and bench/queries.py all call ``unit_figures``.

How things are counted (口径; docs/figures.md says the same for readers):

- The period is a range of local dates (Asia/Shanghai), both ends included;
  by default the current month.
- The tickets counted are those *accepted* in the period (按受理时间统计):
  ``created_at`` falls in it.  A report for a month therefore describes one
  fixed set of tickets, and every rate's numerator is a subset of its
  denominator.
- A ticket's state (received, signed, closed, overdue, resolved) counts for
  the unit holding it after its latest event (``ticket_events.unit_id``,
  which the service writes with the ticket columns in one transaction): its
  responsible unit, or its platform while it has none (awaiting dispatch,
  answered directly).  The service restarts the clocks of a ticket that is
  reassigned, so the holder answers for the deadlines it carries.
- Events (returns, extensions, callbacks, redos) count for the unit each
  event is *charged to*, recorded on the event when it happened
  (``ticket_events.charged_unit_id``: the holder just before it): a return,
  an extension request or approval for the unit holding the ticket, an
  upheld return for the unit it was taken from, a callback and a 不满意
  (redo) for the unit whose reply was rated (the platform for a direct
  answer).  The ``figure_events`` ledger copies that unit: a report is the
  same whenever the ledger was refreshed.
- 直办率: direct answers ÷ the tickets the platform *accepted* itself: a
  ticket the province accepted and forwarded down counts for the province,
  not for the city (``forward`` events in the ledger move it back).
- Cancelled and merged tickets count as received but have no deadlines.
- A reader sees rows only for units in their scope, as in dispatch.access:
  a department its own row, a city platform the units of its subtree, the
  province every unit.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Column, Integer, MetaData, SmallInteger, Table, and_, case, func, or_, select
from sqlalchemy.orm import Session

from dispatch import workflow
from dispatch.access import Actor, visible_clause
from models import PLATFORM_KINDS, Ticket, TicketEvent, Unit

LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no DST in China since 1991
# Statuses whose deadlines do not apply: the ticket is not the unit's work.
NO_DEADLINE = tuple(sorted(workflow.NO_DEADLINE))
# The close clock is paused while the unit waits for the citizen.
PAUSED = tuple(sorted(workflow.PAUSED))
# The unit's close clock runs in these (it stops at the unit's reply).
RUNNING = tuple(sorted(workflow.RUNNING))
# Still being handled: judged against the due (超期, the 督办 list).  A ticket
# awaiting the citizen is overdue when its due had passed before the pause
# began (the due stays set then; a pause holding time that was left has no
# due): docs/sla.md.
STILL_HANDLED = tuple(sorted(workflow.CLOCKED))
# Events the figures read, through the figure_events ledger (a direct answer
# shows on the ticket itself: closed with no unit).
EVENT_ACTIONS = ("return", "uphold_return", "reject_return", "request_extension", "approve_extension",
                 "callback", "redo")


@dataclass(frozen=True)
class Figure:
    key: str
    label: str          # column heading (zh-CN)
    kind: str           # count | rate | hours
    definition: str     # zh-CN, shown in the export's second sheet and the dashboard
    definition_en: str


FIGURES: list[Figure] = [
    Figure("received", "受理量", "count",
           "统计期内受理（创建）、现由本单位承办的工单数；无承办单位的（待派、直办）计入其平台。",
           "Tickets accepted in the period that this unit holds now (a platform holds those with no unit)."),
    Figure("signed", "已签收", "count", "上述工单中已签收的件数（当前一轮派单）。",
           "Of those, tickets signed for (current assignment)."),
    Figure("signed_on_time", "按时签收", "count", "签收时间不晚于签收时限的件数。",
           "Signed for no later than sign_due_at."),
    Figure("sign_on_time_rate", "按时签收率", "rate",
           "按时签收 ÷（已签收 + 已超签收时限仍未签收），不含撤销、并单。",
           "Signed on time / (signed + past the sign-for limit unsigned); cancelled and merged excluded."),
    Figure("closed", "已办结", "count", "上述工单中已办结（含已归档）的件数。",
           "Tickets closed (closed or archived)."),
    Figure("closed_on_time", "按时办结", "count",
           "已办结、且单位答复不晚于办结时限的件数（办结时限在单位答复时停止计时；批准延期、待群众补充期间暂停）。",
           "Closed, and the unit replied no later than due_at (the close clock stops at the reply and "
           "pauses for approved extensions and while awaiting the citizen)."),
    Figure("close_on_time_rate", "按时办结率", "rate",
           "按时办结 ÷（已办结 + 仍在办理且已超办结时限），仅计有办结时限的工单。",
           "Closed on time / (closed + still being handled past due_at); only tickets with a due date."),
    Figure("overdue", "超期", "count",
           "仍在办理（已派单、办理中、待群众补充、退单待审）且已过办结时限，或答复晚于办结时限的件数。",
           "Still being handled (dispatched, handling, awaiting the citizen, returned) past due_at now, "
           "or replied after due_at."),
    Figure("overdue_open", "超期未办结", "count",
           "仍在办理且已过办结时限的件数。已超期后转入待群众补充的仍计超期（暂停只停止尚余的时间）。",
           "Still being handled past due_at now; a ticket that was already overdue when it began to "
           "await the citizen stays overdue (a pause only stops time that was left)."),
    Figure("returns", "退单", "count", "本单位对上述工单提出的退单次数。",
           "Returns made by this unit on these tickets."),
    Figure("returns_upheld", "退单获准", "count", "平台同意并改派的退单次数（计入退单单位）。",
           "Returns upheld by the platform (counted for the unit that returned)."),
    Figure("returns_rejected", "退单驳回", "count", "平台驳回的本单位退单次数。",
           "Returns by this unit rejected."),
    Figure("extensions_requested", "延期申请", "count", "本单位提出的延期申请次数。",
           "Extension requests made by this unit."),
    Figure("extensions_approved", "延期批准", "count", "本单位获批准的延期次数。",
           "Extensions approved for this unit."),
    Figure("callbacks", "有效回访", "count",
           "有结果的回访次数：满意、基本满意、不满意（重办）；无法联系不计。",
           "Callbacks with a result: satisfied, basically satisfied, unsatisfied (redo); unreachable excluded."),
    Figure("satisfied", "满意", "count", "回访结果为满意的次数。", "Callbacks: satisfied."),
    Figure("basically_satisfied", "基本满意", "count", "回访结果为基本满意的次数。",
           "Callbacks: basically satisfied."),
    Figure("unsatisfied", "不满意", "count",
           "回访不满意（转重办）的次数，计入作出被评答复的单位（直办的计入平台），与重办派往何处无关。",
           "Callbacks: unsatisfied (redo), charged to the unit whose reply was rated (the platform for a "
           "direct answer), wherever the redo goes."),
    Figure("unreachable", "无法联系", "count", "回访无法联系的次数（不计入满意率）。",
           "Callbacks: unreachable (not in the satisfaction rate)."),
    Figure("satisfaction_rate", "满意率", "rate", "（满意 + 基本满意）÷ 有效回访。",
           "(Satisfied + basically satisfied) / callbacks with a result."),
    Figure("resolution_rate", "解决率", "rate",
           "现为已办结或已归档的工单 ÷（受理量 − 撤销 − 并单）。不满意重办的工单重新办结前不算解决。",
           "Tickets now closed or archived / (received − cancelled − merged); a redo is unresolved "
           "until closed again."),
    Figure("direct_answers", "直办", "count",
           "坐席依知识库直接答复办结、未派给任何单位的件数（计入平台；直办后又重办派单的不计）。",
           "Tickets answered directly by the agent at intake and never dispatched (counted for the platform)."),
    Figure("direct_answer_rate", "直办率", "rate",
           "直办 ÷ 本平台受理的工单数（省平台受理后转城市平台的计入省平台，不计入城市平台；仅平台行与合计）。",
           "Direct answers / tickets the platform accepted itself (a ticket the province accepted and "
           "forwarded counts for the province, not the city; platform rows and totals only)."),
    Figure("avg_sign_hours", "平均签收时长(小时)", "hours", "从派单到签收的平均小时数。",
           "Mean hours from dispatch to sign-for."),
    Figure("avg_close_hours", "平均办结时长(小时)", "hours", "从派单到办结的平均小时数。",
           "Mean hours from dispatch to closure."),
]
FIGURE_KEYS = [f.key for f in FIGURES]
# Raw sums behind the figures (totals are summed from these, then derived).
_RAW = ["received", "platform_received", "forwarded_in", "forwarded_out", "sign_due", "signed", "signed_on_time", "close_due", "closed",
        "closed_on_time", "overdue", "overdue_open", "returns", "returns_upheld", "returns_rejected",
        "extensions_requested", "extensions_approved", "satisfied", "basically_satisfied", "unsatisfied",
        "unreachable", "resolved", "resolvable", "direct_answers", "sign_seconds", "sign_count",
        "close_seconds", "close_count"]


# ------------------------------------------------------------------ periods
@dataclass(frozen=True)
class Period:
    """Local dates, both ends included."""
    first: dt.date
    last: dt.date

    def __post_init__(self):
        if self.last < self.first:
            raise ValueError("the period ends before it starts")
        if (self.last - self.first).days > 366 * 3:
            raise ValueError("the period is longer than three years")

    @classmethod
    def month(cls, year: int, month: int) -> "Period":
        first = dt.date(year, month, 1)
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        return cls(first, nxt - dt.timedelta(days=1))

    @classmethod
    def containing(cls, moment: dt.datetime) -> "Period":
        local = moment.astimezone(LOCAL_TZ)
        return cls.month(local.year, local.month)

    @property
    def is_month(self) -> bool:
        return self.first.day == 1 and self == Period.month(self.first.year, self.first.month)

    @property
    def label(self) -> str:
        if self.is_month:
            return f"{self.first.year}年{self.first.month}月"
        return f"{self.first:%Y-%m-%d} 至 {self.last:%Y-%m-%d}"

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC."""
        start = dt.datetime.combine(self.first, dt.time(), LOCAL_TZ)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), LOCAL_TZ)
        return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)

    def previous_months(self, n: int) -> list["Period"]:
        """The n months ending with the one this period starts in, oldest first."""
        y, m = self.first.year, self.first.month
        out = []
        for _ in range(n):
            out.append(Period.month(y, m))
            y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        return out[::-1]


# ------------------------------------------------------------------ scope
def visible_units_clause(actor: Actor):
    """Units whose figures ``actor`` may read (mirrors dispatch.access)."""
    if actor.is_province:
        return Unit.id.is_not(None)
    if actor.on_platform:
        return Unit.path.startswith(actor.unit_path)
    return Unit.id == actor.unit_id


def units_in_scope(session: Session, actor: Actor, unit_id: int | None = None) -> list[Unit]:
    """Rows of the report, in tree order.  ``unit_id`` narrows to that unit's
    subtree; an empty list means the actor may not see it."""
    q = select(Unit).where(visible_units_clause(actor))
    if unit_id is not None:
        root = session.get(Unit, unit_id)
        if root is None:
            return []
        q = q.where(Unit.path.startswith(root.path))
    return list(session.scalars(q.order_by(Unit.path)))


# ------------------------------------------------------------------ queries
# Bits of the per-ticket flags column: the database computes each condition
# once per ticket and groups by the result (a few hundred groups a month),
# which is cheaper than one filtered count per figure.
HAS_SIGN_DUE, SIGN_DUE_PAST, SIGNED, SIGNED_ON_TIME, HAS_DUE, DUE_PAST, CLOSED, REPLIED_ON_TIME, \
    REPLIED_LATE, NO_UNIT = (1 << n for n in range(10))


def _flags(t, now: dt.datetime):
    """The bit mask of one ticket, in four CASEs: the first true branch of
    each sets every bit it implies (a reply after the deadline means the
    deadline has passed)."""
    sign = case(
        (t.signed_at <= t.sign_due_at, SIGNED | SIGNED_ON_TIME | HAS_SIGN_DUE),
        (and_(t.signed_at.is_not(None), t.sign_due_at.is_not(None)), SIGNED | HAS_SIGN_DUE),
        (t.signed_at.is_not(None), SIGNED),
        (t.sign_due_at < now, HAS_SIGN_DUE | SIGN_DUE_PAST),
        (t.sign_due_at.is_not(None), HAS_SIGN_DUE),
        else_=0)
    close = case(
        (and_(t.replied_at <= t.due_at, t.due_at < now), HAS_DUE | REPLIED_ON_TIME | DUE_PAST),
        (t.replied_at <= t.due_at, HAS_DUE | REPLIED_ON_TIME),
        (t.replied_at > t.due_at, HAS_DUE | REPLIED_LATE | DUE_PAST),
        (t.due_at < now, HAS_DUE | DUE_PAST),
        (t.due_at.is_not(None), HAS_DUE),
        else_=0)
    return (sign + close + case((t.closed_at.is_not(None), CLOSED), else_=0)
            + case((t.responsible_unit_id.is_(None), NO_UNIT), else_=0))


def _durations(t, dialect: str):
    """Sums of the time from dispatch to sign-for and to closure (the counts
    come from the SIGNED and CLOSED bits of each group)."""
    if dialect == "postgresql":
        # Interval sums: one subtraction per ticket, converted once per group.
        return (func.sum(t.c.signed_at - t.c.dispatched_at), func.sum(t.c.closed_at - t.c.dispatched_at))

    def secs(a, b):
        return (func.julianday(a) - func.julianday(b)) * 86400.0
    return func.sum(secs(t.c.signed_at, t.c.dispatched_at)), func.sum(secs(t.c.closed_at, t.c.dispatched_at))


def _seconds(v) -> float:
    if v is None:
        return 0.0
    return v.total_seconds() if isinstance(v, dt.timedelta) else float(v)


def _ticket_counts(session: Session, lo: dt.datetime, hi: dt.datetime, now: dt.datetime,
                   scope: "Scope | None") -> dict:
    """Per unit: counts from the ticket columns."""
    t = Ticket
    q = (select(func.coalesce(t.responsible_unit_id, t.platform_id).label("unit_id"), t.platform_id,
                t.status, _flags(t, now).label("flags"), t.dispatched_at, t.signed_at, t.closed_at)
         .where(t.created_at >= lo, t.created_at < hi))
    if scope is not None:
        # Only what the rows need: tickets the units hold, and for platform
        # rows what they accepted.  A department reads its own tickets only.
        held = t.responsible_unit_id.in_(scope.unit_ids)
        q = q.where(or_(held, t.platform_id.in_(scope.platform_ids)) if scope.platform_ids else held)
    cohort = q.subquery()
    c = cohort.c
    sign, close = _durations(cohort, session.get_bind().dialect.name)
    q = (select(c.unit_id, c.platform_id, c.status, c.flags, func.count(), sign, close)
         .group_by(c.unit_id, c.platform_id, c.status, c.flags))
    out: dict[int, dict] = {}
    for unit_id, platform_id, status, f, n, sign_s, close_s in session.execute(q):
        r = out.setdefault(unit_id, _zero())
        out.setdefault(platform_id, _zero())["platform_received"] += n
        r["received"] += n
        running_overdue = status in STILL_HANDLED and bool(f & HAS_DUE) and bool(f & DUE_PAST)
        if running_overdue:
            r["overdue_open"] += n
        if status in ("closed", "archived"):
            r["resolved"] += n
            if f & NO_UNIT:
                # Closed without ever having a unit: answered at intake (直办).
                r["direct_answers"] += n
        if status in NO_DEADLINE:
            continue
        r["resolvable"] += n
        if f & HAS_SIGN_DUE and f & (SIGNED | SIGN_DUE_PAST):
            r["sign_due"] += n
        if f & SIGNED:
            r["signed"] += n
        if f & SIGNED_ON_TIME:
            r["signed_on_time"] += n
        if f & HAS_DUE and (f & CLOSED or running_overdue):
            r["close_due"] += n
        if f & CLOSED:
            r["closed"] += n
            if f & REPLIED_ON_TIME:
                r["closed_on_time"] += n
        if running_overdue or f & REPLIED_LATE:
            r["overdue"] += n
        if f & SIGNED:
            r["sign_seconds"] += _seconds(sign_s)
            r["sign_count"] += n
        if f & CLOSED and not f & NO_UNIT:       # a direct answer was never dispatched
            r["close_seconds"] += _seconds(close_s)
            r["close_count"] += n
    return out


# The ledger (migration 0005_figure_events).  Derived from ticket_events, so
# it lives outside the models' metadata: nothing else writes it.
LEDGER = Table(
    "figure_events", MetaData(),
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("ticket_id", Integer, nullable=False),
    Column("ticket_created_at", Ticket.__table__.c.created_at.type, nullable=False),
    Column("unit_id", Integer),
    Column("kind", SmallInteger, nullable=False),
)
# What a ledger row counts as.  Small integers keep the monthly aggregate a
# group-by over two integer columns.
LEDGER_KINDS = {1: "returns", 2: "returns_upheld", 3: "returns_rejected", 4: "extensions_requested",
                5: "extensions_approved", 6: "satisfied", 7: "basically_satisfied", 8: "unsatisfied",
                9: "unreachable", 10: "forwarded_out", 11: "forwarded_in"}
_KIND_OF_ACTION = {"return": 1, "uphold_return": 2, "reject_return": 3, "request_extension": 4,
                   "approve_extension": 5, "redo": 8, "forward": 10}
_KIND_OF_SATISFACTION = {"satisfied": 6, "basically_satisfied": 7, "unsatisfied": 8, "unreachable": 9}
# Events are appended in id order but a transaction can commit after a later
# one: each refresh looks this many ids back (duplicates are ignored).
LOOKBACK = 5000


def refresh_ledger(session: Session, lookback: int = LOOKBACK) -> None:
    """Copy the figure events not yet in the ledger, with the unit each one
    was charged to when it happened (``charged_unit_id``; a forward also
    counts for the platform it went to).  Cheap when up to date (the last
    ``lookback`` events); the first run fills it from the whole history."""
    e, t = TicketEvent, Ticket
    mark = session.scalar(select(func.max(LEDGER.c.event_id))) or 0
    rows = _ledger_rows(e, t, mark - lookback, e.charged_unit_id, _KIND_OF_ACTION, "forward")
    inbound = _ledger_rows(e, t, mark - lookback, e.unit_id, {"forward": 11}, None)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    cols = ["event_id", "ticket_id", "ticket_created_at", "unit_id", "kind"]
    session.execute(insert(LEDGER).from_select(cols, rows).on_conflict_do_nothing(index_elements=["event_id"]))
    # The second row of a forward (for the platform it went to) has its own key.
    session.execute(insert(LEDGER).from_select(cols, inbound).on_conflict_do_nothing(index_elements=["event_id"]))


def _ledger_rows(e, t, after: int, unit, kinds: dict, extra: str | None):
    """``event_id`` of the inbound forward row is negated: one key per row."""
    satisfaction = e.payload["satisfaction"].as_string()
    branches = [(e.action == a, k) for a, k in kinds.items()]
    if "callback" in EVENT_ACTIONS and extra is not None:
        # The payload is read once per callback.  "unsatisfied" is refused by
        # the service today (that is a redo), but counts if ever recorded.
        branches.insert(0, (e.action == "callback", case(_KIND_OF_SATISFACTION, value=satisfaction, else_=0)))
    actions = list(EVENT_ACTIONS) + ([extra] if extra else []) if extra is not None else list(kinds)
    key = e.id if extra is not None else -e.id
    return (select(key, e.ticket_id, t.created_at, unit, case(*branches, else_=0))
            .select_from(e).join(t, t.id == e.ticket_id)
            .where(e.id > after, e.action.in_(actions)))


def _event_counts(session: Session, lo: dt.datetime, hi: dt.datetime, scope: "Scope | None") -> dict:
    """Per unit: returns, extensions and callbacks of the period's tickets."""
    refresh_ledger(session)
    f = LEDGER.c
    q = select(f.unit_id, f.kind, func.count()).where(f.ticket_created_at >= lo, f.ticket_created_at < hi)
    if scope is not None:
        q = q.where(f.unit_id.in_(scope.unit_ids))
    rows = session.execute(q.group_by(f.unit_id, f.kind)).all()
    out: dict[int, dict] = {}
    for unit_id, kind, n in rows:
        if unit_id is not None and kind in LEDGER_KINDS:
            out.setdefault(unit_id, _zero())[LEDGER_KINDS[kind]] += n
    return out


def _zero() -> dict:
    return {k: 0 for k in _RAW}


def _ratio(a, b):
    return round(a / b, 4) if b else None


def accepted_here(raw: dict) -> int:
    """Tickets a platform accepted itself: those it runs, less those forwarded
    to it from above, plus those it forwarded down."""
    return raw["platform_received"] - raw["forwarded_in"] + raw["forwarded_out"]


def derive(raw: dict, platform: bool) -> dict:
    """The published figures from the raw sums."""
    callbacks = raw["satisfied"] + raw["basically_satisfied"] + raw["unsatisfied"]
    return {
        "received": raw["received"], "signed": raw["signed"], "signed_on_time": raw["signed_on_time"],
        "sign_on_time_rate": _ratio(raw["signed_on_time"], raw["sign_due"]),
        "closed": raw["closed"], "closed_on_time": raw["closed_on_time"],
        "close_on_time_rate": _ratio(raw["closed_on_time"], raw["close_due"]),
        "overdue": raw["overdue"], "overdue_open": raw["overdue_open"],
        "returns": raw["returns"], "returns_upheld": raw["returns_upheld"],
        "returns_rejected": raw["returns_rejected"],
        "extensions_requested": raw["extensions_requested"], "extensions_approved": raw["extensions_approved"],
        "callbacks": callbacks, "satisfied": raw["satisfied"],
        "basically_satisfied": raw["basically_satisfied"], "unsatisfied": raw["unsatisfied"],
        "unreachable": raw["unreachable"],
        "satisfaction_rate": _ratio(raw["satisfied"] + raw["basically_satisfied"], callbacks),
        "resolution_rate": _ratio(raw["resolved"], raw["resolvable"]),
        "direct_answers": raw["direct_answers"],
        "direct_answer_rate": _ratio(raw["direct_answers"], accepted_here(raw)) if platform else None,
        "avg_sign_hours": round(raw["sign_seconds"] / raw["sign_count"] / 3600, 2) if raw["sign_count"] else None,
        "avg_close_hours": (round(raw["close_seconds"] / raw["close_count"] / 3600, 2)
                            if raw["close_count"] else None),
    }


@dataclass(frozen=True)
class Scope:
    """The units a report has rows for (the queries read only their data)."""
    unit_ids: list[int]
    platform_ids: list[int]


@dataclass
class Report:
    period: Period
    generated_at: dt.datetime
    rows: list[dict]        # {"unit": {...}, "figures": {...}}
    totals: dict

    def as_json(self) -> dict:
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                       "label": self.period.label, "timezone": "Asia/Shanghai"},
            "generated_at": self.generated_at.isoformat(),
            "rows": self.rows, "totals": self.totals,
        }


def unit_figures(session: Session, actor: Actor, period: Period, now: dt.datetime,
                 unit_id: int | None = None, units: Iterable[Unit] | None = None) -> Report:
    """One row per unit in the actor's scope (or ``unit_id``'s subtree), and
    a totals row.  ``now`` decides what is overdue."""
    units = list(units) if units is not None else units_in_scope(session, actor, unit_id)
    lo, hi = period.utc_bounds()
    # A report on every unit reads everything; narrower ones only their units.
    every_unit = actor.is_province and len(units) == session.scalar(select(func.count()).select_from(Unit))
    scope = None if every_unit else Scope([u.id for u in units], [u.id for u in units if u.kind in PLATFORM_KINDS])
    tickets = _ticket_counts(session, lo, hi, now, scope)
    events = _event_counts(session, lo, hi, scope)
    rows, total = [], _zero()
    for u in units:
        raw = _zero()
        for part in (tickets.get(u.id), events.get(u.id)):
            for k, v in (part or {}).items():
                raw[k] += v
        for k in _RAW:
            total[k] += raw[k]
        rows.append({"unit": {"id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
                              "parent_id": u.parent_id},
                     "figures": derive(raw, u.kind in PLATFORM_KINDS)})
    # The direct-answer rate of the totals is over what the visible
    # platforms accepted; a scope without a platform (a department's) has none.
    totals = derive(total, any(u.kind in PLATFORM_KINDS for u in units))
    return Report(period, now, rows, totals)


def trend(session: Session, actor: Actor, period: Period, months: int, now: dt.datetime,
          unit_id: int | None = None) -> list[dict]:
    """Totals for each of ``months`` months ending with ``period``'s month."""
    units = units_in_scope(session, actor, unit_id)
    return [{"month": p.first.strftime("%Y-%m"), "label": p.label,
             "totals": unit_figures(session, actor, p, now, units=units).totals}
            for p in period.previous_months(months)]


def overdue_tickets(session: Session, actor: Actor, now: dt.datetime, limit: int = 50,
                    offset: int = 0) -> tuple[int, list[Ticket]]:
    """Tickets still being handled past their close deadline that ``actor``
    may see, the most overdue first (the 督办 list)."""
    q = select(Ticket).where(visible_clause(actor), Ticket.status.in_(STILL_HANDLED), Ticket.due_at < now)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(Ticket.due_at, Ticket.id).offset(offset).limit(limit)).all()
    return total, list(rows)


def refresh_ledger_job() -> None:
    """Periodic: keep the ledger close to the events, so an event counts for
    the unit that held the ticket when it happened (not at the next report)."""
    from runtime.jobs import database

    with database().session() as s:
        refresh_ledger(s)
