"""Administration: the routing catalogue and the model registry, admins only."""
from __future__ import annotations

from tests.helpers import WATER, bearer


def test_only_admins_may_edit_the_catalogue(client, seeded_db):
    for user in ("agent", "dispatcher", "gy_rsj"):
        assert client.get("/api/v1/admin/routing-rules", headers=bearer(seeded_db, user)).status_code == 403


def test_a_new_rule_changes_where_tickets_go(client, seeded_db):
    admin = bearer(seeded_db, "admin")
    rules = client.get("/api/v1/admin/routing-rules", headers=admin).get_json()["items"]
    city = next(r["platform"]["id"] for r in rules if "贵阳" in r["platform"]["name"])
    units = client.get("/api/v1/units", headers=admin).get_json()["items"]
    district = next(u for u in units if u["code"] == "gy_yyq")
    body = {"platform_id": city, "category": "城乡建设/城市建设和市政管理/自来水供应",
            "division_code": "520103", "unit_id": district["id"], "note": "云岩区自来水由区政府牵头"}
    r = client.post("/api/v1/admin/routing-rules", json=body, headers=admin)
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    agent = bearer(seeded_db, "agent")
    subject, desc = WATER
    t = client.post("/api/v1/tickets", json={"subject": subject, "description": desc, "address": "贵阳市云岩区中华北路",
                                              "category": "城乡建设/城市建设和市政管理/自来水供应"},
                    headers=agent).get_json()
    assert t["responsible_unit"]["code"] == "gy_yyq"
    r = client.post(f"/api/v1/admin/routing-rules/{rule['id']}/deactivate", json={"reason": "试点结束"},
                    headers=admin)
    assert r.status_code == 200 and not r.get_json()["active"] and "试点结束" in r.get_json()["note"]
    t = client.post("/api/v1/tickets", json={"subject": subject, "description": desc, "address": "贵阳市云岩区中华北路",
                                              "category": "城乡建设/城市建设和市政管理/自来水供应"},
                    headers=agent).get_json()
    assert t["responsible_unit"]["code"] == "gy_swj"
    # The audit log is the auditor's to read (三员分立), not the system administrator's.
    assert client.get("/api/v1/audit", headers=admin).status_code == 403
    log = [e for e in client.get("/api/v1/audit", headers=bearer(seeded_db, "auditor")).get_json()["items"]
           if e["action"].startswith("routing_rule.")]
    assert [(e["action"], e["object_id"], e["reason"]) for e in log[:2]] == [
        ("routing_rule.deactivate", str(rule["id"]), "试点结束"),
        ("routing_rule.create", str(rule["id"]), "云岩区自来水由区政府牵头")]
    assert log[0]["actor"] == "孙管理" and log[1]["payload"]["unit"] == "gy_yyq"


def test_bad_rules_and_fallbacks_are_refused(client, seeded_db):
    admin = bearer(seeded_db, "admin")
    r = client.post("/api/v1/admin/routing-rules", json={"platform_id": 999999, "unit_id": 1, "note": "x"},
                    headers=admin)
    assert r.status_code == 422 and "platform_id" in r.get_json()["error"]["fields"]
    r = client.post("/api/v1/admin/routing-rules", json={"platform_id": 1, "unit_id": 1, "note": "x",
                                                          "category": "没有这个分类"}, headers=admin)
    assert r.status_code == 422
    rules = client.get("/api/v1/admin/routing-rules", headers=admin).get_json()["items"]
    fallback = next(r for r in rules if r["category"] is None and r["division_code"] == "")
    r = client.post(f"/api/v1/admin/routing-rules/{fallback['id']}/deactivate", json={"reason": "x"}, headers=admin)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "fallback_rule"


def test_model_registry_lists_and_refuses_unknown_versions(client, seeded_db):
    admin = bearer(seeded_db, "admin")
    d = client.get("/api/v1/admin/models", headers=admin).get_json()
    assert "items" in d and d["corrections"]["total"] >= 0
    r = client.post("/api/v1/admin/models/no-such-version/activate", json={}, headers=admin)
    assert r.status_code == 422
    r = client.post("/api/v1/admin/models/rollback", json={}, headers=admin)
    assert r.status_code == 409
    assert client.get("/api/v1/admin/models", headers=bearer(seeded_db, "agent")).status_code == 403


def test_create_token_prints_the_token_last_and_is_audited(seeded_db, database_url, client):
    import os
    import subprocess
    import sys

    from sqlalchemy import select

    from models import AuditEvent

    r = subprocess.run([sys.executable, "-m", "hotline", "create-token", "gy_rsj"], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, DATABASE_URL=database_url))
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("hl_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["username"] == "gy_rsj"
    with seeded_db.session() as s:
        ev = s.scalar(select(AuditEvent).where(AuditEvent.action == "api_token.create"))
    assert ev is not None and ev.object_id == "gy_rsj"
