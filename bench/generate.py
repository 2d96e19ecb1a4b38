"""Make a realistic hotline history in PostgreSQL for the benchmarks.

A fresh database (migrated, demo-seeded: the Guizhou/Guiyang unit tree, the
category tree and the routing catalogue) gets N tickets spread over the last
twelve months, with their events, loaded with COPY:

- texts are real citizen messages: the project's copy under classifier/data
  (train.csv.gz, with topic labels) when present, else
  ../shared/data/complaints/train.csv; more messages and the government's
  replies from unlabelled.csv (classifier/data, else ../shared/data);
- each ticket's category is its message's topic (or a narrower category
  under it), its place a district of Guiyang, its unit whatever the demo
  routing catalogue says (dispatch.routing.route, cached);
- volume grows over the year, dips at weekends and follows office hours;
- the life of each ticket follows the workflow: auto or manual dispatch,
  2 % accepted by the province and forwarded to the city, 6 % returned
  (upheld or rejected), sign-for and closure mostly on time, 4 % extensions,
  5 % waiting for the citizen (some after the due, some with an extension
  approved during the wait), 2 % reassigned after signing (and after an
  extension), callbacks with 满意/基本满意/不满意 (a redo, a third of them to
  another unit)/无法联系, 8 % direct answers (some redone), a few cancelled
  and merged, and a small backlog of stuck tickets that is overdue now.
  Recent tickets are still open.  Every event carries the unit holding the
  ticket after it and the unit it is charged to, as the service writes them.

Secondary indexes and foreign keys are dropped during the load and rebuilt
afterwards, then the tables are vacuumed and analysed.

    python bench/generate.py [--tickets 1000000] [--database-url URL] [--seed 12345]
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import sys
import time
from bisect import bisect
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
if not (ROOT / "data" / "divisions").is_dir() and not os.environ.get("HOTLINE_DATA_DIR") \
        and (SHARED / "divisions").is_dir():
    os.environ["HOTLINE_DATA_DIR"] = str(SHARED)

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/hotline_bench"
HOUR, DAY = 3600.0, 86400.0
LOCAL = 8 * HOUR          # Asia/Shanghai offset
# Wall-clock limits in seconds (sign for, close) by urgency, like the
# interim table in dispatch.clocks: the bench needs plausible deadlines, not
# the holiday calendar.
LIMITS = {"emergency": (900, 2 * HOUR), "utility": (1800, DAY), "general": (DAY, 7 * DAY),
          "complex": (DAY, 15 * DAY)}
URGENCY = [("general", 84), ("utility", 8), ("emergency", 2), ("complex", 6)]
CHANNEL = [("phone", 62), ("web", 12), ("app", 10), ("wechat", 12), ("email", 2), ("open311", 2)]
REQUEST = [("complaint", 40), ("help", 20), ("consultation", 25), ("report", 6), ("suggestion", 7), ("praise", 2)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
SATISFACTION = [("satisfied", 72), ("basically_satisfied", 14), ("unreachable", 6), ("unsatisfied", 8)]

TICKET_COLUMNS = ("id", "number", "channel", "request_type", "caller_name", "caller_phone", "confidential",
                  "subject", "description", "address", "division_code", "category_id", "category_confidence",
                  "suggested_category_id", "needs_review", "platform_id", "responsible_unit_id", "status",
                  "urgency", "sign_due_at", "due_at", "dispatched_at", "signed_at", "replied_at", "closed_at",
                  "reply_text", "return_count", "merged_into_id", "call_id", "transcript", "extra",
                  "created_by_id", "intake_key", "created_at", "updated_at", "version", "phone_tail",
                  "search_text")
EVENT_COLUMNS = ("id", "ticket_id", "at", "actor_id", "actor_label", "action", "from_status", "to_status",
                 "reason", "payload", "unit_id", "charged_unit_id")
NULL = "\\N"


def esc(s: str) -> str:
    """COPY text format."""
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def weighted(pairs):
    values = [v for v, _ in pairs]
    cum = list(accumulate(w for _, w in pairs))
    total = cum[-1]

    def pick(rnd: random.Random):
        return values[bisect(cum, rnd.random() * total)]
    return pick


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# ------------------------------------------------------------------ setup
def fresh_database(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def load_texts():
    """[(subject, description, topic or None)], [reply]: the project's copies
    first, the shared data otherwise."""
    own = ROOT / "classifier" / "data"
    labelled_files = sorted(own.glob("train.csv*")) if own.is_dir() else []
    labelled_files = labelled_files[:1] or [SHARED / "complaints" / "train.csv"]
    unlabelled = own / "unlabelled.csv"
    if not unlabelled.exists():
        unlabelled = SHARED / "complaints" / "unlabelled.csv"
    texts, replies = [], []
    for path in labelled_files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                t = " ".join(row["text"].split())
                texts.append((esc(t[:30]), esc(t[:400]), row.get("label") or None))
    if unlabelled.exists():
        with open(unlabelled, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                body = " ".join((row.get("body") or "").split())
                if body:
                    texts.append((esc((row.get("subject") or body)[:60]), esc(body[:400]), None))
                if row.get("reply"):
                    replies.append(" ".join(row["reply"].split())[:300])
    if not texts:
        raise SystemExit("no message texts found (classifier/data or ../shared/data/complaints)")
    replies = replies or ["经核查，已按规定处理，并已电话告知来电人。"]
    return texts, replies, [str(p) for p in labelled_files] + [str(unlabelled)]


def catalogue(url: str):
    """Units, users, categories and a routing cache from the seeded database."""
    from sqlalchemy import select

    from dispatch.routing import route
    from hotline.seed import _open_csv
    from models import Category, Database, Unit, User

    db = Database(url)
    with db.session() as s:
        units = {u.code: u for u in s.scalars(select(Unit))}
        users = list(s.scalars(select(User)))
        cats = list(s.scalars(select(Category)))
        city, prov = units["gy12345"], units["gz12345"]
        by_id = {c.id: c for c in cats}
        top = {c.name: c for c in cats if c.level == 1}
        under: dict[int, list[int]] = {}
        for c in cats:
            root = c
            while root.parent_id:
                root = by_id[root.parent_id]
            under.setdefault(root.id, []).append(c.id)
        with _open_csv("areas") as f:
            districts = [(r["code"], r["name"]) for r in csv.DictReader(f) if r["cityCode"] == "5201"]
        routes: dict[tuple[int, str], int] = {}
        for topic in top.values():
            for cid in under[topic.id]:
                for code, _ in districts:
                    routes[(cid, code)] = route(s, city, by_id[cid], code).unit.id
        dept_user = {u.unit_id: (u.id, u.display_name) for u in users if u.role == "department"}
        staff = {u.username: (u.id, u.display_name) for u in users}
        info = {
            "city": city.id, "province": prov.id, "gz_rst": units["gz_rst"].id,
            "unit_code": {u.id: u.code for u in units.values()},
            "handling_units": sorted(uid for uid in dept_user if units_by_id(units)[uid].parent_id == city.id
                                     or units_by_id(units)[uid].kind == "district"),
            "top": {name: c.id for name, c in top.items()}, "under": under, "routes": routes,
            "districts": districts, "dept_user": dept_user, "staff": staff,
        }
    db.dispose()
    return info


def units_by_id(units):
    return {u.id: u for u in units.values()}


# ------------------------------------------------------------------ life of a ticket
class Generator:
    def __init__(self, info, texts, replies, now: float, seed: int):
        self.i = info
        self.texts, self.replies = texts, [esc(r) for r in replies]
        self.reply_payloads = [esc(json.dumps({"reply_text": r[:60]}, ensure_ascii=False)) for r in replies]
        self.now = now
        self.rnd = random.Random(seed)
        self.urgency, self.channel = weighted(URGENCY), weighted(CHANNEL)
        self.request, self.satisfaction = weighted(REQUEST), weighted(SATISFACTION)
        # Messages without a topic get one the catalogue routes to a unit.
        platforms = {info["city"], info["province"]}
        self.topics = [name for name, cid in info["top"].items()
                       if info["routes"][(cid, info["districts"][0][0])] not in platforms]
        labelled = [t for t in texts if t[2] in info["top"]]
        self.labelled_share = len(labelled) / len(texts)
        self.event_id = 0
        self.agent = info["staff"]["agent"]
        self.dispatcher = info["staff"]["dispatcher"]
        self.province_agent = info["staff"]["province_agent"]
        # Search terms (dispatch.search.index_words), cut once per distinct text.
        self.words: dict[str, list[str]] = {}

    def terms(self, *texts: str) -> str:
        from dispatch.search import index_words

        out: dict[str, None] = {}
        for t in texts:
            w = self.words.get(t)
            if w is None:
                w = self.words[t] = index_words(t).split()
            out.update(dict.fromkeys(w))
        return esc(" ".join(out))

    def ev(self, out, tid, at, who, action, frm, to, reason="", payload="{}", unit=None, charged=None):
        self.event_id += 1
        out.append(f"{self.event_id}\t{tid}\t{ts(at)}\t{who[0]}\t{esc(who[1])}\t{action}\t"
                   f"{frm or NULL}\t{to or NULL}\t{reason}\t{payload}\t{unit or NULL}\t{charged or unit or NULL}\n")

    def ticket(self, tid: int, created: float, ev_out: list) -> str:
        r, i, now = self.rnd, self.i, self.now
        subject, description, topic = self.texts[r.randrange(len(self.texts))]
        if topic not in i["top"]:
            topic = self.topics[r.randrange(len(self.topics))]
        top_id = i["top"][topic]
        family = i["under"][top_id]
        cat = top_id if r.random() < 0.5 else family[r.randrange(len(family))]
        district, dname = i["districts"][r.randrange(len(i["districts"]))]
        urgency = self.urgency(r)
        sign_limit, close_limit = LIMITS[urgency]
        platform = i["city"]
        agent = self.agent
        unit = i["routes"][(cat, district)]
        if unit == i["city"]:                       # the catalogue's fallback: a dispatcher chooses
            unit = i["handling_units"][r.randrange(len(i["handling_units"]))]
            auto = False
        else:
            auto = r.random() < 0.85
        forwarded = False
        roll = r.random()
        if roll < 0.03:                             # accepted by the province, for a province department
            platform, unit, agent = i["province"], i["gz_rst"], self.province_agent
        elif roll < 0.05:                           # accepted by the province, forwarded to the city
            platform, agent, forwarded = i["province"], self.province_agent, True
        st = {"status": "accepted", "unit": None, "dispatched": None, "sign_due": None, "due": None,
              "signed": None, "replied": None, "closed": None, "returns": 0, "needs_review": False,
              "reply": "", "merged_into": None, "last": created, "version": 1, "platform": platform,
              "start": None, "pauses": []}
        conf = r.uniform(0.55, 0.99) if auto else r.uniform(0.2, 0.55)
        self.ev(ev_out, tid, created, agent, "accept", None, "accepted",
                payload=f'{{"urgency": "{urgency}", "category": "{cat}", "confidence": {conf:.3f}}}',
                unit=platform)
        if forwarded:
            platform = st["platform"] = i["city"]
            self.ev(ev_out, tid, created, agent, "forward", "accepted", "accepted", "按派单目录转下级平台",
                    f'{{"unit": "gy12345", "from_platform_id": {i["province"]}}}', unit=platform,
                    charged=i["province"])

        def holder():
            return st["unit"] or st["platform"]

        def move(at, who, action, frm, to, reason="", payload="{}", after=None):
            """An event charged to the holder before it; ``after`` is the new holder."""
            self.ev(ev_out, tid, at, who, action, frm, to, reason, payload, unit=after or holder(), charged=holder())
            st["status"], st["last"] = to, at
            st["version"] += 1

        def note(at, who, action, status, payload="{}"):
            self.ev(ev_out, tid, at, who, action, status, status, "", payload, unit=holder())

        def assign(u, at):
            st.update(unit=u, dispatched=at, sign_due=at + sign_limit, signed=None, start=at, pauses=[])
            st["due"] = at + close_limit

        def due_now():
            """The close due with the pauses' union (wall-clock, like LIMITS)."""
            due = st["start"] + close_limit
            for p_from, p_to in merged(st["pauses"]):
                if p_from >= due:
                    break
                if p_to is None:
                    return None
                due += p_to - p_from
            return due

        def other_unit(u):
            choices = i["handling_units"]
            new = choices[r.randrange(len(choices))]
            return new if new != u else choices[(choices.index(new) + 1) % len(choices)]

        kind = r.random()
        if kind < 0.08:                             # 直办: answered from the knowledge base
            at = created + r.uniform(60, 900)
            if at <= now:
                k = r.randrange(len(self.replies))
                st["reply"] = self.replies[k]
                st["replied"] = st["closed"] = at
                move(at, agent, "direct_answer", "accepted", "closed", payload=self.reply_payloads[k])
                cb = at + r.uniform(2 * HOUR, 30 * HOUR)
                if r.random() < 0.5 and cb <= now:
                    sat = self.satisfaction(r)
                    if sat == "unsatisfied" and unit != platform:
                        # A redo of the platform's answer: charged to the platform.
                        move(cb, agent, "redo", "closed", "dispatched", "回访不满意，重办",
                             '{"satisfaction": "unsatisfied", "round": 2}', after=unit)
                        assign(unit, cb)
                        st["replied"] = st["closed"] = None
                    else:
                        sat = "satisfied" if sat == "unsatisfied" else sat
                        move(cb, agent, "callback", "closed", "archived", payload=f'{{"satisfaction": "{sat}"}}')
            return self._row(tid, created, subject, description, dname, district, cat, top_id, conf, platform,
                             urgency, st, agent)

        at = created + (r.uniform(1, 30) if auto else r.uniform(300, 3600))
        if at > now:
            st["needs_review"] = not auto
            return self._row(tid, created, subject, description, dname, district, cat, top_id, conf, platform,
                             urgency, st, agent)
        move(at, agent if auto else self.dispatcher, "dispatch", "accepted", "dispatched",
             "按派单目录自动派单" if auto else "人工派单", f'{{"unit": "{i["unit_code"][unit]}", "auto": {str(auto).lower()}}}',
             after=unit)
        assign(unit, at)
        if kind < 0.11:                             # cancelled (1.5 %) or merged (1.5 %)
            at2 = at + r.uniform(HOUR, 2 * DAY)
            if at2 <= now:
                if kind < 0.095:
                    move(at2, self.dispatcher, "cancel", "dispatched", "cancelled", "来电人撤回诉求")
                elif tid > 1:
                    st["merged_into"] = r.randint(max(1, tid - 300), tid - 1)
                    move(at2, self.dispatcher, "merge", "dispatched", "merged", "重复诉求并单",
                         f'{{"into": "{st["merged_into"]}"}}')
            return self._row(tid, created, subject, description, dname, district, cat, top_id, conf, platform,
                             urgency, st, agent)
        stuck = r.random() < 0.004                 # never closed: the overdue backlog
        for round_ in range(2):                    # a 不满意 callback sends it round once more
            dept = i["dept_user"].get(st["unit"], self.dispatcher)
            # 退单 (before or instead of signing)
            if round_ == 0 and r.random() < 0.06:
                at = st["dispatched"] + r.uniform(0.1, 0.9) * sign_limit
                if at > now:
                    break
                st["returns"] += 1
                move(at, dept, "return", "dispatched", "returned", "非本单位职责",
                     f'{{"return_count": {st["returns"]}, "suggested_unit": ""}}')
                at = at + r.uniform(0.3 * HOUR, 8 * HOUR)
                if at > now:
                    break
                if r.random() < 0.6:
                    previous = st["unit"]
                    new = other_unit(previous)
                    move(at, self.dispatcher, "uphold_return", "returned", "dispatched", "同意退单并改派",
                         f'{{"unit": "{i["unit_code"][new]}", "previous_unit_id": {previous}}}', after=new)
                    assign(new, at)
                    dept = i["dept_user"].get(new, self.dispatcher)
                else:
                    st["signed"] = at
                    move(at, self.dispatcher, "reject_return", "returned", "handling", "属本单位职责")
            if st["status"] == "dispatched":
                late = r.random() < 0.08
                at = st["dispatched"] + sign_limit * (r.uniform(1.05, 3.0) if late else r.uniform(0.02, 0.95))
                if at > now:
                    break
                st["signed"] = at
                move(at, dept, "sign_for", "dispatched", "handling",
                     payload='{"on_time": true}' if at <= st["sign_due"] else '{"on_time": false}')
            extended = False
            if round_ == 0 and r.random() < 0.04:  # 延期
                at = st["signed"] + r.uniform(HOUR, 2 * DAY)
                if at > now:
                    break
                if not self._extension(r, st, move, dept, at, "handling", due_now):
                    break
                extended = True
            if r.random() < 0.05:                  # 待群众补充, sometimes after the due
                at = st["signed"] + close_limit * r.uniform(0.05, 1.2)
                if at > now:
                    break
                move(at, dept, "await_citizen", "handling", "awaiting_citizen", "请来电人补充材料")
                st["pauses"].append([at, None])
                st["due"] = due_now()
                back = at + r.uniform(2 * HOUR, 4 * DAY)
                if r.random() < 0.3:               # an extension approved during the wait
                    ask = at + (back - at) * r.uniform(0.1, 0.6)
                    if ask > now or not self._extension(r, st, move, dept, ask, "awaiting_citizen", due_now):
                        break
                if back > now:
                    break
                for p in st["pauses"]:
                    if p[1] is None:               # the wait, closed once
                        p[1] = back
                move(back, dept, "resume", "awaiting_citizen", "handling", "材料已补",
                     f'{{"paused_for_s": {int(back - at)}}}')
                st["due"] = due_now()
            if round_ == 0 and (extended or r.random() < 0.02) and r.random() < 0.4:   # 改派 after events
                at = st["last"] + r.uniform(HOUR, DAY)
                if at > now:
                    break
                previous, new = st["unit"], other_unit(st["unit"])
                move(at, self.dispatcher, "reassign", "handling", "dispatched", "职责调整改派",
                     f'{{"unit": "{i["unit_code"][new]}", "previous_unit_id": {previous}}}', after=new)
                assign(new, at)
                dept = i["dept_user"].get(new, self.dispatcher)
                at = st["dispatched"] + sign_limit * r.uniform(0.02, 0.95)
                if at > now:
                    break
                st["signed"] = at
                move(at, dept, "sign_for", "dispatched", "handling", payload='{"on_time": true}')
            if stuck:
                break
            late = r.random() < 0.10
            span = st["due"] - st["dispatched"]
            close = st["dispatched"] + span * (r.uniform(1.02, 2.5) if late else r.uniform(0.05, 0.95))
            close = max(close, st["signed"] + 20 * 60, st["last"] + 20 * 60)
            reply = max(st["signed"] + 60, st["last"] + 60, close - r.uniform(600, 6 * HOUR))
            if reply > now:
                break
            k = r.randrange(len(self.replies))
            st["reply"], st["replied"] = self.replies[k], reply
            # The close clock stops at the reply (dispatch.workflow).
            on_time = "true" if reply <= st["due"] else "false"
            move(reply, dept, "reply", "handling", "replied",
                 payload=self.reply_payloads[k][:-1] + f', "on_time": {on_time}}}')
            if close > now:
                break
            st["closed"] = close
            move(close, dept if r.random() < 0.7 else self.dispatcher, "close", "replied", "closed",
                 payload=f'{{"on_time": {on_time}}}')
            if r.random() > 0.75:
                break
            at = close + r.uniform(2 * HOUR, 30 * HOUR)
            if at > now:
                break
            sat = self.satisfaction(r)
            if sat == "unsatisfied" and round_ == 0:
                # A third of the redos go to another unit; the 不满意 stays
                # with the unit whose reply was rejected.
                target = other_unit(st["unit"]) if r.random() < 0.33 else st["unit"]
                move(at, agent, "redo", "closed", "dispatched", "回访不满意，重办",
                     '{"satisfaction": "unsatisfied", "round": 2}', after=target)
                assign(target, at)
                st["replied"] = st["closed"] = None
                continue
            sat = "basically_satisfied" if sat == "unsatisfied" else sat
            tries = 1
            if sat == "unreachable":                # the third failed try ends the callback
                for tries in (1, 2):
                    note(at, agent, "callback_no_answer", "closed", f'{{"attempts": {tries}}}')
                    at += r.uniform(HOUR, 4 * HOUR)
                tries = 3
                if at > now:
                    break
            move(at, agent, "callback", "closed", "archived",
                 payload=f'{{"satisfaction": "{sat}", "note": "", "attempts": {tries}}}')
            break
        return self._row(tid, created, subject, description, dname, district, cat, top_id, conf, platform,
                         urgency, st, agent)

    def _extension(self, r, st, move, dept, at, status, due_now) -> bool:
        """A request and its decision; False when the decision is after now."""
        days = r.choice((3, 5, 7, 10))
        move(at, dept, "request_extension", status, status, "需协调多部门", f'{{"days": {days}}}')
        at += r.uniform(HOUR, 6 * HOUR)
        if at > self.now:
            return False
        if r.random() < 0.75:
            st["pauses"].append([at, at + days * DAY])
            st["due"] = due_now()
            move(at, self.dispatcher, "approve_extension", status, status, "同意延期", f'{{"days": {days}}}')
        else:
            move(at, self.dispatcher, "refuse_extension", status, status, "理由不充分")
        return True

    def _row(self, tid, created, subject, description, dname, district, cat, top_id, conf, platform, urgency,
             st, agent) -> str:
        r = self.rnd
        local = time.gmtime(created + LOCAL)
        phone = f"1{r.choice('3589')}{r.randrange(10 ** 9):09d}"
        channel = self.channel(r)
        # (drawn in the order they always were: the same seed makes the same history)
        request = self.request(r)
        name = SURNAMES[r.randrange(len(SURNAMES))] + r.choice(("先生", "女士"))
        confidential = "t" if r.random() < 0.02 else "f"
        address = f"贵州省贵阳市{dname}某路{r.randint(1, 300)}号"
        opt = lambda v: ts(v) if v is not None else NULL  # noqa: E731
        return "\t".join((
            str(tid), f"{local.tm_year:04d}{local.tm_mon:02d}{local.tm_mday:02d}{tid:07d}", channel,
            request, name, phone, confidential, subject, description, address,
            district, str(cat), f"{conf:.3f}", str(top_id), "t" if st["needs_review"] else "f", str(platform),
            str(st["unit"]) if st["unit"] else NULL, st["status"], urgency,
            opt(st["sign_due"]), opt(st["due"]), opt(st["dispatched"]), opt(st["signed"]), opt(st["replied"]),
            opt(st["closed"]), st["reply"], str(st["returns"]),
            str(st["merged_into"]) if st["merged_into"] else NULL,
            f"call-{tid}" if channel == "phone" else NULL, "", "{}", str(agent[0]), NULL,
            ts(created), ts(st["last"]), str(st["version"]), phone[-4:], self.terms(subject, description, address),
        )) + "\n"


