"""The read paths supervisors and departments wait on, timed at scale.

Generates N realistic tickets in PostgreSQL (bench/generate.py: real
messages, the demo unit tree and routing catalogue, twelve months of
history loaded with COPY), then times, as the median of --runs runs after
one warm-up:

1. a department's inbox page: the API's list query (GET /api/v1/tickets)
   for the busiest department, its to-do statuses, newest first, page 1 of
   20, with the total count, built exactly as hotline/api.py builds it;
2. the same inbox over all statuses;
3. the overdue (督办) list of the city platform: dispatch.figures.overdue_tickets;
3a. the ticket list's pages and searches (dispatch.search.find, as GET
   /api/v1/tickets runs them: page 1 of 20 and the total): the city's list,
   a department's 待办 by deadline, the overdue filter, and search by ticket
   number, whole phone, last four digits, caller name and words;
4. the monthly figures for the city platform (every unit of its subtree,
   last complete month): dispatch.figures.unit_figures;
5. the same month for one department.

The target is under 100 ms at the median for each.  It prints the figures
of that month and, for each query, the plan's top lines (EXPLAIN ANALYZE)
and the indexes it used.

    python bench/queries.py [--tickets 1000000] [--database-url URL] [--runs 15] [--reuse]

Without --database-url it (re)creates hotline_bench on 127.0.0.1.  --reuse
keeps a database that already holds --tickets tickets.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import generate  # noqa: E402  (bench/generate.py; also sets HOTLINE_DATA_DIR if needed)
from sqlalchemy import func, select, text  # noqa: E402

TARGET_MS = 100.0


def inbox_query(actor, statuses: list[str] | None):
    """hotline/api.py list_tickets, for one page."""
    from dispatch.access import visible_clause
    from models import Ticket

    q = select(Ticket).where(visible_clause(actor))
    if statuses:
        q = q.where(Ticket.status.in_(statuses))
    count = select(func.count()).select_from(q.subquery())
    page = q.order_by(Ticket.created_at.desc(), Ticket.id.desc()).offset(0).limit(20)
    return count, page


def timed(fn, runs: int) -> tuple[float, list[float]]:
    fn()                                   # warm-up
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), samples


def explain(session, stmt) -> list[str]:
    sql = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    return [r[0] for r in session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))]


def plan_summary(lines: list[str], top: int = 8) -> list[str]:
    joined = "\n".join(lines)
    indexes = sorted(set(re.findall(r"Scan(?: Backward)? using (\w+)", joined)
                         + re.findall(r"Bitmap Index Scan on (\w+)", joined)))
    out = [line for line in lines[:top]]
    out.append(f"indexes used: {', '.join(indexes) or 'none (sequential scans)'}")
    out += [line.strip() for line in lines if line.strip().startswith("Execution Time")]
    return out


def run(url: str, tickets: int, runs: int, reuse: bool) -> int:
    from dispatch import figures as F
    from dispatch.access import Actor
    from models import Database, Ticket, Unit, User

    db = Database(url)
    have = 0
    if reuse:
        try:
            with db.session() as s:
                have = s.scalar(select(func.count()).select_from(Ticket))
        except Exception:
            have = 0
    if have != tickets:
        db.dispose()
        generate.generate(url, tickets)
        db = Database(url)
    else:
        print(f"reusing {url.rsplit('/', 1)[-1]} with {have:,} tickets")

    now = dt.datetime.now(dt.timezone.utc)
    month = F.Period.containing(now).previous_months(2)[0]       # last complete month
    with db.session() as s:
        def actor(username):
            return Actor.from_user(s.scalar(select(User).where(User.username == username)))
        busiest = s.execute(select(Ticket.responsible_unit_id, func.count())
                            .join(Unit, Unit.id == Ticket.responsible_unit_id).where(Unit.kind == "department")
                            .group_by(Ticket.responsible_unit_id).order_by(func.count().desc()).limit(1)).one()
        dept_unit = s.get(Unit, busiest[0])
        dept = actor(dept_unit.code)
        city = actor("supervisor")
        coordinator = actor("coordinator")
    print(f"\nbusiest department: {dept_unit.name} ({busiest[1]:,} tickets); month: {month.label}; "
          f"median of {runs} runs after a warm-up; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (the machine is shared: read the medians with it)\n")

    todo = ["dispatched", "handling", "returned"]
    results = []

    def bench(name, fn, stmts, fill=None):
        ms, samples = timed(fn, runs)
        name = name.format(**fill) if fill else name
        results.append((name, ms, min(samples), max(samples)))
        print(f"{name:<58} median {ms:7.1f} ms   (min {min(samples):.1f}, max {max(samples):.1f})")
        with db.session() as s:
            for stmt in stmts:
                for line in plan_summary(explain(s, stmt)):
                    print("      " + line)

    for label, statuses in (("inbox page, department to-do (dispatched,handling,returned)", todo),
                            ("inbox page, department, all statuses", None)):
        count_q, page_q = inbox_query(dept, statuses)

        def inbox(count_q=count_q, page_q=page_q):
            with db.session() as s:
                s.scalar(count_q)
                s.scalars(page_q).unique().all()
        bench(label, inbox, [count_q, page_q])

    def overdue():
        with db.session() as s:
            F.overdue_tickets(s, coordinator, now, 20, 0)
    subtree = select(Unit.id).where(Unit.path.startswith(coordinator.unit_path))
    oq = select(Ticket).where(Ticket.status.in_(F.STILL_HANDLED), Ticket.due_at < now, Ticket.platform_id.in_(subtree))
    bench("overdue list, city platform (督办), page 1", overdue,
          [select(func.count()).select_from(oq.subquery()), oq.order_by(Ticket.due_at, Ticket.id).limit(20)])

    search_benches(db, bench, city, dept, now)

    report = {}

    def monthly(who=city):
        with db.session() as s:
            report[who.username] = F.unit_figures(s, who, month, now)
    bench(f"monthly figures {month.label}, city platform (all units)", monthly, [])
    for sql, params in captured(db, lambda: monthly(city)):
        if sql.lstrip().startswith("SELECT") and "GROUP BY" in sql:
            print("      " + ("events part (figure_events ledger):" if "figure_events" in sql else "tickets part:"))
            for line in plan_summary(explain_raw(db, sql, params), top=5):
                print("        " + line)
    bench(f"monthly figures {month.label}, one department", lambda: monthly(dept), [])

    rep = report["supervisor"]
    print(f"\nfigures, {month.label}, 贵阳市12345 (city platform scope), as printed by bench/queries.py:\n")
    show = ["received", "sign_on_time_rate", "close_on_time_rate", "overdue", "returns", "returns_upheld",
            "extensions_requested", "satisfaction_rate", "resolution_rate", "direct_answer_rate",
            "avg_sign_hours", "avg_close_hours"]
    labels = {f.key: f.label for f in F.FIGURES}
    print(f"{'单位':<22}" + "".join(f"{labels[k]:>12}" for k in show))
    for r in rep.rows + [{"unit": {"name": "合计"}, "figures": rep.totals}]:
        f = r["figures"]
        if r["unit"]["name"] != "合计" and not f["received"]:
            continue
        cells = []
        for k in show:
            v = f[k]
            cells.append("—" if v is None else f"{v:.1%}" if k.endswith("rate") else
                         f"{v:.1f}" if k.startswith("avg") else f"{v:,}")
        print(f"{r['unit']['name'].replace('贵阳市', ''):<22}" + "".join(f"{c:>12}" for c in cells))
    print()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    slow = [r for r in results if r[1] >= TARGET_MS]
    for name, ms, *_ in results:
        print(f"{'OK ' if ms < TARGET_MS else 'SLOW'} {ms:7.1f} ms  {name}")
    db.dispose()
    return 1 if slow else 0


def search_benches(db, bench, city, dept, now) -> None:
    """The ticket list's search and paging (dispatch.search.find, as GET
    /api/v1/tickets runs it): page 1 of 20 with the total."""
    from dispatch import search
    from models import Ticket

    with db.session() as s:
        sample = s.execute(select(Ticket.number, Ticket.caller_phone, Ticket.caller_name)
                           .where(Ticket.id == s.scalar(select(func.max(Ticket.id))) // 2)).one()
        dept_sample = s.execute(select(Ticket.number, Ticket.caller_phone).where(
            Ticket.responsible_unit_id == dept.unit_id, Ticket.confidential.is_(False)).limit(1)).one()
    print(f"\nsearch samples: number {sample.number}, phone {sample.caller_phone}, name {sample.caller_name}; "
          f"department's phone {dept_sample.caller_phone}")
    cases = [
        ("list page, city platform, all tickets, newest first", city, {}),
        ("list page, department to-do by deadline (待办 default)", dept, {"status": "todo", "sort": "due"}),
        ("list page, city platform, overdue, by deadline", city, {"overdue": "1", "sort": "due"}),
        ("search number, city platform", city, {"q": sample.number}),
        ("search whole phone, city platform", city, {"q": sample.caller_phone}),
        ("search last four, city platform", city, {"q": sample.caller_phone[-4:]}),
        ("search last four, department", dept, {"q": dept_sample.caller_phone[-4:]}),
        ("search caller name, city platform", city, {"q": sample.caller_name}),
        ("search words 噪音扰民, city platform", city, {"q": "噪音扰民"}),
        ("search words 拖欠工资, department", dept, {"q": "拖欠工资"}),
        ("search words 物业 停车, city platform", city, {"q": "物业 停车"}),
        ("search words 公积金, city platform, 2nd page", city, {"q": "公积金", "page": "2"}),
    ]
    for label, who, args in cases:
        lq = search.list_args(args)
        found = {}

        def find(who=who, lq=lq, found=found):
            with db.session() as s:
                page = search.find(s, who, lq, now)
                found["total"] = page.total
        with db.session() as s:
            cond = search.conditions(s, who, lq, now)
            stmts = [select(func.count(Ticket.id)).where(*cond),
                     select(Ticket.id).where(*cond).order_by(*search._order(lq.sort)).limit(lq.per_page)
                     .offset((lq.page - 1) * lq.per_page)]
        bench(f"{label} (total {{total}})", find, stmts, found)


def captured(db, fn) -> list[tuple[str, dict]]:
    """The SQL statements ``fn`` runs, with their parameters."""
    from sqlalchemy import event

    out = []

    def grab(conn, cursor, statement, params, context, executemany):
        out.append((statement, params))
    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return out


def explain_raw(db, sql: str, params) -> list[str]:
    with db.engine.connect() as c:
        cur = c.connection.dbapi_connection.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return [r[0] for r in cur.fetchall()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--database-url", default=generate.DEFAULT_URL,
                    help="PostgreSQL database, (re)created unless --reuse finds it full (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--reuse", action="store_true", help="keep an existing database with --tickets tickets")
    a = ap.parse_args(argv)
    sys.exit(run(a.database_url, a.tickets, a.runs, a.reuse))


if __name__ == "__main__":
    main()
