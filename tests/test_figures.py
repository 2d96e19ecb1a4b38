"""Figures supervisors need: each figure against a hand-worked October,
the .xlsx monthly report, and who may see which rows.

Tickets are made through the API (intake with an explicit category, so
routing is deterministic) and moved through the real TicketService, with
time frozen at each step.  On-time and late steps are one minute and thirty
days after the deadline's start, so the outcome does not depend on how the
SLA calendar counts working days.
"""
from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from sqlalchemy import select

from dispatch import figures as F
from models import Ticket
from tests.helpers import SCHOOL, WAGES, actor, bearer, console_login, unit

UTC = dt.timezone.utc
BASE = dt.datetime(2026, 10, 13, 2, 0, tzinfo=UTC)      # Tue 13 Oct 2026, 10:00 Beijing time
NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)        # when the report is read
MIN, HOUR, DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)
LABOUR = "劳动和社会保障"      # routed to gy_rsj by the demo catalogue
EDUCATION = "教育文体"         # routed to gy_jyj


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def intake(client, headers, text, category=None):
    subject, body = text
    payload = {"channel": "phone", "caller": {"name": "市民", "phone": "13800000000"},
               "subject": subject, "description": body}
    if category:
        payload["category"] = category
    r = client.post("/api/v1/tickets", json=payload, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def october(app, client, seeded_db):
    """Eight tickets; see each test for the hand-worked figures."""
    svc = app.extensions["hotline.tickets"]
    agent_h = bearer(seeded_db, "agent")
    agent, dispatcher = actor(seeded_db, "agent"), actor(seeded_db, "dispatcher")
    rsj, jyj = actor(seeded_db, "gy_rsj"), actor(seeded_db, "gy_jyj")
    rsj_unit = unit(seeded_db, "gy_rsj")

    def act(who, tid, action, **params):
        svc.act(who, tid, action, params)

    with at(BASE):
        t1 = intake(client, agent_h, WAGES, LABOUR)     # on time all the way, satisfied
        t2 = intake(client, agent_h, WAGES, LABOUR)     # signed and closed 30 days late
        t3 = intake(client, agent_h, WAGES, LABOUR)     # extension, closed, unsatisfied → redo, left open
        t4 = intake(client, agent_h, SCHOOL, EDUCATION)  # returned by 教育局, upheld → 人社局
        t5 = intake(client, agent_h, SCHOOL, EDUCATION)  # returned by 教育局, rejected; unreachable callback
        t6 = intake(client, agent_h, ("你好", "请问"))   # answered directly by the agent
        t8 = intake(client, agent_h, WAGES, LABOUR)     # cancelled
    with at(BASE + MIN):
        act(dispatcher, t8, "cancel", reason="重复来电")
        act(rsj, t1, "sign_for")
        act(rsj, t3, "sign_for")
        act(jyj, t4, "return", reason="属于劳动监察职责", suggested_unit="人社局")
        act(jyj, t5, "return", reason="不属于本单位", suggested_unit="区政府")
    with at(BASE + 2 * MIN):
        act(dispatcher, t4, "uphold_return", unit_id=rsj_unit.id, reason="确属人社职责")
        act(dispatcher, t5, "reject_return", reason="属教育局职责")
    with at(BASE + 3 * MIN):
        act(rsj, t4, "sign_for")
    with at(BASE + 10 * MIN):
        act(agent, t6, "direct_answer", reply_text="根据知识库答复：请携带身份证到政务大厅办理。")
    with at(BASE + 30 * MIN):
        act(rsj, t3, "request_extension", reason="需现场核查", days=5)
    with at(BASE + 40 * MIN):
        act(dispatcher, t3, "approve_extension", reason="同意")
    with at(BASE + 50 * MIN):
        for who, tid in ((rsj, t1), (rsj, t3), (jyj, t5)):
            act(who, tid, "reply", reply_text="已处理并答复来电人。")
    with at(BASE + HOUR):
        for who, tid in ((rsj, t1), (rsj, t3), (jyj, t5)):
            act(who, tid, "close")
    with at(BASE + 2 * HOUR):
        act(agent, t1, "callback", satisfaction="satisfied")
        for _ in range(2):                               # "unreachable" only on the third try
            act(agent, t5, "callback_no_answer")
        act(agent, t5, "callback", satisfaction="unreachable")
        act(agent, t3, "redo", reason="市民表示问题未解决", satisfaction="unsatisfied", note="未解决")
    with at(BASE + 30 * DAY):
        act(rsj, t2, "sign_for")
    with at(BASE + 30 * DAY + 50 * MIN):
        act(rsj, t2, "reply", reply_text="已责令支付。")
    with at(BASE + 30 * DAY + HOUR):
        act(rsj, t2, "close")
    with at(BASE + 30 * DAY + 2 * HOUR):
        act(agent, t2, "callback", satisfaction="basically_satisfied")
    with at(dt.datetime(2026, 11, 10, 2, 0, tzinfo=UTC)):
        t9 = intake(client, agent_h, WAGES, LABOUR)      # November: not in October's report
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5, "t6": t6, "t8": t8, "t9": t9}


