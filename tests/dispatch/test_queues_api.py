"""The work-queue endpoints and console pages: dispatcher review of returns,
the 督办 board (live over Socket.IO), the callback queue, duplicates at
intake, 协办 tickets and the ticket's clocks."""
from __future__ import annotations

import datetime as dt

import time_machine

from dispatch import sweeps
from dispatch.calendar import LOCAL_TZ
from tests.dispatch import factories
from tests.helpers import WAGES, WATER, bearer

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=LOCAL_TZ)


def create(client, headers, text, **extra):
    subject, body = text
    r = client.post("/api/v1/tickets", json={"channel": "phone", "subject": subject, "description": body,
                                             "caller": {"name": "张先生", "phone": "13812345678"}} | extra,
                    headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def act(client, headers, tid, action, **body):
    return client.post(f"/api/v1/tickets/{tid}/actions/{action}", json=body, headers=headers)


def test_review_queue_shows_the_return_dispute_and_the_dispatcher_decides(client, seeded_db):
    agent, dept, disp = (bearer(seeded_db, u) for u in ("agent", "gy_rsj", "dispatcher"))
    t = create(client, agent, WAGES, category="劳动和社会保障")
    r = act(client, dept, t["id"], "return", reason="不属本单位", suggested_unit="贵阳市教育局")
    assert r.status_code == 200 and r.get_json()["status"] == "returned"
    q = client.get("/api/v1/review", headers=disp).get_json()
    assert [(x["id"], x["reason"], x["suggested_unit"]) for x in q["returns"]] == [(t["id"], "不属本单位", "贵阳市教育局")]
    assert client.get("/api/v1/review", headers=dept).status_code == 403
    units = {u["code"]: u["id"] for u in client.get("/api/v1/units", headers=disp).get_json()["items"]}
    r = act(client, disp, t["id"], "uphold_return", unit_id=units["gy_jyj"], reason="同意", category="教育文体")
    assert r.status_code == 200 and r.get_json()["responsible_unit"]["code"] == "gy_jyj"
    assert r.get_json()["category"]["name"] == "教育文体"
    assert client.get("/api/v1/review", headers=disp).get_json()["returns"] == []
    clocks = client.get(f"/api/v1/tickets/{t['id']}/clocks", headers=disp).get_json()["items"]
    assert [(c["stage"], c["outcome"]) for c in clocks] == [("sign", "superseded"), ("close", "superseded"),
                                                            ("sign", ""), ("close", "")]


def test_board_is_live_over_socketio_and_coordinators_resolve_items(app, client, seeded_db):
    from hotline.realtime import socketio
    from hotline.auth import issue_token
    from models import User
    from sqlalchemy import select

    with seeded_db.session() as s:
        tok = issue_token(s, s.scalar(select(User).where(User.username == "coordinator")), "t")
    live = socketio.test_client(app, auth={"token": tok})
    assert live.is_connected()
    # The app's composition root made its database and service the jobs'.
    with time_machine.travel(T0, tick=False):
        t = create(client, bearer(seeded_db, "agent"), WAGES, category="劳动和社会保障", urgency="emergency")
    live.get_received()
    with time_machine.travel(T0 + dt.timedelta(minutes=16), tick=False):
        sweeps.sweep()
    got = [m for m in live.get_received() if m["name"] == "supervision.new"]
    assert len(got) == 1 and got[0]["args"][0]["ticket"]["id"] == t["id"]
    assert got[0]["args"][0]["kind"] == "sign_overdue"
    coord = bearer(seeded_db, "coordinator")
    items = client.get("/api/v1/supervision", headers=coord).get_json()["items"]
    assert [i["kind"] for i in items] == ["sign_overdue"]
    r = client.post(f"/api/v1/supervision/{items[0]['id']}/resolve", headers=coord)
    assert r.status_code == 200 and r.get_json()["resolved_at"]
    assert client.get("/api/v1/supervision", headers=coord).get_json()["items"] == []
    assert len(client.get("/api/v1/supervision?all=1", headers=coord).get_json()["items"]) == 1
    assert client.get("/api/v1/supervision", headers=bearer(seeded_db, "gy_rsj")).status_code == 403
    live.disconnect()


def test_callback_queue_and_results(client, seeded_db):
    agent, dept = bearer(seeded_db, "agent"), bearer(seeded_db, "gy_rsj")
    t = create(client, agent, WAGES, category="劳动和社会保障")
    for action, body in (("sign_for", {}), ("reply", {"reply_text": "已处理"}), ("close", {})):
        assert act(client, dept, t["id"], action, **body).status_code == 200
    q = client.get("/api/v1/callbacks", headers=agent).get_json()["items"]
    assert [(x["id"], x["attempts"], x["caller_phone"]) for x in q] == [(t["id"], 0, "13812345678")]
    assert act(client, agent, t["id"], "callback_no_answer").status_code == 200
    r = act(client, agent, t["id"], "redo", satisfaction="unsatisfied", reason="仍未解决")
    assert r.status_code == 200 and r.get_json()["status"] == "dispatched"
    assert client.get("/api/v1/callbacks", headers=agent).get_json()["items"] == []


def test_duplicates_before_intake_and_assisting_units(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    cat = "城乡建设/城市建设和市政管理/自来水供应"
    first = create(client, agent, WATER, category=cat, address="贵阳市南明区")
    r = client.post("/api/v1/duplicates", json={"description": WATER[1], "subject": WATER[0], "address": "贵阳市南明区",
                                                "category": cat, "caller_phone": ""}, headers=agent)
    assert [(d["ticket_id"], d["reason"]) for d in r.get_json()["items"]] == [(first["id"], "similar_text")]
    r = client.post("/api/v1/duplicates", json={"description": "别的事", "caller_phone": "13812345678"}, headers=agent)
    assert [d["reason"] for d in r.get_json()["items"]] == ["same_caller"]

    disp = bearer(seeded_db, "dispatcher")
    units = {u["code"]: u["id"] for u in client.get("/api/v1/units", headers=disp).get_json()["items"]}
    t = {"id": factories.ticket(seeded_db, "accepted")}   # whatever the classifier would say
    r = act(client, disp, t["id"], "dispatch", unit_id=units["gy_rsj"], assist_unit_ids=[units["gy_mzj"]])
    assert r.status_code == 200
    helper = bearer(seeded_db, "gy_mzj")
    assert [x["id"] for x in client.get("/api/v1/assists", headers=helper).get_json()["items"]] == [t["id"]]
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=helper).status_code == 200
    assert act(client, helper, t["id"], "give_input", reply_text="已提供低保政策依据").status_code == 200
    assert act(client, helper, t["id"], "sign_for").status_code == 403


def test_console_pages_render_for_their_roles(app, client, seeded_db):
    app.config["WTF_CSRF_ENABLED"] = False

    def login(username):
        client.post("/logout")
        r = client.post("/login", data={"username": username, "password": "test-password"})
        assert r.status_code == 302

    login("dispatcher")
    for page in ("/review", "/board", "/callbacks", "/inbox"):
        r = client.get(page)
        assert r.status_code == 200, page
    assert "退单审核" in client.get("/review").get_data(as_text=True)
    login("coordinator")
    assert "督办看板" in client.get("/board").get_data(as_text=True)
    login("agent")
    assert "回访队列" in client.get("/callbacks").get_data(as_text=True)
    assert client.get("/review").status_code == 403
    login("gy_rsj")
    assert "协办工单" in client.get("/inbox").get_data(as_text=True)


def test_duplicates_with_the_suggestion_does_not_classify_the_text_again(app, client, seeded_db):
    """The console asks /suggest, then /duplicates with the suggestion's
    category and place: the classifier and the router ran once, not twice."""
    svc = app.extensions["hotline.tickets"]
    calls = []
    predictor, router = svc.predictor, svc.unit_router

    def counted(name, get):
        def wrapped():
            calls.append(name)
            return get()
        return wrapped

    svc.predictor = counted("topic", predictor)
    if router is not None:
        svc.unit_router = counted("unit", router)
    try:
        agent = bearer(seeded_db, "agent")
        cat = "城乡建设/城市建设和市政管理/自来水供应"
        first = create(client, agent, WATER, category=cat, address="贵阳市南明区")
        calls.clear()
        sug = client.post("/api/v1/suggest", json={"description": WATER[1], "subject": WATER[0],
                                                   "address": "贵阳市南明区", "category": cat}, headers=agent).get_json()
        ran = list(calls)
        assert ran, "the suggestion asks the classifier"
        r = client.post("/api/v1/duplicates", json={"description": WATER[1], "subject": WATER[0],
                                                    "address": "贵阳市南明区", "category": sug["category"]["code"],
                                                    "division_code": sug["division_code"], "caller_phone": ""},
                        headers=agent)
        assert r.status_code == 200
        assert [(d["ticket_id"], d["reason"]) for d in r.get_json()["items"]] == [(first["id"], "similar_text")]
        assert calls == ran
        # Without the suggestion the endpoint still works on its own (and classifies).
        r = client.post("/api/v1/duplicates", json={"description": WATER[1], "subject": WATER[0],
                                                    "address": "贵阳市南明区", "category": cat}, headers=agent)
        assert [d["ticket_id"] for d in r.get_json()["items"]] == [first["id"]] and len(calls) > len(ran)
        bad = client.post("/api/v1/duplicates", json={"description": "x", "category": "没有这个分类",
                                                      "division_code": "520102"}, headers=agent)
        assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["category"]
    finally:
        svc.predictor, svc.unit_router = predictor, router
