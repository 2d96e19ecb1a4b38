"""GET /api/v1/tickets: paging with a total, search by number, phone, last
four digits, caller name and words, filters and sorts, what each reader may
match, and bad parameters as 400s.  Runs on the backend under test (real
PostgreSQL with TEST_DATABASE_URL, else SQLite with FTS5)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from dispatch import search  # noqa: F401  (fills the search words of the factory's tickets)
from models import Ticket, utcnow
from tests.dispatch.factories import ticket
from tests.helpers import SCHOOL, WAGES, WATER, bearer


def listing(client, headers, query=""):
    r = client.get("/api/v1/tickets" + query, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def ids(body) -> list[int]:
    return [i["id"] for i in body["items"]]


def test_pages_cover_every_ticket_once_with_the_total(client, seeded_db):
    t0 = utcnow() - dt.timedelta(hours=30)
    made = [ticket(seeded_db, "dispatched", created_at=t0 + dt.timedelta(minutes=i)) for i in range(23)]
    agent = bearer(seeded_db, "agent")
    pages = [listing(client, agent, f"?per_page=10&page={p}") for p in (1, 2, 3)]
    assert [p["total"] for p in pages] == [23, 23, 23] and [p["pages"] for p in pages] == [3, 3, 3]
    assert [len(p["items"]) for p in pages] == [10, 10, 3]
    assert sum((ids(p) for p in pages), []) == made[::-1], "newest first, no ticket twice or missing"
    oldest = listing(client, agent, "?per_page=5&sort=created")
    assert ids(oldest) == made[:5]
    assert listing(client, agent, "?per_page=10&page=4")["items"] == []


def test_search_by_number_phone_last_four_name_and_words(client, seeded_db):
    water = ticket(seeded_db, "dispatched", unit_code="gy_swj", subject=WATER[0], description=WATER[1],
                   caller_phone="13912340001", caller_name="王女士")
    school = ticket(seeded_db, "dispatched", unit_code="gy_jyj", subject=SCHOOL[0], description=SCHOOL[1],
                    caller_phone="13912340002", caller_name="李先生")
    wages = ticket(seeded_db, "dispatched", subject=WAGES[0], description=WAGES[1],
                   caller_phone="13700000003", caller_name="赵先生", address="贵阳市云岩区中华北路")
    agent = bearer(seeded_db, "agent")
    with seeded_db.session() as s:
        number = s.get(Ticket, school).number

    def found(q):
        from urllib.parse import quote
        return sorted(ids(listing(client, agent, "?q=" + quote(q))))

    assert found(number) == [school]
    assert found("13912340001") == [water]
    assert found("139-1234-0002") == [school], "the phone's digits, however they are typed"
    assert found("0003") == [wages], "the last four digits"
    assert found("李先生") == [school]
    assert found("停水") == [water]
    assert found("拖欠工资") == [wages]
    assert found("学位 小学") == [school], "every word must occur"
    assert found("停水 小学") == []
    assert found("中华北路") == [wages], "the address is searched too"
    assert found("  ") == sorted([water, school, wages]), "an empty query is no filter"
    body = listing(client, agent, "?q=%E5%81%9C%E6%B0%B4")  # 停水
    assert body["total"] == 1 and body["items"][0]["subject"] == WATER[0]


def test_a_unit_finds_only_its_own_tickets_and_not_what_is_hidden_from_it(client, seeded_db):
    mine = ticket(seeded_db, "dispatched", unit_code="gy_rsj", subject=WAGES[0], description=WAGES[1],
                  caller_phone="13800005555", caller_name="钱先生")
    secret = ticket(seeded_db, "dispatched", unit_code="gy_rsj", subject="举报公司欠薪", description="举报某公司拖欠工资",
                    caller_phone="13800006666", caller_name="孙女士", confidential=True)
    other = ticket(seeded_db, "dispatched", unit_code="gy_jyj", subject=SCHOOL[0], description=SCHOOL[1],
                   caller_phone="13800005555", caller_name="钱先生")
    dept = bearer(seeded_db, "gy_rsj")
    with seeded_db.session() as s:
        other_number = s.get(Ticket, other).number
    assert sorted(ids(listing(client, dept))) == sorted([mine, secret])
    assert listing(client, dept, f"?q={other_number}")["total"] == 0, "another unit's ticket by its number"
    assert ids(listing(client, dept, "?q=5555")) == [mine], "last four: its own ticket only"
    assert listing(client, dept, "?q=6666")["total"] == 0, "a confidential caller's phone does not match"
    assert listing(client, dept, "?q=%E5%AD%99%E5%A5%B3%E5%A3%AB")["total"] == 0, "nor the confidential name"
    assert listing(client, dept, "?q=13800005555")["total"] == 0, "a unit never matches a whole phone number"
    masked = listing(client, dept, "?q=%E9%92%B1%E5%85%88%E7%94%9F")  # 钱先生
    assert ids(masked) == [mine] and masked["items"][0]["caller"]["phone"] == "138****5555"
    assert sorted(ids(listing(client, dept, "?q=%E6%8B%96%E6%AC%A0%E5%B7%A5%E8%B5%84"))) == sorted([mine, secret])
    agent = bearer(seeded_db, "agent")
    assert ids(listing(client, agent, "?q=6666")) == [secret], "the platform sees the caller"
    assert sorted(ids(listing(client, agent, "?q=13800005555"))) == sorted([mine, other])


def test_filters_and_sorts(client, seeded_db):
    now = utcnow()
    late = ticket(seeded_db, "handling", urgency="utility", created_at=now - dt.timedelta(days=3),
                  due_at=now - dt.timedelta(hours=1))
    soon = ticket(seeded_db, "handling", created_at=now - dt.timedelta(days=2), due_at=now + dt.timedelta(hours=5))
    unsigned = ticket(seeded_db, "dispatched", urgency="emergency", created_at=now - dt.timedelta(hours=1),
                      sign_due_at=now + dt.timedelta(minutes=10), due_at=now + dt.timedelta(hours=2))
    done = ticket(seeded_db, "closed", created_at=now - dt.timedelta(days=40), due_at=now - dt.timedelta(days=30))
    review = ticket(seeded_db, "accepted", unit_code=None, needs_review=True)
    with seeded_db.session() as s:
        s.get(Ticket, late).channel = "web"
    dept = bearer(seeded_db, "gy_rsj")
    todo = listing(client, dept, "?status=todo&sort=due")
    assert ids(todo) == [late, unsigned, soon], "open work, the nearest deadline (sign-for while dispatched) first"
    assert done not in ids(listing(client, dept, "?status=dispatched,handling"))
    assert ids(listing(client, dept, "?overdue=1")) == [late]
    assert ids(listing(client, dept, "?urgency=emergency,utility&sort=urgency")) == [unsigned, late]
    assert ids(listing(client, dept, "?channel=web")) == [late]
    beijing = (now - dt.timedelta(days=40)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert ids(listing(client, dept, f"?created_from={beijing}&created_to={beijing}")) == [done]
    agent = bearer(seeded_db, "agent")
    assert ids(listing(client, agent, "?needs_review=1")) == [review]
    assert set(ids(listing(client, agent, "?unit=%d" % _unit_id(seeded_db, "gy_rsj")))) == {late, soon, unsigned, done}


def _unit_id(db, code):
    from models import Unit
    with db.session() as s:
        return s.scalar(select(Unit.id).where(Unit.code == code))


def test_changed_text_is_searched_by_its_new_words(client, seeded_db):
    tid = ticket(seeded_db, "dispatched", subject="路灯不亮", description="小区门口路灯坏了一个月")
    with seeded_db.session() as s:
        s.get(Ticket, tid).description = "小区门口井盖丢失很危险"
    agent = bearer(seeded_db, "agent")
    assert ids(listing(client, agent, "?q=%E4%BA%95%E7%9B%96")) == [tid]            # 井盖
    assert listing(client, agent, "?q=%E5%9D%8F%E4%BA%86")["total"] == 0             # 坏了
    assert ids(listing(client, agent, "?q=%E8%B7%AF%E7%81%AF")) == [tid]            # 路灯 (subject)


def test_a_ticket_taken_through_the_api_is_found_by_its_words(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    r = client.post("/api/v1/tickets", headers=agent, json={
        "channel": "phone", "caller": {"name": "周先生", "phone": "13612349876"},
        "subject": WAGES[0], "description": WAGES[1], "category": "劳动和社会保障"})
    assert r.status_code == 201
    t = r.get_json()
    for q in ("9876", "13612349876", t["number"], "%E5%91%A8%E5%85%88%E7%94%9F", "%E5%B7%A5%E8%B5%84"):
        assert ids(listing(client, agent, "?q=" + q)) == [t["id"]], q
    dept = bearer(seeded_db, "gy_rsj")
    assert ids(listing(client, dept, "?q=9876&status=todo")) == [t["id"]]


@pytest.mark.parametrize("query,field", [
    ("?sort=bogus", "sort"), ("?page=0", "page"), ("?per_page=101", "per_page"), ("?per_page=x", "per_page"),
    ("?status=lost", "status"), ("?urgency=now", "urgency"), ("?channel=pigeon", "channel"),
    ("?created_from=2026-13-01", "created_from"), ("?created_to=yesterday", "created_to"),
    ("?created_from=2026-05-02&created_to=2026-05-01", "created_to"), ("?overdue=maybe", "overdue"),
    ("?unit=-3", "unit"), ("?category=abc", "category"), ("?q=" + "x" * 101, "q"),
])
def test_bad_parameters_are_a_400_naming_the_field(client, seeded_db, query, field):
    r = client.get("/api/v1/tickets" + query, headers=bearer(seeded_db, "agent"))
    assert r.status_code == 400, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert err["code"] == "bad_parameter" and err["message"] and field in err["fields"]