def login(client, db, username):
    console_login(client, username)


def report_for(seeded_db, username, **kw):
    with seeded_db.session() as s:
        return F.unit_figures(s, actor(seeded_db, username), F.Period.month(2026, 10), NOW, **kw)


def row(report, code):
    return next(r["figures"] for r in report.rows if r["unit"]["code"] == code)


def test_department_figures_worked_by_hand(october, seeded_db):
    f = row(report_for(seeded_db, "supervisor"), "gy_rsj")
    # Held by 人社局: t1, t2, t3, t4 (moved here by the upheld return), t8 (cancelled).
    assert f["received"] == 5
    # Signed now: t1 (+1 min), t2 (+30 days), t4 (+1 min after re-dispatch); the redo cleared t3's.
    assert (f["signed"], f["signed_on_time"]) == (3, 2)
    # Due for signing: the three signed and t3, whose new sign-for limit has passed.
    assert f["sign_on_time_rate"] == 0.5
    assert (f["closed"], f["closed_on_time"]) == (2, 1)               # t1 on time, t2 late
    assert f["close_on_time_rate"] == 0.25                              # t1 / (t1, t2, t3 and t4 past due)
    assert (f["overdue"], f["overdue_open"]) == (3, 2)                  # t2 closed late; t3, t4 open
    assert (f["returns"], f["returns_upheld"], f["returns_rejected"]) == (0, 0, 0)
    assert (f["extensions_requested"], f["extensions_approved"]) == (1, 1)
    assert (f["satisfied"], f["basically_satisfied"], f["unsatisfied"], f["unreachable"]) == (1, 1, 1, 0)
    assert f["callbacks"] == 3 and f["satisfaction_rate"] == round(2 / 3, 4)
    assert f["resolution_rate"] == 0.5                                  # t1, t2 of 4 (t8 cancelled)
    assert f["direct_answers"] == 0 and f["direct_answer_rate"] is None
    assert f["avg_sign_hours"] == round((720 + 2 / 60) / 3, 2)          # 1 min, 30 days, 1 min
    assert f["avg_close_hours"] == 361.0                                # 1 h and 721 h


def test_returns_count_for_the_unit_that_returned(october, seeded_db):
    f = row(report_for(seeded_db, "supervisor"), "gy_jyj")
    assert f["received"] == 1                                           # t5; t4 moved away
    assert (f["returns"], f["returns_upheld"], f["returns_rejected"]) == (2, 1, 1)
    assert (f["signed"], f["signed_on_time"], f["closed_on_time"]) == (1, 1, 1)
    assert f["unreachable"] == 1 and f["callbacks"] == 0 and f["satisfaction_rate"] is None
    assert f["resolution_rate"] == 1.0 and f["avg_close_hours"] == 1.0


def test_platform_row_and_totals(october, seeded_db):
    report = report_for(seeded_db, "supervisor")
    city = row(report, "gy12345")
    assert city["received"] == 1 and city["direct_answers"] == 1
    # Direct answers over everything the city platform accepted in October (7).
    assert city["direct_answer_rate"] == round(1 / 7, 4)
    assert city["close_on_time_rate"] is None                           # a direct answer has no deadline
    t = report.totals
    assert t["received"] == 7 and t["direct_answer_rate"] == round(1 / 7, 4)
    assert (t["returns"], t["returns_upheld"], t["returns_rejected"]) == (2, 1, 1)
    assert t["satisfaction_rate"] == round(2 / 3, 4)
    assert t["resolution_rate"] == round(4 / 6, 4)                      # t1, t2, t5, t6 of 6 live
    assert t["overdue_open"] == 2
    assert {r["unit"]["code"] for r in report.rows} >= {"gy12345", "gy_rsj", "gy_jyj", "gy_nmq"}
    assert "gz12345" not in {r["unit"]["code"] for r in report.rows}, "a city sees its own subtree"


