"""Failed logins are throttled per (user name, address) with a growing delay,
so nobody can lock an account out from elsewhere; Redis shares the counts,
and the database answers when Redis does not."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from hotline.throttle import FREE_FAILURES, LoginThrottle, delay_after
from models import AuditEvent
from tests.helpers import free_port


def post_login(client, username, password, address="10.0.0.1"):
    env = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=env).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf},
                       environ_base=env)


def test_the_delay_grows_with_each_failure():
    assert [delay_after(n) for n in range(FREE_FAILURES + 4)] == [0] * FREE_FAILURES + [1, 2, 4, 8]
    assert delay_after(50) == delay_after(1000) > 0


def test_failures_from_elsewhere_never_lock_the_owner_out(app):
    """Finding 4: five wrong passwords from one address used to lock the
    account for 15 minutes, even against the right password from another."""
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(FREE_FAILURES + 3):
        r = post_login(attacker, "agent", "wrong", address="203.0.113.9")
        assert r.status_code in (401, 429)
    r = post_login(attacker, "agent", "test-password", address="203.0.113.9")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, "the guesser is slowed down"
    assert "登录失败次数过多" in r.get_data(as_text=True)
    assert post_login(owner, "agent", "test-password", address="198.51.100.7").status_code == 302


def test_failed_logins_are_audited_with_address_and_result(app, seeded_db):
    c = app.test_client()
    post_login(c, "dispatcher", "wrong", address="192.0.2.44")
    assert post_login(c, "dispatcher", "test-password", address="192.0.2.44").status_code == 302
    with seeded_db.session() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.object_id == "dispatcher")
                         .order_by(AuditEvent.id)).all()
    assert [(e.action, e.result, e.address) for e in rows] == [
        ("login.failed", "failure", "192.0.2.44"), ("login", "success", "192.0.2.44")]
    assert rows[1].actor_label == "李派单" and rows[1].at is not None


def test_counters_in_redis_are_shared_per_name_and_address(redis_url, redis_conn):
    name = f"user-{uuid.uuid4().hex[:6]}"
    a, b = LoginThrottle(redis_url, window=60), LoginThrottle(redis_url, window=60)
    for _ in range(FREE_FAILURES + 2):
        a.failed(name, "10.0.0.1")
    assert 0 < b.retry_after(name, "10.0.0.1") <= delay_after(FREE_FAILURES + 2), \
        "a second web process sees the same count"
    assert b.retry_after(name, "10.0.0.2") == 0, "another address is not held back"
    assert b.retry_after("someone-else", "10.0.0.1") == 0
    b.succeeded(name, "10.0.0.1")
    assert a.retry_after(name, "10.0.0.1") == 0


def test_one_address_spraying_many_names_is_held(redis_url, redis_conn):
    t = LoginThrottle(redis_url, window=60, max_per_address=5)
    for i in range(5):
        t.failed(f"name{i}", "10.9.9.9")
    assert t.retry_after("fresh-name", "10.9.9.9") > 0
    assert t.retry_after("fresh-name", "10.9.9.8") == 0


def test_without_redis_the_database_counts_and_login_still_works(seeded_db, database_url):
    """Redis configured but unreachable: no 500, the throttle still holds
    (from the audit rows in the database), the right password still works
    from another address."""
    from dispatch import events
    from hotline.app import create_app
    from runtime.settings import Settings

    events.unsubscribe_all()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(Settings(database_url=database_url, redis_url=None, secret_key="test-secret-key-0123456789"))
    from hotline.throttle import LoginThrottle as T

    app.extensions["hotline.login_throttle"] = T(dead_redis, app.extensions["hotline.db"])
    try:
        c = app.test_client()
        codes = [post_login(c, "supervisor", "wrong", address="203.0.113.5").status_code
                 for _ in range(FREE_FAILURES + 2)]
        assert 500 not in codes and codes[0] == 401
        r = post_login(c, "supervisor", "test-password", address="203.0.113.5")
        assert r.status_code == 429, "the database remembered the failures"
        assert post_login(app.test_client(), "supervisor", "test-password",
                          address="198.51.100.8").status_code == 302
    finally:
        events.unsubscribe_all()
        app.extensions["hotline.db"].dispose()