def merged(pauses):
    """Pauses as a sorted union of intervals (an open one, ``None``, absorbs the rest)."""
    out = []
    for p_from, p_to in sorted(pauses, key=lambda p: p[0]):
        if out and (out[-1][1] is None or p_from <= out[-1][1]):
            out[-1][1] = None if out[-1][1] is None or p_to is None else max(out[-1][1], p_to)
        else:
            out.append([p_from, p_to])
    return out


def creation_times(n: int, now: float, seed: int) -> list[float]:
    """n moments over the last 365 days: volume grows 0.8 → 1.2 over the
    year, weekends at 70 %, office hours busiest (Beijing time)."""
    r = random.Random(seed + 1)
    start_day = (int((now + LOCAL) // DAY) - 365) * DAY - LOCAL      # a local midnight
    day_w = []
    for d in range(366):
        weekday = time.gmtime(start_day + LOCAL + d * DAY).tm_wday
        day_w.append((0.8 + 0.4 * d / 365) * (0.7 if weekday >= 5 else 1.0))
    hour_w = [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 4, 9, 12, 12, 11, 8, 9, 11, 11, 10, 9, 7, 6, 5, 4, 3, 2]
    day_cum, hour_cum = list(accumulate(day_w)), list(accumulate(hour_w))
    out = []
    for _ in range(n):
        d = bisect(day_cum, r.random() * day_cum[-1])
        h = bisect(hour_cum, r.random() * hour_cum[-1])
        t = start_day + d * DAY + h * HOUR + r.random() * HOUR
        out.append(t if t < now else now - r.random() * DAY)
    out.sort()
    return out


# ------------------------------------------------------------------ load
def _secondary(conn, tables):
    """(drop statements, create statements) for FKs, unique constraints and
    plain indexes on ``tables`` (primary keys stay)."""
    drops, creates = [], []
    rows = conn.execute("""select conname, conrelid::regclass::text, pg_get_constraintdef(oid), contype
                           from pg_constraint where conrelid = any(%s::regclass[]) and contype in ('f', 'u')
                           order by contype""", (list(tables),)).fetchall()
    for name, table, definition, _ in rows:
        drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    idx = conn.execute("""select c.relname, pg_get_indexdef(i.indexrelid) from pg_index i
                          join pg_class c on c.oid = i.indexrelid
                          where i.indrelid = any(%s::regclass[]) and not i.indisprimary
                          and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)""",
                       (list(tables),)).fetchall()
    drops += [f'DROP INDEX "{name}"' for name, _ in idx]
    creates += [definition for _, definition in idx]
    creates += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for name, table, definition, kind in sorted(rows, key=lambda x: x[3] != "u")]
    return drops, creates


def generate(url: str, n: int, seed: int = 12345, log=print) -> dict:
    import psycopg

    from hotline.seed import seed_demo
    from models import Database
    from models.migrate import upgrade

    t0 = time.time()
    fresh_database(url)
    upgrade(url)
    db = Database(url)
    seed_demo(db, password="bench-password")
    db.dispose()
    info = catalogue(url)
    texts, replies, sources = load_texts()
    log(f"database ready in {time.time() - t0:.1f}s; {len(texts)} message texts, {len(replies)} replies from "
        f"{', '.join(sources)}")
    now = time.time()
    gen = Generator(info, texts, replies, now, seed)
    times = creation_times(n, now, seed)

    pg = psycopg_url(url)
    with psycopg.connect(pg, autocommit=True) as c:
        drops, creates = _secondary(c, ("tickets", "ticket_events"))
        for sql in drops:
            c.execute(sql)
    t1 = time.time()
    with psycopg.connect(pg) as ct, psycopg.connect(pg) as ce:
        for c in (ct, ce):
            c.execute("SET synchronous_commit = off")
        with ct.cursor().copy(f"COPY tickets ({', '.join(TICKET_COLUMNS)}) FROM STDIN") as cpt, \
                ce.cursor().copy(f"COPY ticket_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as cpe:
            batch_t, batch_e = [], []
            step = max(1, n // 20)
            for k, created in enumerate(times, start=1):
                batch_t.append(gen.ticket(k, created, batch_e))
                if k % 5000 == 0 or k == n:
                    cpt.write("".join(batch_t))
                    cpe.write("".join(batch_e))
                    batch_t.clear()
                    batch_e.clear()
                if k % step == 0 or k == n:
                    el = time.time() - t1
                    log(f"  {k:>9,} tickets  {gen.event_id:>10,} events  {el:6.1f}s  "
                        f"{k / el:8,.0f} tickets/s  eta {el / k * (n - k):5.0f}s", flush=True)
    t2 = time.time()
    log(f"COPY done in {t2 - t1:.1f}s; rebuilding {len(creates)} indexes and constraints …", flush=True)
    with psycopg.connect(pg, autocommit=True) as c:
        c.execute("SET maintenance_work_mem = '1GB'")
        for sql in creates:
            c.execute(sql)
        for table in ("tickets", "ticket_events"):
            c.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        t3 = time.time()
        log(f"indexes in {t3 - t2:.1f}s; VACUUM ANALYZE …", flush=True)
        c.execute("VACUUM (ANALYZE) tickets")
        c.execute("VACUUM (ANALYZE) ticket_events")
        counts = dict(c.execute("SELECT status, count(*) FROM tickets GROUP BY status ORDER BY 2 DESC").fetchall())
    t4 = time.time()
    ledger = fill_ledger(url)
    log(f"figure_events ledger: {ledger:,} rows in {time.time() - t4:.1f}s", flush=True)
    total = time.time() - t0
    log(f"generated {n:,} tickets and {gen.event_id:,} events in {total:.0f}s; statuses: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    return {"tickets": n, "events": gen.event_id, "seconds": total, "statuses": counts, "now": now}


def fill_ledger(url: str) -> int:
    """The figures' event ledger, as the first figures request would fill it."""
    import psycopg

    from dispatch.figures import refresh_ledger
    from models import Database

    db = Database(url)
    with db.session() as s:
        refresh_ledger(s)
    db.dispose()
    with psycopg.connect(psycopg_url(url), autocommit=True) as c:
        c.execute("VACUUM (ANALYZE) figure_events")
        return c.execute("SELECT count(*) FROM figure_events").fetchone()[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--database-url", default=DEFAULT_URL,
                    help="PostgreSQL database to (re)create; DROPPED first (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=12345)
    a = ap.parse_args(argv)
    generate(a.database_url, a.tickets, a.seed)


if __name__ == "__main__":
    main()