def test_period_is_local_dates(october, seeded_db):
    # 13 Oct 10:00 Beijing time is 02:00 UTC: a one-day period on the 13th has it …
    with seeded_db.session() as s:
        sup = actor(seeded_db, "supervisor")
        day = F.unit_figures(s, sup, F.Period(dt.date(2026, 10, 13), dt.date(2026, 10, 13)), NOW)
        before = F.unit_figures(s, sup, F.Period(dt.date(2026, 10, 1), dt.date(2026, 10, 12)), NOW)
        nov = F.unit_figures(s, sup, F.Period.month(2026, 11), NOW)
    assert day.totals["received"] == 7 and before.totals["received"] == 0
    assert nov.totals["received"] == 1
    assert F.Period(dt.date(2026, 10, 13), dt.date(2026, 10, 13)).utc_bounds() == (
        dt.datetime(2026, 10, 12, 16, tzinfo=UTC), dt.datetime(2026, 10, 13, 16, tzinfo=UTC))


def test_api_figures_and_department_scope(october, client, seeded_db):
    with at(NOW):
        r = client.get("/api/v1/figures?month=2026-10", headers=bearer(seeded_db, "supervisor"))
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["period"] == {"from": "2026-10-01", "to": "2026-10-31", "label": "2026年10月",
                                  "timezone": "Asia/Shanghai"}
        assert body["totals"]["received"] == 7

        dept = bearer(seeded_db, "gy_jyj")
        mine = client.get("/api/v1/figures?month=2026-10", headers=dept).get_json()
        assert [x["unit"]["code"] for x in mine["rows"]] == ["gy_jyj"]
        assert mine["totals"]["received"] == 1 and mine["totals"]["returns"] == 2
        assert mine["totals"]["direct_answer_rate"] is None, "a department has no direct answers"
        city_view = next(x for x in body["rows"] if x["unit"]["code"] == "gy_jyj")
        assert mine["rows"][0]["figures"] == city_view["figures"], "a narrower scope reads the same figures"
        other = unit(seeded_db, "gy_rsj").id
        r = client.get(f"/api/v1/figures?month=2026-10&unit={other}", headers=dept)
        assert r.status_code == 404
        r = client.get(f"/api/v1/figures/export.xlsx?month=2026-10&unit={other}", headers=dept)
        assert r.status_code == 404
        overdue = client.get("/api/v1/figures/overdue", headers=dept).get_json()
        assert overdue["total"] == 0, "人社局's overdue tickets are not 教育局's business"
        rsj_overdue = client.get("/api/v1/figures/overdue", headers=bearer(seeded_db, "gy_rsj")).get_json()
        # The list is not limited to a period: November's unsigned t9 is overdue by 1 December too.
        # Most overdue first: t4 (re-dispatched at +2 min), t3 (redone at +2 h), t9.
        assert [i["id"] for i in rsj_overdue["items"]] == [october["t4"], october["t3"], october["t9"]]

        assert client.get("/api/v1/figures", headers=bearer(seeded_db, "agent")).status_code == 403
        assert client.get("/api/v1/figures").status_code == 401


def test_period_arguments(client, seeded_db):
    h = bearer(seeded_db, "supervisor")
    r = client.get("/api/v1/figures?from=2026-10-05&to=2026-10-20", headers=h).get_json()
    assert r["period"]["label"] == "2026-10-05 至 2026-10-20"
    for bad in ("month=2026-13", "month=oct", "from=2026-10-05", "from=2026-10-20&to=2026-10-05",
                "from=x&to=2026-10-05", "month=2026-10&from=2026-10-01&to=2026-10-02", "unit=abc"):
        r = client.get(f"/api/v1/figures?{bad}", headers=h)
        assert r.status_code == 422, bad
    with at(dt.datetime(2026, 10, 31, 17, 0, tzinfo=UTC)):   # 1 Nov 01:00 in Beijing
        r = client.get("/api/v1/figures", headers=h).get_json()
    assert r["period"]["from"] == "2026-11-01"


