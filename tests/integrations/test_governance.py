"""The 综治 bridge: a grid-category ticket is pushed when dispatched, the
platform's status webhooks land on the ticket's history, and its closure
closes the ticket with the event's result as the reply."""
from __future__ import annotations

from sqlalchemy import select

from models import Linkage, OutboxMessage
from tests.helpers import bearer
from tests.integrations.conftest import wait_for
from tests.integrations.test_outbox import create
from tests.integrations.test_webhooks import post

HAZARD = ("小区配电房安全隐患", "小区配电房门锁坏了，电线裸露，小孩经常进去玩，存在严重安全隐患，请尽快处理。")


def test_a_grid_ticket_round_trips_through_the_governance_platform(client, seeded_db, simgov):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, HAZARD, category="城乡建设/安全生产/安全隐患")
    assert t["status"] == "dispatched"
    with seeded_db.session() as s:
        m = s.scalar(select(OutboxMessage).where(OutboxMessage.peer == "governance"))
        assert m.kind == "event.create" and m.state == "sent"
        assert m.payload["ticket"]["number"] == t["number"] and m.payload["description"] == HAZARD[1]

    def ticket():
        return client.get(f"/api/v1/tickets/{t['id']}", headers=agent).get_json()

    wait_for(lambda: ticket()["status"] == "closed", timeout=20, what="the event's closure to close the ticket")
    done = ticket()
    assert done["reply_text"] == "经网格员现场调解，双方达成一致，隐患已整改完毕。"
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    actions = [e["action"] for e in evs]
    assert actions[:2] == ["accept", "dispatch"] and actions[-3:] == ["sign_for", "reply", "close"]
    notes = [e["reason"] for e in evs if e["action"] == "linkage_update"]
    assert any("已分派网格员" in n for n in notes) and any("处置中" in n for n in notes)
    assert evs[-1]["actor_name"].startswith("综治平台")
    with seeded_db.session() as s:
        lk = s.scalar(select(Linkage).where(Linkage.ticket_id == t["id"], Linkage.peer == "governance"))
        assert lk.state == "closed" and lk.external_id.startswith("ZZ")
    assert simgov.state()["unique"] == 1


def test_other_categories_are_not_pushed_and_a_dispatcher_can_push(client, seeded_db, simgov):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    assert simgov.state()["arrivals"] == 0
    simgov.mode.auto_reply = False
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/push_to_governance", json={"reason": "涉及劳资纠纷调解"},
                    headers=bearer(seeded_db, "dispatcher"))
    assert r.status_code == 200, r.get_json()
    assert simgov.state()["unique"] == 1
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/push_to_governance", json={"reason": "again"},
                    headers=bearer(seeded_db, "dispatcher"))
    assert r.status_code == 409


def test_a_closing_status_for_an_undispatched_ticket_closes_it_by_direct_answer(client, seeded_db, simgov):
    simgov.mode.auto_reply = False
    agent = bearer(seeded_db, "agent")
    # No routing rule for this category: the ticket waits for a dispatcher.
    t = create(client, agent, HAZARD, category="党务政务")
    assert t["status"] == "accepted"
    number = t["number"]
    r = post(client, {"type": "status", "event_id": "ZZ-1", "ticket_number": number, "status": "closed",
                      "result": "网格员已处置完毕。"}, peer="governance", message_id="g-close")
    assert r.status_code == 200, r.get_json()
    got = client.get(f"/api/v1/tickets/{t['id']}", headers=agent).get_json()
    assert got["status"] == "closed" and got["reply_text"] == "网格员已处置完毕。"
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert evs[-1]["action"] == "direct_answer" and evs[-1]["actor_name"].startswith("综治平台")
    # Replaying the closure changes nothing.
    again = post(client, {"type": "status", "event_id": "ZZ-1", "ticket_number": number, "status": "closed",
                          "result": "网格员已处置完毕。"}, peer="governance", message_id="g-close")
    assert again.status_code == 409


def test_a_closing_status_resumes_a_ticket_waiting_for_the_citizen(client, seeded_db):
    agent, dept = bearer(seeded_db, "agent"), bearer(seeded_db, "gy_rsj")
    t = create(client, agent)
    for action, body in (("sign_for", {}), ("await_citizen", {"reason": "请来电人补充合同"})):
        r = client.post(f"/api/v1/tickets/{t['id']}/actions/{action}", json=body, headers=dept)
        assert r.status_code == 200, r.get_json()
    r = post(client, {"type": "status", "event_id": "ZZ-2", "ticket_number": t["number"], "status": "resolved",
                      "result": "经调解，公司已补发工资。"}, peer="governance", message_id="g-resolved")
    assert r.status_code == 200 and r.get_json()["ticket_status"] == "closed"
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert [e["action"] for e in evs][-3:] == ["resume", "reply", "close"]
