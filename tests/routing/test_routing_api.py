"""Unit routing through the API with the real default models: the seed's
units and catalogue, the lexicon, the suggestion (matter, unit, reasons),
the agent's correction, the dispatcher's ordering, admin lexicon editing
(versioned, audited), and routing-eval's contract."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

from sqlalchemy import func, select

from models import AuditEvent, Category, LabelCorrection, LexiconEntry, Ticket, Unit
from tests.helpers import ROOT, bearer, unit

ISSUE_UNITS = ["gy_rsj", "gy_ybj", "gy_zjj", "gy_cgj", "gy_swj", "gy_gdj", "gy_rqgs", "gy_jtysj", "gy_gaj",
               "gy_jyj", "gy_wjw", "gy_scjgj", "gy_sthjj", "gy_mzj", "gy_nyncj", "gy_zrzyj", "gy_wlj", "gy_tax"]
STREET_LIGHT = ("小区门口路灯坏了", "我们小区门口那条路的路灯坏了半个多月，晚上漆黑一片，老人小孩出行很不安全，"
                "请有关部门尽快派人维修路灯。")


def suggest(client, headers, text, **extra):
    r = client.post("/api/v1/suggest", json={"description": text, **extra}, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_seed_has_the_issues_units_and_a_lexicon_covering_every_matter(seeded_db):
    with seeded_db.session() as s:
        units = {u.code: u for u in s.scalars(select(Unit))}
        assert all(units[c].kind == "department" for c in ISSUE_UNITS)
        districts = [u for u in units.values() if u.kind == "district"]
        assert {"gy_nmq", "gy_yyq", "gy_hxq", "gy_gshq"} <= {u.code for u in districts} and len(districts) >= 8
        assert s.scalar(select(func.count(LexiconEntry.id))) >= 2000
        leaves = {c.id for c in s.scalars(select(Category).where(Category.level == 3))}
        covered = set(s.scalars(select(LexiconEntry.category_id).distinct()))
        assert len(leaves) == 517 and leaves <= covered


def test_a_street_light_goes_to_city_management_with_the_matter_and_why(client, seeded_db):
    s = suggest(client, bearer(seeded_db, "agent"), STREET_LIGHT[0] + STREET_LIGHT[1])
    assert s["unit"]["code"] == "gy_cgj"
    assert s["matter"]["full_name"] == "城乡建设/城市建设和市政管理/城市公共设施"
    assert s["matter"]["level"] == 3
    assert 0 < s["unit_confidence"] <= 1 and s["unit_top"][0]["code"] == "gy_cgj"
    ps = [u["p"] for u in s["unit_top"]]
    assert len(ps) == 3 and ps == sorted(ps, reverse=True)
    assert any(r["kind"] == "lexicon" and "路灯" in r["phrase"] for r in s["reasons"])


def test_the_agents_choice_of_unit_is_a_correction_and_the_dispatcher_sees_the_order(client, seeded_db):
    agent = bearer(seeded_db, "agent")
    sug = suggest(client, agent, STREET_LIGHT[1])
    swj = unit(seeded_db, "gy_swj")
    r = client.post("/api/v1/tickets", headers=agent, json={
        "channel": "phone", "caller": {"name": "王", "phone": "13800000001"}, "subject": STREET_LIGHT[0],
        "description": STREET_LIGHT[1], "unit_id": swj.id})
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert t["responsible_unit"]["code"] == "gy_swj"
    with seeded_db.session() as s:
        c = s.scalar(select(LabelCorrection).where(LabelCorrection.ticket_id == t["id"]))
        assert (c.source, c.predicted_label, c.label) == ("unit_override", sug["unit"]["code"], "gy_swj")

    # A ticket left to a person: the manual form's order puts the
    # suggestion first and the rest by score.
    r = client.post("/api/v1/tickets", headers=agent, json={
        "channel": "web", "caller": {"name": "李", "phone": "13800000002"}, "description": "我想反映一个问题，请回电。"})
    t2 = r.get_json()
    routing = client.get(f"/api/v1/tickets/{t['id']}/routing", headers=bearer(seeded_db, "dispatcher")).get_json()
    assert routing["suggested_unit_id"] == unit(seeded_db, sug["unit"]["code"]).id
    assert routing["units"][0]["id"] == routing["suggested_unit_id"]
    scores = [u["score"] for u in routing["units"][1:]]
    assert scores == sorted(scores, reverse=True)
    assert {u["code"] for u in routing["units"]} >= set(ISSUE_UNITS)
    assert client.get(f"/api/v1/tickets/{t2['id']}/routing", headers=bearer(seeded_db, "gy_rsj")).status_code == 404


def test_admins_add_test_and_disable_lexicon_entries_versioned_and_audited(client, seeded_db):
    admin = bearer(seeded_db, "admin")
    text = "我们村里的牛圈粪水横流，臭不可闻，希望处理。"
    before = client.post("/api/v1/admin/lexicon/test", headers=admin, json={"text": text}).get_json()
    assert all(h["phrase"] != "牛圈粪水" for h in before["hits"])

    r = client.post("/api/v1/admin/lexicon", headers=admin, json={
        "phrase": "牛圈粪水", "category": "环境保护/环境污染/水污染", "note": "养殖污染的说法"})
    assert r.status_code == 201, r.get_json()
    entry = r.get_json()
    assert (entry["version"], entry["active"], entry["source"]) == (1, True, "admin")
    after = client.post("/api/v1/admin/lexicon/test", headers=admin, json={"text": text}).get_json()
    hit = next(h for h in after["hits"] if h["phrase"] == "牛圈粪水")
    assert hit["unit"] == "gy_sthjj" and hit["entry_id"] == entry["id"]

    assert client.post("/api/v1/admin/lexicon", headers=admin, json={
        "phrase": "牛圈粪水", "category": "环境保护/环境污染/水污染", "note": "again"}).status_code == 409
    bad = client.post("/api/v1/admin/lexicon", headers=admin, json={"phrase": "x", "category": "不存在", "note": "n"})
    assert bad.status_code == 422 and "category" in bad.get_json()["error"]["fields"]
    assert client.post("/api/v1/admin/lexicon", headers=bearer(seeded_db, "agent"), json={
        "phrase": "y", "category": "环境保护", "note": "n"}).status_code == 403

    r = client.post(f"/api/v1/admin/lexicon/{entry['id']}/disable", headers=admin, json={"reason": "误判多"})
    assert r.status_code == 200 and r.get_json()["version"] == 2 and not r.get_json()["active"]
    gone = client.post("/api/v1/admin/lexicon/test", headers=admin, json={"text": text}).get_json()
    assert all(h["phrase"] != "牛圈粪水" for h in gone["hits"])
    listed = client.get("/api/v1/admin/lexicon?q=牛圈", headers=admin).get_json()
    assert [e["phrase"] for e in listed["items"]] == ["牛圈粪水"] and listed["items"][0]["active"] is False
    with seeded_db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.object_type == "lexicon_entry")
                                               .order_by(AuditEvent.id))]
    assert actions == ["lexicon_entry.create", "lexicon_entry.disable"]


def test_an_intake_ticket_keeps_the_routing_suggestion(client, seeded_db):
    r = client.post("/api/v1/tickets", headers=bearer(seeded_db, "agent"), json={
        "channel": "web", "caller": {"name": "周", "phone": "13800000003"},
        "subject": STREET_LIGHT[0], "description": STREET_LIGHT[1]})
    t = r.get_json()
    events = client.get(f"/api/v1/tickets/{t['id']}/events", headers=bearer(seeded_db, "agent")).get_json()["items"]
    routing = events[0]["payload"]["routing"]
    assert routing["unit"] == "gy_cgj" and routing["matter"].endswith("城市公共设施")
    assert abs(sum(routing["scores"].values()) - 1) < 1e-3
    with seeded_db.session() as s:
        ticket = s.get(Ticket, t["id"])
        assert ticket.category.full_name == routing["matter"]


def test_routing_eval_prints_the_contracts_json(tmp_path):
    data = tmp_path / "set.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "unit", "address"])
        w.writerow([STREET_LIGHT[0] + STREET_LIGHT[1], "gy_cgj", ""])
        w.writerow(["公司拖欠我三个月工资，老板拒不支付，请劳动监察帮忙追讨。", "gy_rsj", ""])
        w.writerow(["村干部把低保名额给了自己亲戚，真正困难的人吃不上低保。", "district", "南明区"])
    out = subprocess.run([sys.executable, "-m", "hotline", "routing-eval", "--data", str(data), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout)
    for key in ("n", "first_dispatch_accuracy", "auto_routed_share", "auto_routed_accuracy",
                "suggested_unit_accuracy", "top3_unit_accuracy", "per_unit", "latency_ms_p50"):
        assert key in d
    assert d["n"] == 3 and d["per_unit"]["gy_cgj"]["support"] == 1
    assert d["suggested_unit_accuracy"] >= 2 / 3
    bad = subprocess.run([sys.executable, "-m", "hotline", "routing-eval", "--data", str(tmp_path / "missing.csv")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
