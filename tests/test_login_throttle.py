"""Failed logins are throttled per user name, in memory and in Redis."""
from __future__ import annotations

import re
import uuid

from hotline.throttle import MAX_PER_USER, LoginThrottle


def post_login(client, username, password):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})


def test_too_many_failures_lock_the_name_for_a_while(app):
    c = app.test_client()
    for _ in range(MAX_PER_USER):
        assert post_login(c, "agent", "wrong").status_code == 401
    r = post_login(c, "agent", "test-password")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in r.get_data(as_text=True)
    # Other people are not locked out by someone guessing at "agent".
    assert post_login(c, "dispatcher", "test-password").status_code == 302


def test_a_success_resets_the_count(app):
    c = app.test_client()
    for _ in range(MAX_PER_USER - 1):
        post_login(c, "agent", "wrong")
    assert post_login(c, "agent", "test-password").status_code == 302
    for _ in range(MAX_PER_USER - 1):
        assert post_login(c, "agent", "wrong").status_code == 401


def test_counters_in_redis_are_shared_and_expire(redis_url, redis_conn):
    name = f"user-{uuid.uuid4().hex[:6]}"
    a, b = LoginThrottle(redis_url, window=60), LoginThrottle(redis_url, window=60)
    for _ in range(MAX_PER_USER):
        a.failed(name, "10.0.0.1")
    wait = b.retry_after(name, "10.0.0.2")
    assert 0 < wait <= 60, "a second web process sees the same count"
    assert b.retry_after("someone-else", "10.0.0.3") == 0
    b.succeeded(name)
    assert a.retry_after(name, "10.0.0.4") == 0
