"""Emergencies through the API: screening at intake (urgency, the board's
row with its own clock), the hand-overs (110 push; 119/120/utility as
three-way-call records), dismissal with a reason, the alarm for an
unacknowledged 110 hand-over (injected clock) and leaving the board."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from integrations import emergency, peers
from models import Linkage, Ticket, TicketEvent, utcnow
from tests.helpers import bearer, free_port

GAS = "楼道里闻到很浓的煤气味，好像是燃气管道泄漏了，楼上还有老人"
BILL = "我想问一下燃气费怎么交，这个月的账单比上个月多了一倍"
KNIFE = "有个男的拿着砍刀在菜市场追着人砍，已经砍伤一个了，现在还在追"


def create(client, headers, text, **extra):
    r = client.post("/api/v1/tickets", json={"channel": "phone", "caller": {"name": "王女士", "phone": "13900001111"},
                                             "description": text} | extra, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def rows(db, ticket_id):
    with db.session() as s:
        return {(lk.peer, lk.direction): (lk.state, dict(lk.detail or {}), lk.seen_at)
                for lk in s.scalars(select(Linkage).where(Linkage.ticket_id == ticket_id))}


def events(db, ticket_id):
    with db.session() as s:
        return s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)).all()


def test_a_gas_leak_becomes_urgent_with_its_own_clock_on_the_board(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    before = utcnow()
    t = create(client, agent, GAS)
    assert t["urgency"] == "emergency"
    assert t["emergency"]["kind"] == "fire119" and t["emergency"]["words"]
    due = dt.datetime.fromisoformat(t["emergency"]["clock_due_at"])
    assert dt.timedelta(minutes=29) < due - before < dt.timedelta(minutes=31)
    state, detail, _ = rows(seeded_db, t["id"])[("emergency", "inbound")]
    assert state == "open" and detail["kind"] == "fire119"
    board = client.get("/api/v1/emergencies", headers=bearer(seeded_db, "coordinator")).get_json()["items"]
    assert [x["ticket_id"] for x in board] == [t["id"]]
    # a look-alike stays an ordinary ticket
    bill = create(client, agent, BILL)
    assert bill["urgency"] == "general" and bill["emergency"] is None
    assert ("emergency", "inbound") not in rows(seeded_db, bill["id"])


def test_the_clock_is_configurable(client, seeded_db, monkeypatch):
    monkeypatch.setenv("HOTLINE_EMERGENCY_CLOCK_MINUTES", "10")
    t = create(client, bearer(seeded_db, "agent"), GAS)
    due = dt.datetime.fromisoformat(t["emergency"]["clock_due_at"])
    assert dt.timedelta(minutes=9) < due - utcnow() <= dt.timedelta(minutes=10)


def test_handover_to_119_is_a_three_way_call_record(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, GAS)
    url = f"/api/v1/tickets/{t['id']}/emergency/handover"
    r = client.post(url, json={"target": "fire119", "number": "119"}, headers=agent)
    assert r.status_code == 422 and "outcome" in r.get_json()["error"]["fields"], r.get_json()
    r = client.post(url, json={"target": "nobody", "outcome": "x"}, headers=agent)
    assert r.status_code == 422 and "target" in r.get_json()["error"]["fields"]
    r = client.post(url, json={"target": "fire119", "number": "119", "operator": "李警官 0231",
                               "outcome": "已派消防车，10分钟到达"}, headers=agent)
    assert r.status_code == 200, r.get_json()
    call = [e for e in events(seeded_db, t["id"]) if e.action == "three_way_call"][-1]
    rec = call.payload["three_way_call"]
    assert rec["number"] == "119" and rec["operator"] == "李警官 0231" and rec["outcome"].startswith("已派消防车")
    assert rec["at"] and rec["by"] and call.actor_id is not None
    linked = rows(seeded_db, t["id"])
    assert linked[("fire119", "outbound")][0] == "handed_over"
    assert linked[("emergency", "inbound")][0] == "handed_over"
    got = client.get(f"/api/v1/tickets/{t['id']}", headers=agent).get_json()["emergency"]
    assert got["state"] == "handed_over" and got["handed_to"] == ["fire119"]
    # a department cannot hand over
    r = client.post(url, json={"target": "medical120", "number": "120", "outcome": "x"},
                    headers=bearer(seeded_db, "gy_rsj"))
    assert r.status_code in (403, 404)


def test_dismissal_at_intake_is_recorded_and_the_ticket_stays_ordinary(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, GAS, emergency_dismissal={"reason": "来电人说是上个月的事，现在已修好", "kind": "fire119"})
    assert t["urgency"] == "general" and t["emergency"] is None
    note = [e for e in events(seeded_db, t["id"]) if e.action == "note"]
    assert note and "上个月的事" in note[0].reason and note[0].actor_id is not None
    assert ("emergency", "inbound") not in rows(seeded_db, t["id"])
    r = client.post("/api/v1/tickets", json={"description": GAS, "emergency_dismissal": {"reason": ""}}, headers=agent)
    assert r.status_code == 422


def test_dismissal_after_intake_takes_it_off_the_board(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, KNIFE)
    assert t["emergency"]["kind"] == "police110"
    url = f"/api/v1/tickets/{t['id']}/emergency/dismiss"
    assert client.post(url, json={"reason": ""}, headers=agent).status_code == 422
    r = client.post(url, json={"reason": "来电人确认是拍电影"}, headers=agent)
    assert r.status_code == 200
    state, detail, _ = rows(seeded_db, t["id"])[("emergency", "inbound")]
    assert state == "dismissed" and detail["dismiss_reason"] == "来电人确认是拍电影"
    assert client.get("/api/v1/emergencies", headers=agent).get_json()["items"] == []
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=agent).get_json()["emergency"]["state"] == "dismissed"
    plain = create(client, agent, BILL)
    r = client.post(f"/api/v1/tickets/{plain['id']}/emergency/dismiss", json={"reason": "x"}, headers=agent)
    assert r.status_code == 404


def test_unacknowledged_110_handover_alarms_once_after_the_configured_time(client, seeded_db, app, monkeypatch):
    peers.override("police110", f"http://127.0.0.1:{free_port()}")  # nobody answers: never acknowledged
    try:
        agent = bearer(seeded_db, "agent")
        t = create(client, agent, KNIFE)
        r = client.post(f"/api/v1/tickets/{t['id']}/emergency/handover", json={"target": "police110"}, headers=agent)
        assert r.status_code == 200, r.get_json()
        db = app.extensions["hotline.db"]
        state, detail, _ = rows(db, t["id"])[("police110", "outbound")]
        assert state in ("pending", "sent")
        pushed = dt.datetime.fromisoformat(detail["pushed_at"])
        assert emergency.alarm_unacknowledged(db, now=pushed + dt.timedelta(seconds=179)) == []
        raised = emergency.alarm_unacknowledged(db, now=pushed + dt.timedelta(seconds=181))
        assert len(raised) == 1
        state, detail, seen = rows(db, t["id"])[("police110", "outbound")]
        assert detail["alarm_at"] and seen is None
        assert emergency.alarm_unacknowledged(db, now=pushed + dt.timedelta(minutes=10)) == []
        monkeypatch.setenv("HOTLINE_EMERGENCY_ACK_SECONDS_110", "60")
        t2 = create(client, agent, KNIFE)
        client.post(f"/api/v1/tickets/{t2['id']}/emergency/handover", json={"target": "police110"}, headers=agent)
        pushed2 = dt.datetime.fromisoformat(rows(db, t2["id"])[("police110", "outbound")][1]["pushed_at"])
        assert len(emergency.alarm_unacknowledged(db, now=pushed2 + dt.timedelta(seconds=61))) == 1
    finally:
        peers.override("police110", None)


def test_a_closed_ticket_leaves_the_board(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, GAS)
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/cancel", json={"reason": "重复来电，已并入前一工单处理"},
                    headers=agent)
    assert r.status_code == 200, r.get_json()
    assert rows(seeded_db, t["id"])[("emergency", "inbound")][0] == "closed"
    assert client.get("/api/v1/emergencies", headers=agent).get_json()["items"] == []


def test_detect_endpoint_offers_the_handovers(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    r = client.post("/api/v1/emergency/detect", json={"text": "路口的自来水主管爆了，水冲到马路上，车都过不去了"}, headers=agent)
    v = r.get_json()
    assert v["emergency"] and v["kind"] == "utility_urgent"
    assert {o["target"] for o in v["offers"]} >= {"water", "power", "gas"}
    assert client.post("/api/v1/emergency/detect", json={"text": ""}, headers=agent).status_code == 422
    assert client.post("/api/v1/emergency/detect", json={"text": "着火了"}).status_code == 401
