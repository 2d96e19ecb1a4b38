"""Telephony: a call from ringing to a submitted ticket, replayed by the
simulator over HTTP, with the caller's history and the transcript streamed
to the agent's browser (Socket.IO test client)."""
from __future__ import annotations

import re

from sqlalchemy import select

from hotline.realtime import socketio
from integrations import telephony
from integrations.simulate import TelephonySimulator, sample_message, split_segments
from models import Call, Ticket
from tests.helpers import WATER, bearer, token
from tests.integrations.test_outbox import create


def login(client, username, password="test-password"):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})
    assert r.status_code == 302
    return client


def named(received, name):
    return [m["args"][0] for m in received if m["name"] == name]


def test_extraction_finds_phone_name_and_address():
    got = telephony.extract("我叫陈红，电话13985012345，家住南明区遵义路88号，楼下餐馆油烟很大。")
    assert got == {"phones": ["13985012345"], "name": "陈红", "address": "南明区遵义路88号",
                   "division_code": "520102"}
    got = telephony.extract("我姓李，座机0851-88881234，地址是花溪区溪北街道明珠大道12号3栋。")
    assert got["phones"] == ["0851-88881234"] and got["name"] == "李"
    assert got["address"] == "花溪区溪北街道明珠大道12号3栋" and got["division_code"] == "520111007"
    got = telephony.extract("作为麓谷明珠小区6栋居民，我们很伤心")
    assert got["address"] == "" and got["division_code"] == ""
    assert telephony.extract("我家住翠柳路15号，路灯坏了")["address"] == "翠柳路15号"
    assert telephony.extract("没有任何信息") == {"phones": [], "name": "", "address": "", "division_code": ""}


def test_a_call_streams_to_the_agent_and_becomes_a_ticket(app, client, seeded_db, live_url):
    agent_http = login(app.test_client(), "agent")
    agent_sock = socketio.test_client(app, flask_test_client=agent_http)
    other_sock = socketio.test_client(app, auth={"token": token(seeded_db, "dispatcher")})
    assert agent_sock.is_connected() and other_sock.is_connected()
    # The caller called before: the agent sees that ticket on ringing.
    earlier = create(client, bearer(seeded_db, "agent"), WATER, caller={"name": "陈红", "phone": "13985012345"})

    subject, body = sample_message(3)
    said = f"我叫陈红，我的电话是13985012345。{body}地址是南明区遵义路88号。"
    call_id = TelephonySimulator(live_url).replay("agent", "13985012345", said, recording_ref="rec://demo-1.wav")

    got, seen_by_other = agent_sock.get_received(), other_sock.get_received()
    ringing = named(got, "call.ringing")
    assert len(ringing) == 1 and ringing[0]["call_id"] == call_id
    assert [h["number"] for h in ringing[0]["history"]] == [earlier["number"]]
    segments = named(got, "call.transcript")
    assert len(segments) == 1 + len(split_segments(said))
    assert [s["seq"] for s in segments] == sorted(s["seq"] for s in segments)
    final = named(got, "call.ended")[-1]["draft"]
    assert final["caller"] == {"name": "陈红", "phone": "13985012345"}
    assert final["address"] == "南明区遵义路88号"
    assert final["description"] == said and "坐席：您好" in final["transcript"]
    assert named(seen_by_other, "call.transcript") == [], "only the answering agent sees the call"

    # The form submits the draft through ordinary intake.
    draft = agent_http.get(f"/api/v1/calls/{call_id}").get_json()["draft"]
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', agent_http.get("/intake").get_data(as_text=True))
    r = agent_http.post("/api/v1/tickets", json={
        "channel": "phone", "caller": draft["caller"], "description": draft["description"],
        "address": draft["address"], "call_id": call_id, "transcript": draft["transcript"],
        "category": "城乡建设"}, headers={"X-CSRFToken": csrf.group(1)})
    assert r.status_code == 201, r.get_json()
    with seeded_db.session() as s:
        t = s.scalar(select(Ticket).where(Ticket.call_id == call_id))
        assert t.transcript == draft["transcript"] and "来电人：我叫陈红" in t.transcript
        call = s.scalar(select(Call).where(Call.call_id == call_id))
        assert call.ticket_id == t.id and call.state == "ended" and call.recording_ref == "rec://demo-1.wav"


def test_another_agent_cannot_read_the_call(client, seeded_db, live_url):
    call_id = TelephonySimulator(live_url).replay("agent", "13800000000", "路灯坏了。")
    assert client.get(f"/api/v1/calls/{call_id}", headers=bearer(seeded_db, "province_agent")).status_code == 404
    assert client.get(f"/api/v1/calls/{call_id}", headers=bearer(seeded_db, "agent")).status_code == 200
    assert client.get("/api/v1/calls/" + "x" * 80, headers=bearer(seeded_db, "agent")).status_code == 404
