"""One vocabulary: the named sets of dispatch/workflow.py reach the console's
JavaScript through base.html, and the modules that once kept copies use them."""
from __future__ import annotations

import json
import re

import pytest

from dispatch import rooms, workflow
from dispatch.access import Actor
from models import STATUSES
from tests.helpers import actor, console_login


def page_data(client, db, username: str, path: str = "/inbox") -> tuple[dict, str]:
    console_login(client, username)
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'<script type="application/json" id="hotline-data">(.*?)</script>', html, re.S)
    assert m, "base.html hands the page data over as a JSON block"
    return json.loads(m.group(1)), html


def test_base_html_hands_the_named_sets_to_the_javascript(client, seeded_db):
    data, html = page_data(client, seeded_db, "dispatcher")
    assert data["sets"]["open"] == sorted(workflow.OPEN)
    assert "awaiting_citizen" in data["sets"]["open"] and data["sets"]["paused"] == ["awaiting_citizen"]
    assert data["sets"]["running"] == sorted(workflow.RUNNING)
    assert data["roles"]["coordinators"] == sorted(workflow.COORDINATORS)
    assert data["callbackTries"] == workflow.CALLBACK_TRIES and data["thirdReturn"] == workflow.THIRD_RETURN
    assert data["statuses"] == STATUSES and data["role"] == "dispatcher"
    # No inline script (a strict CSP is coming): only src= and JSON blocks.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


@pytest.mark.parametrize("username,shown,hidden", [
    ("agent", ["受理登记", "回访队列"], ["统计报表", "督办看板", "派单审核"]),
    ("supervisor", ["统计报表", "督办看板", "联动看板"], ["受理登记", "派单审核"]),
    ("gy_rsj", ["待办工单", "统计报表"], ["受理登记", "督办看板", "回访队列"]),
])
def test_the_navigation_follows_the_role_groups(client, seeded_db, username, shown, hidden):
    _, html = page_data(client, seeded_db, username)
    nav = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    for label in shown:
        assert label in nav, (username, label)
    for label in hidden:
        assert label not in nav, (username, label)


def test_open_statuses_are_one_set():
    from dispatch import figures
    from hotline import open311

    assert open311.OPEN is workflow.OPEN
    assert set(figures.RUNNING) == workflow.RUNNING and set(figures.PAUSED) == workflow.PAUSED
    assert workflow.RUNNING | workflow.PAUSED == workflow.CLOCKED
    assert workflow.OPEN | workflow.ANSWERED | workflow.TERMINAL == set(STATUSES)


def test_room_names():
    province = Actor(1, "p", "coordinator", 7, "province_platform", "/7/", "p")
    dept = Actor(2, "d", "department", 9, "department", "/7/8/9/", "d")
    assert rooms.for_actor(province) == ["unit:7", "role:coordinator", "user:1", rooms.ALL_PLATFORMS]
    assert rooms.for_actor(dept) == ["unit:9", "role:department", "user:2"]