def test_xlsx_monthly_report(october, client, seeded_db):
    from openpyxl import load_workbook

    with at(NOW):
        r = client.get("/api/v1/figures/export.xlsx?month=2026-10", headers=bearer(seeded_db, "supervisor"))
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "figures-2026-10.xlsx" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["月报", "指标说明"]
    ws = wb["月报"]
    assert "月报" in ws["A1"].value and "贵阳市" in ws["A1"].value
    assert "2026年10月" in ws["A2"].value and "2026-10-01 至 2026-10-31" in ws["A2"].value
    header = [c.value for c in ws[4]]
    assert header[:3] == ["序号", "单位", "类型"] and header[3:] == [f.label for f in F.FIGURES]
    assert ws.freeze_panes == "C5"
    assert ws.column_dimensions["B"].width >= 30
    col = {label: i + 1 for i, label in enumerate(header)}
    rows = {ws.cell(row=i, column=2).value: i for i in range(5, ws.max_row + 1)}
    rsj = rows["贵阳市人力资源和社会保障局"]
    assert ws.cell(row=rsj, column=col["受理量"]).value == 5
    assert ws.cell(row=rsj, column=col["按时签收率"]).value == 0.5
    assert ws.cell(row=rsj, column=col["按时签收率"]).number_format == "0.0%"
    assert ws.cell(row=rsj, column=col["受理量"]).number_format == "#,##0"
    assert ws.cell(row=rsj, column=col["直办率"]).value == "—"
    total = rows["合计"]
    assert total == ws.max_row and ws.cell(row=total, column=col["受理量"]).value == 7
    assert ws.cell(row=total, column=col["满意率"]).value == round(2 / 3, 4)
    defs = wb["指标说明"]
    assert [c.value for c in defs[1]] == ["指标", "类型", "定义", "Definition"]
    assert {defs.cell(row=i, column=1).value for i in range(2, len(F.FIGURES) + 2)} == {
        f.label for f in F.FIGURES}


def test_department_export_has_only_its_row(october, client, seeded_db):
    from openpyxl import load_workbook

    with at(NOW):
        r = client.get("/api/v1/figures/export.xlsx?month=2026-10", headers=bearer(seeded_db, "gy_rsj"))
    ws = load_workbook(io.BytesIO(r.data))["月报"]
    names = [ws.cell(row=i, column=2).value for i in range(5, ws.max_row + 1)]
    assert names == ["贵阳市人力资源和社会保障局", "合计"]


def test_trend_and_dashboard_page(october, client, seeded_db):
    h = bearer(seeded_db, "supervisor")
    with at(NOW):
        items = client.get("/api/v1/figures/trend?month=2026-11&months=3", headers=h).get_json()["items"]
    assert [i["month"] for i in items] == ["2026-09", "2026-10", "2026-11"]
    assert [i["totals"]["received"] for i in items] == [0, 7, 1]
    assert client.get("/api/v1/figures/trend?months=99", headers=h).status_code == 422
    defs = client.get("/api/v1/figures/definitions", headers=h).get_json()
    assert [d["key"] for d in defs["items"]] == F.FIGURE_KEYS

    login(client, seeded_db, "supervisor")
    page = client.get("/figures")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "echarts.min.js" in html and "figures.js" in html and "按时办结率" in html
    login(client, seeded_db, "agent")
    assert client.get("/figures").status_code == 403


def test_empty_period_has_no_rates(client, seeded_db):
    with seeded_db.session() as s:
        rep = F.unit_figures(s, actor(seeded_db, "admin"), F.Period.month(2026, 1), NOW)
    assert rep.totals["received"] == 0 and rep.totals["satisfaction_rate"] is None
    assert "gz12345" in {r["unit"]["code"] for r in rep.rows}, "the province sees every unit"
    with seeded_db.session() as s:
        assert s.scalar(select(Ticket.id)) is None


