"""The coordinators' linkage API: who may read it, filters, acknowledging an
escalation, and bad input."""
from __future__ import annotations

from tests.helpers import bearer
from tests.integrations.test_outbox import create

POLICE_TEXT = ("有人打架", "楼下有人持刀砍人，已经有人受伤流血了，快来人啊")


def test_coordinators_list_filter_and_acknowledge_linkages(client, seeded_db, sim110):
    agent, coord = bearer(seeded_db, "agent"), bearer(seeded_db, "coordinator")
    suggested = create(client, agent, POLICE_TEXT)
    pushed = create(client, agent)
    client.post(f"/api/v1/tickets/{pushed['id']}/actions/transfer_to_110", json={"reason": "确认"}, headers=agent)

    items = client.get("/api/v1/linkages", headers=coord).get_json()["items"]
    by_ticket = {i["ticket"]["number"]: i for i in items}
    assert by_ticket[suggested["number"]]["state"] == "suggested"
    assert by_ticket[pushed["number"]]["state"] in ("acknowledged", "feedback")
    only = client.get("/api/v1/linkages?state=suggested&unseen=1", headers=coord).get_json()["items"]
    assert [i["ticket"]["number"] for i in only] == [suggested["number"]]

    lid = by_ticket[suggested["number"]]["id"]
    r = client.post(f"/api/v1/linkages/{lid}/seen", headers=coord)
    assert r.status_code == 200 and r.get_json()["seen"] is True
    assert client.get("/api/v1/linkages?unseen=1&state=suggested", headers=coord).get_json()["items"] == []
    assert client.post("/api/v1/linkages/999999/seen", headers=coord).status_code == 404


def test_only_platform_coordinating_roles_may_use_it(client, seeded_db):
    for user in ("agent", "gy_rsj"):
        r = client.get("/api/v1/linkages", headers=bearer(seeded_db, user))
        assert r.status_code == 403, user
    assert client.get("/api/v1/linkages").status_code == 401
    coord = bearer(seeded_db, "coordinator")
    assert client.get("/api/v1/outbox?state=lost", headers=coord).status_code == 422
    assert client.post("/api/v1/outbox/abc/retry", headers=coord).status_code == 404
