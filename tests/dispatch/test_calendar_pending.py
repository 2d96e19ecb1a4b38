"""Finding 5 of issue 14: a calendar year that is not shipped is a visible
state, not a fallback.  Dues that need 2028 (not shipped) are pending: the
ticket, the API, the console's data, the coordinators' board and the admin
page say so; `python -m hotline calendar import FILE` loads the year and
recomputes every open due, recording each change as an event.  Dues on the
provisional 2027 are marked provisional until the official year replaces it.
Real PostgreSQL, frozen time."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest
import time_machine
from sqlalchemy import select

from dispatch import clocks, dues
from dispatch.calendar import LOCAL_TZ
from dispatch.intake import IntakeData
from models import SlaClock, SupervisionItem, Ticket, TicketEvent
from tests.dispatch import factories as f
from tests.helpers import ROOT, WAGES, bearer


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LOCAL_TZ)


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture(autouse=True)
def _forget_imported_years():
    clocks.reset()
    yield
    clocks.reset()


def intake(db, svc, who="agent"):
    t, _ = svc.create_ticket(f.user_actor(db, who), IntakeData(channel="phone", subject=WAGES[0],
                                                               description=WAGES[1], caller_phone="13812345678"))
    return t


def year_file(tmp_path, year, provisional=False, holidays=(), workdays=()):
    path = tmp_path / f"{year}.json"
    path.write_text(json.dumps({"year": year, "provisional": provisional,
                                "source": f"国务院办公厅关于{year}年部分节假日安排的通知（测试）",
                                "holidays": list(holidays), "workdays": list(workdays)}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def test_a_missing_year_makes_dues_pending_visibly_and_import_recomputes_them(app, client, seeded_db, tmp_path):
    db = seeded_db
    svc = app.extensions["hotline.tickets"]
    dept, dispatcher = f.user_actor(db, "gy_rsj"), f.user_actor(db, "dispatcher")
    with at(local(2028, 3, 1, 10, 0)):                  # a Wednesday in a year that is not shipped
        r = client.post("/api/v1/tickets", headers=bearer(db, "agent"), json={
            "channel": "phone", "caller": {"name": "市民", "phone": "13800000000"},
            "subject": WAGES[0], "description": WAGES[1], "category": "劳动和社会保障"})
    assert r.status_code == 201, "the ticket is accepted and dispatched all the same"
    body = r.get_json()
    assert body["status"] == "dispatched" and body["due_at"] is None and body["sign_due_at"] is None
    assert body["due_state"] == "pending" and "时限待定" in body["due_state_label"]
    tid = body["id"]
    clocks_json = client.get(f"/api/v1/tickets/{tid}/clocks", headers=bearer(db, "gy_rsj")).get_json()["items"]
    assert {(c["due_state"], c["missing_year"]) for c in clocks_json} == {("pending", 2028)}
    with db.session() as s:
        item = s.scalar(select(SupervisionItem).where(SupervisionItem.ticket_id == tid))
        assert item.kind == "calendar_pending" and "2028" in item.reason and item.resolved_at is None
    # The coordinators' board lists it; the admin page's alert counts it.
    board = client.get("/api/v1/supervision", headers=bearer(db, "coordinator")).get_json()
    assert any(i["kind"] == "calendar_pending" and i["ticket"]["id"] == tid for i in board["items"])
    cal = client.get("/api/v1/admin/calendar", headers=bearer(db, "admin")).get_json()
    assert cal["missing"] == [{"year": 2028, "open_tickets": 1}] and 2027 in cal["provisional_years"]
    # An extension approved meanwhile is pending too: no date is invented.
    with at(local(2028, 3, 2, 10, 0)):
        svc.act(dept, tid, "sign_for")
        svc.act(dept, tid, "request_extension", {"reason": "需核查", "days": 3})
        t = svc.act(dispatcher, tid, "approve_extension", {"reason": "同意"})
    assert t.due_at is None and t.due_state == "pending"
    with db.session() as s:
        told = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid,
                                                   TicketEvent.action == "notify_citizen")).all()[-1]
    assert "另行告知" in told.payload["text"]
    # A unit replying while its due is pending is not on time by default:
    # it is judged when the year arrives.
    with at(local(2028, 3, 1, 10, 0)):
        replied = intake(db, f.service(db))
    with at(local(2028, 3, 20, 10, 0)):
        svc.act(dept, replied.id, "sign_for")
        svc.act(dept, replied.id, "reply", {"reply_text": "已处理"})
    # The official notice arrives: 2028-03-06 made a holiday for the test.
    path = year_file(tmp_path, 2028, holidays=[{"name": "测试假日", "date": "2028-03-06"}])
    with at(local(2028, 3, 3, 10, 0)):
        result = dues.import_year(db, path, svc, by="测试管理员")
    assert result == {"year": 2028, "provisional": False, "tickets": 2, "changed": 2, "unchanged": 0,
                      "dry_run": False}
    late = f.load(db, replied.id)
    assert late.due_at == local(2028, 3, 13, 10, 0) and late.due_state == "" and late.replied_at > late.due_at
    with db.session() as s:
        outcomes = {k.stage: k.outcome for k in s.scalars(select(SlaClock).where(SlaClock.ticket_id == replied.id))}
    assert outcomes == {"sign": "late", "close": "late"}
    t = f.load(db, tid)
    # 7 working days from 03-01 10:00 (03-02, 03, 07, 08, 09, 10, 13; the 6th
    # is the holiday), then 3 working days of extension from 03-02 10:00
    # (03-03, 07, 08): 03-16 10:00.
    assert t.due_state == "" and t.due_at == local(2028, 3, 16, 10, 0)
    with db.session() as s:
        ev = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid,
                                                 TicketEvent.action == "recompute_dues")).one()
        assert ev.payload["before"]["due_state"] == "pending" and ev.payload["after"]["due_at"]
        assert ev.payload["year"] == 2028 and ev.actor_label == "系统"
        assert s.get(SupervisionItem, item.id).resolved_at is not None
    # Another process sees the imported year on its next change (no restart).
    clocks.reset()
    with at(local(2028, 3, 6, 12, 0)):
        other = intake(db, f.service(db))
    assert other.due_state == "" and other.sign_due_at == local(2028, 3, 8, 9, 0), "the 6th is a holiday"
    assert client.get("/api/v1/admin/calendar", headers=bearer(db, "admin")).get_json()["missing"] == []


def test_provisional_dues_are_marked_and_the_official_year_replaces_them(seeded_db, tmp_path):
    db, svc = seeded_db, f.service(seeded_db)
    with at(local(2027, 3, 1, 10, 0)):
        t = intake(db, svc)
    assert t.due_state == "provisional" and t.due_at == local(2027, 3, 10, 10, 0)
    with db.session() as s:
        assert {k.due_state for k in s.scalars(select(SlaClock).where(SlaClock.ticket_id == t.id))} == \
            {"provisional"}
    # The official 2027 (for the test: 3 March a holiday) moves the due a day.
    path = year_file(tmp_path, 2027, holidays=[{"name": "测试假日", "date": "2027-03-03"}])
    with at(local(2027, 3, 2, 10, 0)):
        result = dues.import_year(db, path, svc)
    assert result["changed"] == 1
    t = f.load(db, t.id)
    assert t.due_state == "" and t.due_at == local(2027, 3, 11, 10, 0)


def test_calendar_import_command_validates_and_reports(seeded_db, database_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="cli-test-secret-key-0123456789",
               HOTLINE_ENV="test")
    env.pop("REDIS_URL", None)
    bad = tmp_path / "2029.json"
    bad.write_text(json.dumps({"year": 2029, "holidays": [], "workdays": [{"name": "x", "date": "2029-03-01"}]}))
    run = subprocess.run([sys.executable, "-m", "hotline", "calendar", "import", str(bad)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "weekday" in run.stderr, run.stderr
    good = year_file(tmp_path, 2029)
    run = subprocess.run([sys.executable, "-m", "hotline", "calendar", "import", str(good), "--by", "测试"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "2029 (official) imported" in run.stdout, run.stderr
    with db_session(database_url) as s:
        from models import CalendarYear

        row = s.get(CalendarYear, 2029)
        assert row is not None and row.imported_by == "测试" and row.provisional is False


def db_session(url):
    from models import Database

    return Database(url).session()  # the process ends with the test database dropped
