"""The knowledge base (知识库): search, a direct answer (直办) that records
the entry it answered from, and the admin's add / edit / disable with
history.  On the seeded database: the shipped entries from the
government's own replies (data/knowledge)."""
from __future__ import annotations

from sqlalchemy import select

from models import KnowledgeEntry, Ticket
from tests.helpers import WATER, bearer

PENSION = "我以前是农业户口，一直交农村养老保险，后来户口迁到外地了，以前交的农村养老保险还能继续交吗？"


def _entry(db, like: str) -> KnowledgeEntry:
    with db.session() as s:
        return s.scalars(select(KnowledgeEntry).where(KnowledgeEntry.question.like(f"%{like}%"))
                         .order_by(KnowledgeEntry.id)).first()


def _unit_id(db, code: str) -> int:
    from tests.helpers import unit

    return unit(db, code).id


def test_search_finds_the_entry_for_a_question_in_other_words(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    r = client.get("/api/v1/knowledge", query_string={"q": PENSION}, headers=agent)
    assert r.status_code == 200, r.get_json()
    d = r.get_json()
    assert 1 <= len(d["items"]) <= 5 and d["took_ms"] >= 0
    assert any("养老保险" in i["question"] for i in d["items"])
    assert all(i["answer"] and i["score"] > 0 for i in d["items"])
    assert [i["score"] for i in d["items"]] == sorted((i["score"] for i in d["items"]), reverse=True)
    # its own question finds an entry first
    e = _entry(seeded_db, "养老保险")
    own = client.get("/api/v1/knowledge", query_string={"q": e.question + " " + e.detail}, headers=agent).get_json()
    assert own["items"][0]["id"] == e.id
    assert client.get("/api/v1/knowledge?q=", headers=agent).get_json()["items"] == []
    assert len(client.get("/api/v1/knowledge", query_string={"q": PENSION, "limit": 2},
                          headers=agent).get_json()["items"]) == 2
    bad = client.get("/api/v1/knowledge?q=x&limit=999", headers=agent)
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["limit"]
    assert client.get("/api/v1/knowledge?q=x").status_code == 401


def test_direct_answer_from_an_entry_closes_the_call_and_records_the_entry(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    e = _entry(seeded_db, "养老保险")
    r = client.post(f"/api/v1/knowledge/{e.id}/direct-answer", headers=agent, json={
        "channel": "phone", "caller": {"name": "刘女士", "phone": "13900001111"},
        "subject": "农村养老保险能否续交", "description": PENSION,
        "unit_id": _unit_id(seeded_db, "gy_rsj")})   # a unit picked before the answer was found: not dispatched
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert t["status"] == "closed" and t["responsible_unit"] is None
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert [x["action"] for x in evs] == ["accept", "direct_answer"]
    p = evs[1]["payload"]
    assert p["knowledge_id"] == e.id and p["knowledge_version"] == e.version
    assert p["reply_text"] == e.answer and p["knowledge_question"] == e.question
    # the callback queue has it (a direct answer is called back like any other)
    queue = client.get("/api/v1/callbacks", headers=agent).get_json()["items"]
    assert any(i["id"] == t["id"] for i in queue)


def test_direct_answer_action_on_an_accepted_ticket_cites_an_entry_and_refuses_a_disabled_one(client, seeded_db):
    agent, admin = bearer(seeded_db, "agent"), bearer(seeded_db, "admin")
    e = _entry(seeded_db, "养老保险")
    vague = "我想反映一个情况，麻烦你们看看怎么处理，谢谢。"
    t = client.post("/api/v1/tickets", headers=agent, json={"description": vague}).get_json()
    assert t["status"] == "accepted"
    r = client.post(f"/api/v1/knowledge/{e.id}/disable", headers=admin, json={"reason": "政策已调整"})
    assert r.status_code == 200 and r.get_json()["active"] is False
    refused = client.post(f"/api/v1/tickets/{t['id']}/actions/direct_answer", headers=agent,
                          json={"reply_text": e.answer, "knowledge_id": e.id})
    assert refused.status_code == 422 and "knowledge_id" in refused.get_json()["error"]["fields"]
    with seeded_db.session() as s:
        assert s.get(Ticket, t["id"]).status == "accepted", "nothing recorded"
    client.post(f"/api/v1/knowledge/{e.id}/enable", headers=admin, json={"reason": "误停用"})
    ok = client.post(f"/api/v1/tickets/{t['id']}/actions/direct_answer", headers=agent,
                     json={"reply_text": "您好，" + e.answer, "knowledge_id": e.id})
    assert ok.status_code == 200 and ok.get_json()["status"] == "closed"
    evs = client.get(f"/api/v1/tickets/{t['id']}/events", headers=agent).get_json()["items"]
    assert evs[-1]["payload"]["knowledge_id"] == e.id and evs[-1]["payload"]["knowledge_version"] == e.version + 2


def test_an_emergency_is_not_answered_from_the_knowledge_base(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    e = _entry(seeded_db, "养老保险")
    r = client.post(f"/api/v1/knowledge/{e.id}/direct-answer", headers=agent, json={
        "description": "楼下着火了，火很大，有人被困在三楼，快来救人！"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "emergency_not_direct"
    with seeded_db.session() as s:
        assert s.scalar(select(Ticket.id)) is None


def test_the_admin_adds_edits_and_disables_an_entry_with_history(client, seeded_db):
    admin, agent = bearer(seeded_db, "admin"), bearer(seeded_db, "agent")
    body = {"question": "居住证办理需要哪些材料", "answer": "办理居住证需携带身份证、居住证明（租房合同或房产证）和近期一寸照片，到居住地派出所办理。",
            "category": "政法/户政管理", "unit_code": "gy_gaj", "valid_from": "2026-01-01", "reason": "常见咨询"}
    assert client.post("/api/v1/knowledge", headers=agent, json=body).status_code == 403
    bad = client.post("/api/v1/knowledge", headers=admin, json=body | {"valid_until": "2025-01-01", "answer": ""})
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert "不能为空" in fields["answer"] and "有效期止" in fields["valid_until"]
    r = client.post("/api/v1/knowledge", headers=admin, json=body)
    if r.status_code == 422 and "category" in r.get_json()["error"]["fields"]:
        r = client.post("/api/v1/knowledge", headers=admin, json=body | {"category": ""})
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert e["version"] == 1 and e["unit"]["code"] == "gy_gaj" and e["active"]
    found = client.get("/api/v1/knowledge", query_string={"q": "办居住证要带什么材料"}, headers=agent).get_json()
    assert found["items"][0]["id"] == e["id"]

    no_reason = client.patch(f"/api/v1/knowledge/{e['id']}", headers=admin, json={"answer": "新答复内容足够长。"})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["fields"]
    r = client.patch(f"/api/v1/knowledge/{e['id']}", headers=admin, json={
        "answer": body["answer"] + "也可在贵州政务服务网在线申请。", "reason": "增加网上办理", "expected_version": 1})
    assert r.status_code == 200 and r.get_json()["version"] == 2
    stale = client.patch(f"/api/v1/knowledge/{e['id']}", headers=admin, json={
        "question": "另一个问题", "reason": "x", "expected_version": 1})
    assert stale.status_code == 409
    r = client.post(f"/api/v1/knowledge/{e['id']}/disable", headers=admin, json={"reason": "政策调整"})
    assert r.get_json()["version"] == 3 and not r.get_json()["active"]
    found = client.get("/api/v1/knowledge", query_string={"q": "办居住证要带什么材料"}, headers=agent).get_json()
    assert all(i["id"] != e["id"] for i in found["items"])

    hist = client.get(f"/api/v1/knowledge/{e['id']}/history", headers=admin).get_json()["items"]
    assert [(h["version"], h["action"]) for h in hist] == [(3, "disable"), (2, "update"), (1, "create")]
    assert hist[1]["reason"] == "增加网上办理" and hist[1]["actor"] == "孙管理"
    assert list(hist[1]["changes"]) == ["answer"] and hist[1]["changes"]["answer"][0] == body["answer"]
    listed = client.get("/api/v1/knowledge?all=1&q=居住证", headers=admin).get_json()
    assert listed["total"] >= 1 and listed["items"][0]["id"] == e["id"]
    assert client.get("/api/v1/knowledge?all=1", headers=agent).status_code == 403


def test_the_printable_ticket_shows_the_answer_and_the_entry_in_beijing_time(client, seeded_db):
    from tests.helpers import console_login

    agent = bearer(seeded_db, "agent")
    e = _entry(seeded_db, "养老保险")
    t = client.post(f"/api/v1/knowledge/{e.id}/direct-answer", headers=agent, json={"description": PENSION}).get_json()
    console_login(client, "agent")
    r = client.get(f"/tickets/{t['id']}/print")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert t["number"] in html and "北京时间" in html and f"知识库条目 #{e.id}" in html and "<script>" not in html
    assert client.get("/tickets/999999/print").status_code == 404


def test_quick_reply_templates_are_each_units_own(client, seeded_db):
    rsj, cgj = bearer(seeded_db, "gy_rsj"), bearer(seeded_db, "gy_cgj")
    r = client.post("/api/v1/reply-templates", headers=rsj, json={"title": "欠薪已立案", "text": "您反映的欠薪问题已立案调查。"})
    assert r.status_code == 201
    tid = r.get_json()["id"]
    assert [t["title"] for t in client.get("/api/v1/reply-templates", headers=rsj).get_json()["items"]] == ["欠薪已立案"]
    assert client.get("/api/v1/reply-templates", headers=cgj).get_json()["items"] == []
    assert client.post(f"/api/v1/reply-templates/{tid}/disable", headers=cgj).status_code == 404
    bad = client.post("/api/v1/reply-templates", headers=rsj, json={"title": "", "text": "x"})
    assert bad.status_code == 422 and "标题" in bad.get_json()["error"]["message"]
    assert client.post(f"/api/v1/reply-templates/{tid}/disable", headers=rsj).status_code == 200
    assert client.get("/api/v1/reply-templates", headers=rsj).get_json()["items"] == []