def test_event_ledger_catches_up_and_rebuilds(october, app, seeded_db):
    assert row(report_for(seeded_db, "supervisor"), "gy_rsj")["extensions_requested"] == 1
    with at(NOW):
        app.extensions["hotline.tickets"].act(actor(seeded_db, "gy_rsj"), october["t4"], "request_extension",
                                              {"reason": "需协调", "days": 3})
    assert row(report_for(seeded_db, "supervisor"), "gy_rsj")["extensions_requested"] == 2
    with seeded_db.session() as s:
        s.execute(F.LEDGER.delete())
    # A derived table: emptied, it is rebuilt from ticket_events on the next read.
    again = row(report_for(seeded_db, "supervisor"), "gy_rsj")
    assert again["extensions_requested"] == 2 and again["satisfied"] == 1


def test_awaiting_the_citizen_before_the_due_is_not_overdue(app, client, seeded_db):
    svc = app.extensions["hotline.tickets"]
    rsj = actor(seeded_db, "gy_rsj")
    with at(BASE):
        waiting = intake(client, bearer(seeded_db, "agent"), WAGES, LABOUR)
        late = intake(client, bearer(seeded_db, "agent"), WAGES, LABOUR)
    with at(BASE + MIN):
        svc.act(rsj, waiting, "sign_for", {})
        svc.act(rsj, late, "sign_for", {})
    with at(BASE + HOUR):
        svc.act(rsj, waiting, "await_citizen", {"reason": "请来电人补充材料"})
    f = row(report_for(seeded_db, "supervisor"), "gy_rsj")
    assert f["received"] == 2 and f["overdue_open"] == 1 and f["overdue"] == 1, "only the ticket still handled"
    with seeded_db.session() as s:
        total, rows = F.overdue_tickets(s, actor(seeded_db, "gy_rsj"), NOW)
    assert total == 1 and rows[0].id == late


def test_bench_generator_history_adds_up(pg_url):
    """bench/generate.py on PostgreSQL: the figures over its whole history add
    up to its events (a small run of the 1M benchmark's generator)."""
    if pg_url is None:
        pytest.skip("bench/generate.py needs PostgreSQL (COPY)")
    import sys
    import uuid
    from pathlib import Path

    from sqlalchemy import create_engine, func, text

    from models import Database, TicketEvent
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import generate

    base, _, _ = pg_url.rpartition("/")
    url = f"{base}/hl_bench_{uuid.uuid4().hex[:8]}"
    try:
        made = generate.generate(url, 4000, seed=7, log=lambda *a, **k: None)
        db = Database(url)
        now = dt.datetime.now(UTC)
        with db.session() as s:
            year = F.Period(dt.date.today() - dt.timedelta(days=400), dt.date.today() + dt.timedelta(days=1))
            rep = F.unit_figures(s, actor(db, "admin"), year, now)
            count = dict(s.execute(select(TicketEvent.action, func.count()).group_by(TicketEvent.action)).all())
        t = rep.totals
        assert t["received"] == made["tickets"] == 4000
        assert t["returns"] == count["return"] and t["returns_upheld"] == count["uphold_return"]
        assert t["satisfied"] + t["basically_satisfied"] + t["unreachable"] == count["callback"]
        assert t["unsatisfied"] == count.get("redo", 0)
        assert 0.8 < t["sign_on_time_rate"] < 1 and 0.8 < t["close_on_time_rate"] < 1
        with db.session() as s:
            direct = s.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.responsible_unit_id.is_(None), Ticket.status.in_(("closed", "archived"))))
            e = TicketEvent
            paths = {
                "pause": count.get("await_citizen", 0),
                "extension during a pause": s.scalar(select(func.count()).where(
                    e.action == "approve_extension", e.from_status == "awaiting_citizen")),
                "redo to another unit": s.scalar(select(func.count()).where(
                    e.action == "redo", e.unit_id != e.charged_unit_id)),
                "reassignment after events": s.scalar(select(func.count()).where(
                    e.action == "reassign", e.from_status == "handling")),
                "forward": count.get("forward", 0),
            }
            unattributed = s.scalar(select(func.count()).where(e.unit_id.is_(None)))
        db.dispose()
        assert t["direct_answers"] == direct
        assert all(n > 0 for n in paths.values()), paths
        assert unattributed == 0
    finally:
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)'))
        admin.dispose()
