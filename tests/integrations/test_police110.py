"""12345 ⇄ 110: the police-matter detector on its test set and on real
messages, suggestions versus auto-push, and the round trip of a matter 110
hands to 12345 (ticket, dispatch, closure, feedback to 110)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select

from integrations import police110
from models import Linkage, OutboxMessage, Ticket
from tests.helpers import bearer
from tests.integrations.police_cases import NOT_POLICE, POLICE
from tests.integrations.test_outbox import create
from tests.integrations.test_webhooks import TRANSFER, post


def confusion():
    tp = sum(police110.detect(t).police for t in POLICE)
    fp = sum(police110.detect(t).police for t in NOT_POLICE)
    return tp, fp, len(POLICE) - tp, len(NOT_POLICE) - fp


def test_detector_on_its_labelled_test_set():
    tp, fp, fn, tn = confusion()
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"\nDETECTOR test set: tp={tp} fp={fp} fn={fn} tn={tn} precision={precision:.3f} recall={recall:.3f}")
    assert recall >= 0.9 and precision >= 0.9


def test_detector_false_alarm_rate_on_real_complaints():
    """dev.csv holds real messages of seven civic topics, none of them an
    alarm-desk matter: every hit is a suggestion an agent must wave away."""
    from hotline.seed import DATA

    candidates = [DATA / "complaints" / "dev.csv",
                  Path(__file__).resolve().parents[3] / "shared" / "data" / "complaints" / "dev.csv"]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        pytest.skip("complaints/dev.csv not found (set HOTLINE_DATA_DIR)")
    with open(path, encoding="utf-8", newline="") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    hits = sum(police110.detect(t).police for t in texts)
    print(f"\nDETECTOR dev.csv: {hits}/{len(texts)} flagged ({hits / len(texts):.1%})")
    assert hits / len(texts) <= 0.03


@pytest.mark.parametrize("text,expected", [
    ("没有打人，只是吵架", False),
    ("他打人了", True),
    ("咨询身份证被偷了怎么补办", False),
])
def test_negation_and_administration_context(text, expected):
    assert police110.detect(text).police is expected


def linkage(db, ticket_id, direction="outbound"):
    with db.session() as s:
        return s.scalar(select(Linkage).where(Linkage.ticket_id == ticket_id, Linkage.peer == "police110",
                                              Linkage.direction == direction))


def test_a_detected_police_matter_is_only_suggested_to_the_agent(client, seeded_db, sim110):
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, ("有人打架", "楼下有人持刀砍人，已经有人受伤流血了，快来人啊"))
    lk = linkage(seeded_db, t["id"])
    assert lk.state == "suggested" and lk.trigger == "lexicon" and "持刀" in lk.detail["signals"]
    assert sim110.state()["arrivals"] == 0, "nothing goes to 110 before the agent confirms"
    r = client.post(f"/api/v1/tickets/{t['id']}/actions/transfer_to_110", json={"reason": "坐席确认为警情"},
                    headers=agent)
    assert r.status_code == 200
    assert linkage(seeded_db, t["id"]).state in ("acknowledged", "feedback")
    assert sim110.state()["unique"] == 1


def test_a_listed_category_is_suggested_too(client, seeded_db, sim110):
    t = create(client, bearer(seeded_db, "agent"), ("小区治安", "小区最近治安不好"),
               category="政法/社会治安/治安案件")
    assert linkage(seeded_db, t["id"]).trigger == "category"


def test_channels_configured_to_auto_push_go_to_110_without_an_agent(client, seeded_db, sim110, monkeypatch):
    monkeypatch.setenv("HOTLINE_POLICE110_AUTO_CHANNELS", "app")
    agent = bearer(seeded_db, "agent")
    t = create(client, agent, ("紧急", "一个女孩站在天台边上要跳楼，情况紧急"), channel="app")
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert "transfer_to_110" in [e["action"] for e in evs]
    assert sim110.state()["unique"] == 1
    with seeded_db.session() as s:
        m = s.scalar(select(OutboxMessage))
        assert m.payload["trigger"] == "auto_channel" and "跳楼" in m.payload["signals"]
        assert m.payload["caller"]["phone"] == "13812345678" and m.payload["description"].startswith("一个女孩")
    # Another channel with the same text is only suggested.
    t2 = create(client, agent, ("紧急", "一个女孩站在天台边上要跳楼，情况紧急"), channel="phone")
    assert linkage(seeded_db, t2["id"]).state == "suggested"


def test_a_matter_110_hands_over_becomes_a_ticket_and_110_gets_feedback_when_it_closes(
        client, seeded_db, sim110):
    r = post(client, TRANSFER, message_id="110-transfer-1")
    assert r.status_code == 201, r.get_json()
    number = r.get_json()["ticket_number"]
    with seeded_db.session() as s:
        t = s.scalar(select(Ticket).where(Ticket.number == number))
        assert t.channel == "police110" and t.caller_phone == "13900001111"
        assert t.category.full_name == "城乡建设/城市建设和市政管理/自来水供应"
        assert t.status == "dispatched" and t.responsible_unit.code == "gy_swj"
        tid = t.id
    assert linkage(seeded_db, tid, "inbound").external_id == TRANSFER["incident_number"]

    dept = bearer(seeded_db, "gy_swj")
    for action, body in (("sign_for", {}), ("reply", {"reply_text": "已协调供水公司抢修，当晚恢复供水。"}),
                         ("close", {})):
        r = client.post(f"/api/v1/tickets/{tid}/actions/{action}", json=body, headers=dept)
        assert r.status_code == 200, r.get_json()
    with seeded_db.session() as s:
        m = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "feedback"))
        assert m.state == "sent" and m.peer == "police110"
        assert m.payload["incident_number"] == TRANSFER["incident_number"]
        assert m.payload["result"] == "已协调供水公司抢修，当晚恢复供水。"
    assert sim110.unique_keys() == {m.idempotency_key}
    assert linkage(seeded_db, tid, "inbound").state == "feedback_sent"


def test_110_ack_by_webhook_is_recorded_once(client, seeded_db, sim110):
    sim110.mode.auto_reply = False
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    client.post(f"/api/v1/tickets/{t['id']}/actions/transfer_to_110", json={"reason": "确认"}, headers=agent)
    incident = linkage(seeded_db, t["id"]).external_id
    ack = {"type": "ack", "ticket_number": t["number"], "incident_number": incident}
    assert post(client, ack, message_id="ack-1").status_code == 200
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert sum(e["action"] == "linkage_update" for e in evs) == 1, "the delivery response already acknowledged"
    assert post(client, ack, message_id="ack-1").status_code == 409


def test_detect_endpoint(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    r = client.post("/api/v1/police110/detect", json={"text": "有人持刀抢劫"}, headers=agent)
    assert r.status_code == 200 and r.get_json()["police"] is True and "抢劫" in r.get_json()["matched"]
    assert client.post("/api/v1/police110/detect", json={"text": ""}, headers=agent).status_code == 422
    assert client.post("/api/v1/police110/detect", json=["x"], headers=agent).status_code == 422
    assert client.post("/api/v1/police110/detect", json={"text": "x"}).status_code == 401


def test_feedback_from_a_simulator_signing_badly_is_refused(client, seeded_db, sim110):
    from tests.integrations.conftest import wait_for

    sim110.mode.bad_signature = True
    agent = bearer(seeded_db, "agent")
    t = create(client, agent)
    client.post(f"/api/v1/tickets/{t['id']}/actions/transfer_to_110", json={"reason": "确认"}, headers=agent)
    wait_for(lambda: sim110.webhooks_sent, what="the simulator's feedback attempt")
    assert sim110.webhooks_sent[0]["status"] == 401
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert not any(e["reason"].startswith("110反馈") for e in evs)
    assert linkage(seeded_db, t["id"]).state == "acknowledged"
