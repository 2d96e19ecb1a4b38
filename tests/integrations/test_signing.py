"""HMAC signatures: what verifies, and every way a message is refused."""
from __future__ import annotations

import time

import pytest

from integrations import signing

SECRET = "s3cret-for-tests"
BODY = '{"type":"ack","ticket_number":"20261127000001","incident_number":"JQ1"}'.encode()


def test_a_signed_message_verifies():
    h = signing.signed_headers(SECRET, BODY, "m-1")
    v = signing.verify(SECRET, h, BODY)
    assert v.message_id == "m-1" and abs(v.timestamp - time.time()) < 5


@pytest.mark.parametrize("change", ["body", "secret", "message_id", "timestamp", "signature"])
def test_any_change_breaks_the_signature(change):
    h = signing.signed_headers(SECRET, BODY, "m-1")
    body, secret = BODY, SECRET
    if change == "body":
        body = BODY.replace(b"JQ1", b"JQ2")
    elif change == "secret":
        secret = "another-secret"
    elif change == "message_id":
        # A replay under a fresh id must not verify: the id is signed.
        h[signing.HEADER_MESSAGE_ID] = "m-2"
    elif change == "timestamp":
        h[signing.HEADER_TIMESTAMP] = str(int(h[signing.HEADER_TIMESTAMP]) - 1)
    else:
        h[signing.HEADER_SIGNATURE] = "v1=" + "0" * 64
    with pytest.raises(signing.SignatureError, match="bad signature"):
        signing.verify(secret, h, body)


def test_stale_and_future_messages_are_refused():
    old = signing.signed_headers(SECRET, BODY, "m-1", now=time.time() - 301)
    with pytest.raises(signing.SignatureError, match="away from our clock"):
        signing.verify(SECRET, old, BODY)
    future = signing.signed_headers(SECRET, BODY, "m-1", now=time.time() + 400)
    with pytest.raises(signing.SignatureError):
        signing.verify(SECRET, future, BODY)
    fresh = signing.signed_headers(SECRET, BODY, "m-1", now=time.time() - 250)
    assert signing.verify(SECRET, fresh, BODY).message_id == "m-1"


@pytest.mark.parametrize("missing", [signing.HEADER_TIMESTAMP, signing.HEADER_SIGNATURE, signing.HEADER_MESSAGE_ID])
def test_missing_headers_are_refused(missing):
    h = signing.signed_headers(SECRET, BODY, "m-1")
    del h[missing]
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify(SECRET, h, BODY)


def test_a_non_numeric_timestamp_is_refused():
    h = signing.signed_headers(SECRET, BODY, "m-1")
    h[signing.HEADER_TIMESTAMP] = "yesterday"
    with pytest.raises(signing.SignatureError, match="not an integer"):
        signing.verify(SECRET, h, BODY)


def test_secrets_come_from_config_then_env_and_never_default_in_production(monkeypatch):
    monkeypatch.delenv("HOTLINE_WEBHOOK_SECRET_POLICE110", raising=False)
    assert signing.secret_for("police110", {"police110": "cfg"}) == "cfg"
    monkeypatch.setenv("HOTLINE_WEBHOOK_SECRET_POLICE110", "from-env")
    assert signing.secret_for("police110", {}) == "from-env"
    monkeypatch.delenv("HOTLINE_WEBHOOK_SECRET_POLICE110")
    assert signing.secret_for("police110", {}, production=False) == signing.DEMO_SECRETS["police110"]
    assert signing.secret_for("police110", {}, production=True) is None
