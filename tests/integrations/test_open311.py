"""Open311 GeoReport v2: services, filing a request (form-encoded, api_key),
reading it back by id and token, status mapping, and errors in the spec's
shape for every bad input."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.helpers import bearer, token

def service_code(client, name="自来水供应"):
    items = client.get("/open311/v2/services.json").get_json()
    return next(s["service_code"] for s in items if s["service_name"] == name)


def file(client, key, **fields):
    form = {"api_key": key, "service_code": service_code(client), "address_string": "南明区遵义路88号",
            "description": "小区停水两天，无人通知。", "first_name": "红", "last_name": "陈", "phone": "13985012345",
            "lat": "26.57", "long": "106.71"} | fields
    return client.post("/open311/v2/requests.json", data=form)


def test_services_in_json_and_xml(client, seeded_db):
    items = client.get("/open311/v2/services.json").get_json()
    water = next(s for s in items if s["service_name"] == "自来水供应")
    assert water["group"] == "城乡建设/城市建设和市政管理" and water["metadata"] is False and water["type"] == "realtime"
    r = client.get("/open311/v2/services.xml")
    assert r.mimetype == "application/xml"
    root = ET.fromstring(r.data)
    assert root.tag == "services" and len(root.findall("service")) == len(items)
    d = client.get(f"/open311/v2/services/{water['service_code']}.json").get_json()
    assert d == [{"service_code": water["service_code"], "attributes": []}]


def test_a_request_becomes_a_ticket_and_reads_back_by_id_and_token(client, seeded_db):
    key = token(seeded_db, "agent")
    r = file(client, key)
    assert r.status_code == 201, r.get_json()
    (created,) = r.get_json()
    rid, tok = created["service_request_id"], created["token"]
    t = client.get("/api/v1/tickets?per_page=1", headers=bearer(seeded_db, "agent")).get_json()["items"][0]
    assert t["number"] == rid and t["channel"] == "open311" and t["caller"]["name"] == "陈红"
    assert t["category"]["name"] == "城乡建设/城市建设和市政管理/自来水供应"

    (got,) = client.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert got["status"] == "open" and got["status_notes"].startswith("已派单")
    assert got["lat"] == 26.57 and got["address"] == "南明区遵义路88号"
    assert "陈" not in str(got), "no caller identity in public output"
    assert client.get(f"/open311/v2/tokens/{tok}.json").get_json() == [{"service_request_id": rid, "token": tok}]
    listed = client.get(f"/open311/v2/requests.json?service_request_id={rid}").get_json()
    assert [x["service_request_id"] for x in listed] == [rid]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{rid}.xml").data)
    assert xml.find("request/status").text == "open"

    # Closed by the department: closed, with the reply in status_notes.
    dept = bearer(seeded_db, "gy_swj")
    for action, body in (("sign_for", {}), ("reply", {"reply_text": "已恢复供水。"}), ("close", {})):
        assert client.post(f"/api/v1/tickets/{t['id']}/actions/{action}", json=body, headers=dept).status_code == 200
    (got,) = client.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert got["status"] == "closed" and got["status_notes"] == "已办结：已恢复供水。"
    assert [x["service_request_id"] for x in client.get("/open311/v2/requests.json?status=closed").get_json()] == [rid]
    assert client.get("/open311/v2/requests.json?status=open").get_json() == []


def test_a_ticket_waiting_for_the_citizen_is_open(client, seeded_db):
    """awaiting_citizen is not an answer: the request stays open (Open311
    once kept its own copy of the open statuses, without this one)."""
    from dispatch.workflow import OPEN

    r = file(client, token(seeded_db, "agent"))
    (created,) = r.get_json()
    rid = created["service_request_id"]
    t = client.get("/api/v1/tickets?per_page=1", headers=bearer(seeded_db, "agent")).get_json()["items"][0]
    dept = bearer(seeded_db, "gy_swj")
    for action, body in (("sign_for", {}), ("await_citizen", {"reason": "请提供门牌号"})):
        assert client.post(f"/api/v1/tickets/{t['id']}/actions/{action}", json=body, headers=dept).status_code == 200
    (got,) = client.get(f"/open311/v2/requests/{rid}.json").get_json()
    assert "awaiting_citizen" in OPEN
    assert got["status"] == "open" and got["status_notes"] == "待群众补充"
    assert [x["service_request_id"] for x in client.get("/open311/v2/requests.json?status=open").get_json()] == [rid]
    assert client.get("/open311/v2/requests.json?status=closed").get_json() == []


@pytest.mark.parametrize("fields,status,fragment", [
    ({"api_key": ""}, 400, "api_key is required"),
    ({"api_key": "hl_forged"}, 403, "invalid"),
    ({"service_code": ""}, 400, "service_code is required"),
    ({"service_code": "9999"}, 404, "not found"),
    ({"address_string": "", "lat": "", "long": ""}, 400, "location is required"),
    ({"address_string": "", "lat": "north"}, 400, "lat is not a number"),
    ({"address_string": "", "lat": "95", "long": "1"}, 400, "outside"),
    ({"description": ""}, 400, "description is required"),
    ({"description": "x" * 5000}, 400, "longer than"),
    ({"phone": "<script>"}, 400, "phone"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
])
def test_bad_requests_get_open311_errors(client, seeded_db, fields, status, fragment):
    r = file(client, token(seeded_db, "agent"), **fields)
    assert r.status_code == status
    (err,) = r.get_json()
    assert err["code"] == status and fragment in err["description"]


def test_other_errors_in_open311_shape(client, seeded_db):
    r = client.post("/open311/v2/requests.json", json={"api_key": "x"})
    assert r.status_code == 400 and "form-encoded" in r.get_json()[0]["description"]
    r = file(client, token(seeded_db, "gy_swj"))
    assert r.status_code == 403 and "platform" in r.get_json()[0]["description"]
    assert client.get("/open311/v2/requests/nope.json").status_code == 404
    assert client.get("/open311/v2/tokens/not-a-token.json").status_code == 404
    assert client.get("/open311/v2/services.yaml").get_json()[0]["code"] == 404
    r = client.get("/open311/v2/requests.xml?start_date=yesterday")
    assert r.status_code == 400 and ET.fromstring(r.data).find("error/code").text == "400"
    assert client.get("/open311/v2/requests.json?status=lost").status_code == 400
    r = client.delete("/open311/v2/requests.json")
    assert r.status_code == 404 and isinstance(r.get_json(), list)
