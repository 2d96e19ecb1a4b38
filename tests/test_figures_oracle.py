"""The oracle: random histories through the real service, figures checked
against an independent replay of the event log.

Hypothesis generates histories: one to three tickets accepted at random
moments between late October 2026 and January 2027 (month ends, the
provisional 2027 calendar), then random steps, each a random wait on frozen
time (time-machine) and a random action among those the workflow table
allows in the ticket's status (every action of dispatch.workflow), taken by
a person of a role the table allows, with random parameters (units, days,
callback results, merge targets).  A refused action writes nothing and the
history goes on.  All histories share one PostgreSQL database.

The oracle below is deliberately simple and independent of dispatch/figures
and of the units the service records: it reads ``ticket_events`` in order,
works out who holds each ticket from the events' own payloads (``unit`` of
dispatch/reassign/uphold_return/redo, ``forward``, the accepting person's
platform), recomputes each ticket's sign-for and close dues from the dispatch
moments and the pause events with the pure SLA maths, and counts every
figure of docs/figures.md per unit and month from those definitions.  After
each history the project's report (``dispatch.figures.unit_figures``, as the
province sees it) must equal the oracle's, every unit row and the totals,
for the months the history touched; at the end, for every month.  The
recorded ``unit_id`` / ``charged_unit_id`` of every event must equal the
replay's holder after / before it.

ORACLE_EXAMPLES (default 450: about a thousand ticket histories) sets the
number of generated examples; ORACLE_RANDOM=1 draws new ones instead of the
fixed CI sequence.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
import time_machine
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from sqlalchemy import select

from dispatch import figures as F, sla
from dispatch.access import SYSTEM, Actor
from dispatch.calendar import LOCAL_TZ, SHIPPED_DIR, WorkCalendar
from dispatch.errors import DomainError
from dispatch.intake import IntakeData
from dispatch.workflow import TRANSITIONS
from models import SlaClock, Ticket, TicketEvent, Unit, User
from tests.dispatch import factories

UTC = dt.timezone.utc
FIRST = dt.datetime(2026, 10, 24, 0, 0, tzinfo=LOCAL_TZ)
SPAN_MIN = 80 * 24 * 60                                   # histories start within 80 days
LAST = dt.datetime(2027, 3, 20, 0, 0, tzinfo=LOCAL_TZ)    # no step after this
REPORT_AT = dt.datetime(2027, 3, 25, 12, 0, tzinfo=LOCAL_TZ)
EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "450"))
RANDOM = os.environ.get("ORACLE_RANDOM", "") == "1"
CLOCKED = {"dispatched", "handling", "awaiting_citizen", "returned"}
DISPATCHING = {"dispatch", "uphold_return", "reassign", "redo"}
TEXTS = [("公司拖欠工资三个月", "老板拖欠农民工工资三个月共两万元，多次讨要无果"),
         ("孩子入学学位问题", "片区学校说学位已满，请问教育局如何安排入学"),
         ("咨询", "请问社保卡在哪里补办")]
ACTIONS = sorted(TRANSITIONS)
# How often an allowed action is drawn: the main path most, side paths often,
# what ends a ticket early or records without moving it seldom, so that
# histories get deep (every action is still drawn).
WEIGHT = {a: 1 for a in ACTIONS} | {a: 12 for a in ("dispatch", "sign_for", "reply", "close", "callback")} | {
    a: 5 for a in ("return", "uphold_return", "reject_return", "reassign", "await_citizen", "resume",
                   "request_extension", "approve_extension", "refuse_extension", "give_input",
                   "callback_no_answer", "redo", "forward", "direct_answer")}


# ------------------------------------------------------------------ the oracle
CAL = WorkCalendar.from_directories(SHIPPED_DIR)


@dataclass
class Life:
    """One ticket, replayed from its events."""
    created: dt.datetime
    urgency: str = "general"
    platform: int | None = None
    holder: int | None = None
    ever_given: bool = False
    status: str = "accepted"
    dispatched: dt.datetime | None = None
    signed: dt.datetime | None = None
    replied: dt.datetime | None = None
    closed: dt.datetime | None = None
    sign_due: dt.datetime | None = None
    close_start: dt.datetime | None = None
    carried: dt.datetime | None = None      # a merged ticket's earlier close clock, for round 1
    round: int = 1
    pauses: list = field(default_factory=list)   # [from, to|None]
    close_running: bool = False
    due: dt.datetime | None = None
    events: list = field(default_factory=list)   # (kind, charged unit)


def _due(life: Life) -> dt.datetime | None:
    spans = []
    for p in life.pauses:
        if p[0] == "extension":
            spans.append((p[1], sla.add_working_days(p[1], p[2], CAL)))
        else:
            spans.append((p[1], p[2]))
    return sla.due_with_pauses(life.close_start, life.urgency, spans, CAL, stage=sla.CLOSE)


def replay(rows, unit_by_code: dict, platform_of_user: dict) -> tuple[dict, list]:
    """{ticket_id: Life} from (ticket_id, id, at, action, from, to, payload,
    actor_id, unit_id, charged_unit_id) rows in id order; and the events whose
    recorded units disagree with the replay."""
    lives: dict[int, Life] = {}
    wrong = []
    for tid, eid, at, action, frm, to, payload, actor_id, unit_id, charged_id in rows:
        at = at.astimezone(UTC)
        life = lives.get(tid)
        if action == "accept":
            life = lives[tid] = Life(created=at, urgency=payload.get("urgency", "general"),
                                     platform=platform_of_user[actor_id])
            life.holder = life.platform
        before = life.holder
        if action == "forward":
            life.platform = life.holder = unit_by_code[payload["unit"]]
        if action in DISPATCHING or (action == "dispatch"):
            new = unit_by_code[payload["unit"]]
            if action == "redo":
                life.round += 1
                life.replied = life.closed = None
            life.holder, life.ever_given = new, True
            life.dispatched, life.signed = at, None
            life.sign_due = sla.due_after(at, sla.DEFAULT_LIMITS.limit(sla.SIGN, life.urgency), CAL)
            start = at
            if life.carried is not None and life.round == 1:
                start = min(at, life.carried)
            life.close_start, life.pauses, life.close_running = start, [], True
            life.due = _due(life)
        elif action == "sign_for":
            life.signed = at
        elif action == "reject_return" and life.signed is None:
            life.signed = at
        elif action == "await_citizen" and life.close_running:
            life.pauses.append(["citizen", at, None])
            life.due = _due(life)
        elif action == "resume" and life.close_running:
            for p in life.pauses:
                if p[0] == "citizen" and p[2] is None:
                    p[2] = at
            life.due = _due(life)
        elif action == "approve_extension" and life.close_running:
            life.pauses.append(["extension", at, payload["days"]])
            life.due = _due(life)
        elif action == "reply":
            life.replied, life.close_running = at, False
        elif action == "close":
            life.closed = at
        elif action == "direct_answer":
            life.replied = life.closed = at
        elif action in ("cancel", "merge"):
            life.close_running = False
        elif action == "absorb" and payload.get("clock_started_at"):
            carried = dt.datetime.fromisoformat(payload["clock_started_at"])
            if frm == "accepted":
                life.carried = carried
            elif life.close_running:
                life.close_start = carried
                life.due = _due(life)
        elif action == "notify_citizen" and payload.get("kind") == "merged_lead_closed":
            life.replied = life.closed = at
        if to:
            life.status = to
        # What the event counts as, for the unit holding the ticket before it.
        kind = {"return": "returns", "uphold_return": "returns_upheld", "reject_return": "returns_rejected",
                "request_extension": "extensions_requested", "approve_extension": "extensions_approved",
                "redo": "unsatisfied"}.get(action)
        if action == "callback":
            kind = payload["satisfaction"]
        if kind:
            life.events.append((kind, before))
        if action == "forward":
            life.events.append(("forwarded_out", before))
            life.events.append(("forwarded_in", life.holder))
        if (unit_id, charged_id) != (life.holder, before):
            wrong.append((tid, eid, action, (unit_id, charged_id), (life.holder, before)))
    return lives, wrong


def month_of(moment: dt.datetime) -> tuple[int, int]:
    local = moment.astimezone(LOCAL_TZ)
    return local.year, local.month


def oracle_rows(lives: dict, month: tuple[int, int], now: dt.datetime, units: list) -> tuple[dict, dict]:
    """Every figure of docs/figures.md per unit, and the totals, for ``month``."""
    raw = defaultdict(lambda: defaultdict(float))
    for life in lives.values():
        if month_of(life.created) != month:
            continue
        r = raw[life.holder]
        r["received"] += 1
        raw[life.platform]["platform_received"] += 1
        running_overdue = life.status in CLOCKED and life.due is not None and life.due < now
        r["overdue_open"] += running_overdue
        done = life.status in ("closed", "archived")
        r["resolved"] += done
        r["direct_answers"] += done and not life.ever_given
        for kind, unit in life.events:
            raw[unit][kind] += 1
        if life.status in ("cancelled", "merged"):
            continue
        r["resolvable"] += 1
        signed = life.signed is not None
        r["signed"] += signed
        r["signed_on_time"] += signed and life.sign_due is not None and life.signed <= life.sign_due
        r["sign_due"] += life.sign_due is not None and (signed or life.sign_due < now)
        closed = life.closed is not None
        r["closed"] += closed
        on_time = closed and life.due is not None and life.replied is not None and life.replied <= life.due
        r["closed_on_time"] += on_time
        r["close_due"] += life.due is not None and (closed or running_overdue)
        replied_late = life.replied is not None and life.due is not None and life.replied > life.due
        r["overdue"] += running_overdue or replied_late
        if signed:
            r["sign_seconds"] += (life.signed - life.dispatched).total_seconds()
            r["sign_count"] += 1
        if closed and life.ever_given:
            r["close_seconds"] += (life.closed - life.dispatched).total_seconds()
            r["close_count"] += 1
    rows = {}
    total = defaultdict(float)
    for u in units:
        one = raw.get(u.id, {})
        for k, v in one.items():
            total[k] += v
        rows[u.id] = published(one, u.kind in ("province_platform", "city_platform"))
    return rows, published(total, True)


def published(r, platform: bool) -> dict:
    g = lambda k: r.get(k, 0)  # noqa: E731
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    callbacks = g("satisfied") + g("basically_satisfied") + g("unsatisfied")
    accepted_here = g("platform_received") - g("forwarded_in") + g("forwarded_out")
    return {
        "received": g("received"), "signed": g("signed"), "signed_on_time": g("signed_on_time"),
        "sign_on_time_rate": ratio(g("signed_on_time"), g("sign_due")),
        "closed": g("closed"), "closed_on_time": g("closed_on_time"),
        "close_on_time_rate": ratio(g("closed_on_time"), g("close_due")),
        "overdue": g("overdue"), "overdue_open": g("overdue_open"),
        "returns": g("returns"), "returns_upheld": g("returns_upheld"), "returns_rejected": g("returns_rejected"),
        "extensions_requested": g("extensions_requested"), "extensions_approved": g("extensions_approved"),
        "callbacks": callbacks, "satisfied": g("satisfied"), "basically_satisfied": g("basically_satisfied"),
        "unsatisfied": g("unsatisfied"), "unreachable": g("unreachable"),
        "satisfaction_rate": ratio(g("satisfied") + g("basically_satisfied"), callbacks),
        "resolution_rate": ratio(g("resolved"), g("resolvable")),
        "direct_answers": g("direct_answers"),
        "direct_answer_rate": ratio(g("direct_answers"), accepted_here) if platform else None,
        "avg_sign_hours": round(g("sign_seconds") / g("sign_count") / 3600, 2) if g("sign_count") else None,
        "avg_close_hours": round(g("close_seconds") / g("close_count") / 3600, 2) if g("close_count") else None,
    }


# ------------------------------------------------------------------ the world
class World:
    """The seeded database, its people and units, the service, the counters."""

    def __init__(self, db):
        self.db = db
        # The service as every entry point gets it (all hooks and peer actions).
        self.svc = factories.service(db)
        self.unsure = factories.service(db, confidence=0.2)
        with db.session() as s:
            units = list(s.scalars(select(Unit).order_by(Unit.path)))
            users = list(s.scalars(select(User)))
            self.units = units
            self.unit_by_code = {u.code: u.id for u in units}
            self.unit = {u.id: u for u in units}
            self.platform_of_user = {u.id: u.unit_id for u in users}
            self.people = {u.username: Actor.from_user(u) for u in users}
            self.dept_user = {u.unit_id: Actor.from_user(u) for u in users if u.role == "department"}
        self.city, self.province = self.unit_by_code["gy12345"], self.unit_by_code["gz12345"]
        # Units a platform's people may dispatch to (with a person to act for them).
        city_path = self.unit[self.city].path
        self.targets = {
            self.city: sorted(uid for uid in self.dept_user if self.unit[uid].path.startswith(city_path)),
            self.province: sorted(self.dept_user),
        }
        self.platform_people = {
            self.city: [self.people[n] for n in ("agent", "dispatcher", "coordinator", "supervisor")],
            self.province: [self.people[n] for n in ("admin", "province_agent")],
        }
        self.histories = self.actions_taken = self.refused = self.cells = self.checks = 0
        self.tried: dict[str, int] = defaultdict(int)
        self.done: dict[str, int] = defaultdict(int)
        self.lives: dict[int, Life] = {}
        self.last_event = 0

    def actor(self, t: Ticket, action: str, pick: int) -> Actor | None:
        roles = TRANSITIONS[action].roles
        options = []
        if "system" in roles:
            options.append(SYSTEM)
        if "department" in roles:
            if action == "give_input":
                with self.db.session() as s:
                    from models import Assignment
                    assist = s.scalars(select(Assignment.unit_id).where(Assignment.ticket_id == t.id,
                                                                         Assignment.role == "assist")).all()
                options += [self.dept_user[u] for u in assist if u in self.dept_user]
            elif t.responsible_unit_id in self.dept_user:
                options.append(self.dept_user[t.responsible_unit_id])
        options += [p for p in self.platform_people[t.platform_id] if p.role in roles]
        if action in ("uphold_return", "reject_return") and t.return_count >= 3:
            options = [p for p in options if p.role in ("coordinator", "admin")]
        return options[pick % len(options)] if options else None

    def params(self, t: Ticket, action: str, d: dict, mine: list[int]) -> dict:
        targets = self.targets[t.platform_id]
        other = [u for u in targets if u != t.responsible_unit_id] or targets
        unit = other[d["unit"] % len(other)]
        p = {"reason": "测试理由", "suggested_unit": "其他单位", "reply_text": "已处理并答复来电人",
             "unit_id": unit, "days": 1 + d["days"] % 10}
        if action == "dispatch" and d["assist"]:
            p["assist_unit_ids"] = [u for u in other if u != unit][:1]
        if action == "forward":
            p["unit_id"] = self.city
        if action == "callback":
            p["satisfaction"] = ("satisfied", "basically_satisfied", "unreachable")[d["days"] % 3]
        if action == "redo":
            p["satisfaction"] = "unsatisfied"
            if t.responsible_unit_id is not None and d["days"] % 2:
                del p["unit_id"]                # back to the same unit
        if action == "merge":
            others = [m for m in mine if m != t.id]
            p["into_ticket_id"] = others[d["unit"] % len(others)] if others else 0
        if action in ("sla_warning", "sla_overdue"):
            with self.db.session() as s:
                running = s.scalars(select(SlaClock.id).where(SlaClock.ticket_id == t.id,
                                                              SlaClock.stopped_at.is_(None))).all()
            p["clock_id"] = running[d["unit"] % len(running)] if running else 0
        return p

    def run(self, history: dict) -> tuple[set[tuple[int, int]], list[int]]:
        """Play one generated history; the months it touched and its tickets."""
        start = FIRST + dt.timedelta(minutes=history["start"])
        mine: list[int] = []
        months = set()
        with time_machine.travel(start, tick=False) as clock:
            for k, (text, who, urgency, address) in enumerate(history["tickets"]):
                actor = self.people["province_agent" if who == 2 else "agent"]
                svc = self.unsure if who == 1 else self.svc
                subject, body = TEXTS[text]
                t, _ = svc.create_ticket(actor, IntakeData(
                    channel="phone", subject=subject, description=body, caller_phone="13800000000",
                    urgency=urgency, address="贵阳市云岩区某路1号" if address else ""))
                mine.append(t.id)
                months.add(month_of(t.created_at))
                clock.shift(dt.timedelta(minutes=history["gaps"][k]))
            for step in history["steps"]:
                now = dt.datetime.now(UTC) + dt.timedelta(minutes=step["wait"])
                if now > LAST:
                    break
                clock.move_to(now)
                tid = mine[step["ticket"] % len(mine)]
                with self.db.session() as s:
                    t = s.get(Ticket, tid)
                    allowed = [a for a in ACTIONS if t.status in TRANSITIONS[a].sources]
                    if not allowed:
                        continue
                    action = _draw(allowed, step["action"])
                    actor = self.actor(t, action, step["who"])
                    params = self.params(t, action, step, mine) if actor else {}
                if actor is None:
                    continue
                self.tried[action] += 1
                try:
                    self.svc.act(actor, tid, action, params)
                    self.actions_taken += 1
                    self.done[action] += 1
                except DomainError:
                    self.refused += 1           # a refusal writes nothing; the history goes on
        self.histories += len(mine)
        return months, mine

    def check(self, months, tickets: list[int] | None = None) -> None:
        """The project's figures equal the oracle's for ``months``.  The
        replay covers ``tickets`` (a history's own: the others' lives are
        final, histories do not touch each other's tickets), or every ticket
        from scratch when None."""
        e = TicketEvent
        q = select(e.ticket_id, e.id, e.at, e.action, e.from_status, e.to_status, e.payload, e.actor_id,
                   e.unit_id, e.charged_unit_id).order_by(e.ticket_id, e.id)
        with self.db.session() as s:
            rows = s.execute(q if tickets is None else q.where(e.ticket_id.in_(tickets))).all()
            replayed, wrong = replay(rows, self.unit_by_code, self.platform_of_user)
            assert not wrong, f"events whose recorded units disagree with the replay: {wrong[:5]}"
            lives = replayed if tickets is None else self.lives
            lives.update(replayed)
            admin = self.people["admin"]
            for month in sorted(months):
                report = F.unit_figures(s, admin, F.Period.month(*month), REPORT_AT)
                expected, expected_total = oracle_rows(lives, month, REPORT_AT, self.units)
                for row in report.rows:
                    uid = row["unit"]["id"]
                    for key in F.FIGURE_KEYS:
                        got, want = row["figures"][key], expected[uid][key]
                        assert _same(got, want), (f"{month} {row['unit']['code']} {key}: project {got}, "
                                                  f"oracle {want}")
                        self.cells += 1
                for key in F.FIGURE_KEYS:
                    assert _same(report.totals[key], expected_total[key]), \
                        f"{month} totals {key}: project {report.totals[key]}, oracle {expected_total[key]}"
                    self.cells += 1
                self.checks += 1


def _draw(allowed: list[str], n: int) -> str:
    n %= sum(WEIGHT[a] for a in allowed)
    for a in allowed:
        n -= WEIGHT[a]
        if n < 0:
            return a
    raise AssertionError("unreachable")


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 0.011 if isinstance(a, float) or isinstance(b, float) else a == b


# ------------------------------------------------------------------ hypothesis
steps = st.fixed_dictionaries({
    # Minutes, skewed: mostly minutes to hours, sometimes days or weeks.
    "wait": st.one_of(st.integers(0, 180), st.integers(180, 2 * 1440), st.integers(2 * 1440, 12 * 1440)),
    # Choices as uniform draws (hypothesis favours small integers, which
    # would favour whatever comes first in a list).
    "ticket": st.sampled_from(range(3)), "action": st.sampled_from(range(10_000)), "who": st.sampled_from(range(6)),
    "unit": st.sampled_from(range(40)), "days": st.sampled_from(range(40)), "assist": st.booleans(),
})
histories = st.fixed_dictionaries({
    "start": st.integers(0, SPAN_MIN),
    # (text, who: city agent / city agent unsure / province agent, urgency, Guiyang address)
    "tickets": st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2),
                                  st.sampled_from(["general", "general", "utility", "emergency", "complex"]),
                                  st.booleans()), min_size=1, max_size=3),
    "gaps": st.lists(st.integers(0, 600), min_size=3, max_size=3),
    "steps": st.lists(steps, min_size=6, max_size=28),
})


def test_figures_equal_an_independent_replay_of_the_event_log(seeded_db, pg_url, record_property, capsys):
    if pg_url is None:
        pytest.skip("the oracle runs on PostgreSQL (CI)")
    world = World(seeded_db)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
              phases=(Phase.generate,),  # the database accumulates: shrinking would mislead
              suppress_health_check=list(HealthCheck))
    @given(histories)
    def one(history):
        months, mine = world.run(history)
        try:
            world.check(months, mine)
        except AssertionError as e:
            raise AssertionError(f"{e}\nafter the history {history}") from None

    one()
    everything = set()
    with seeded_db.session() as s:
        for created in s.scalars(select(Ticket.created_at)):
            everything.add(month_of(created))
    before = world.cells
    world.check(everything)                     # the whole log replayed from scratch
    summary = (f"oracle: {world.histories} ticket histories in {EXAMPLES} generated examples, "
               f"{world.actions_taken} actions taken, {world.refused} refused; {world.cells} figure cells "
               f"compared in {world.checks} unit×month reports ({world.cells - before} in the final pass over "
               f"{len(everything)} months), all equal")
    done = ", ".join(f"{a} {world.done.get(a, 0)}/{world.tried.get(a, 0)}" for a in ACTIONS)
    record_property("oracle", summary)
    record_property("oracle_actions", done)
    with capsys.disabled():
        print(f"\n{summary}\nactions taken/tried: {done}")
    assert world.histories >= EXAMPLES and world.actions_taken > EXAMPLES * 2
    if EXAMPLES >= 100:
        # Every action of the workflow was tried, and all but recompute_dues
        # (nothing to recompute without a calendar change) went through.
        tried = {a for a, n in world.tried.items() if n}
        done_ = {a for a, n in world.done.items() if n}
        assert tried == set(ACTIONS), set(ACTIONS) - tried
        assert done_ >= set(ACTIONS) - {"recompute_dues"}, set(ACTIONS) - done_
