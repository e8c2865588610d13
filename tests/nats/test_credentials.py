"""Credentials in NATS URLs never reach what flowc prints, and the reply
subject of a JetStream message reads back as sequence and delivery count."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.urls import redact
from flowlang.runtime.urls import shown as display_url
from flowlang.stages.nats_source import reply_info

secret = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="*\r\n"),
    min_size=1,
    max_size=20,
)
host = st.sampled_from(["127.0.0.1", "nats-1.internal", "[::1]", "nats.example.com"])


@settings(max_examples=150, deadline=None)
@given(
    user=secret,
    password=st.one_of(st.none(), secret),
    hosts=st.lists(host, min_size=1, max_size=3),
)
def test_no_credential_survives_redaction(user, password, hosts):
    userinfo = quote(user, safe="") + (
        ":" + quote(password, safe="") if password is not None else ""
    )
    url = ",".join(f"nats://{userinfo}@{h}:4222" for h in hosts)
    text = f"connect to {url} failed as {user} with {password} ({userinfo})"
    shown = redact(text, url)
    for value in (user, password, userinfo, quote(user, safe="")):
        if value is not None:
            assert value not in shown
    assert display_url(url) == ",".join(f"nats://***@{h}:4222" for h in hosts)


@settings(max_examples=50, deadline=None)
@given(hosts=st.lists(host, min_size=1, max_size=3))
def test_urls_without_credentials_are_shown_as_they_are(hosts):
    url = ",".join(f"nats://{h}:4222" for h in hosts)
    assert display_url(url) == url
    assert redact(f"error at {url}", url) == f"error at {url}"


def test_a_token_url_hides_the_token():
    url = "tls://s3cr3t-t0ken@nats.example.com:4222"
    assert display_url(url) == "tls://***@nats.example.com:4222"
    assert "s3cr3t-t0ken" not in redact("auth with s3cr3t-t0ken refused", url)


@settings(max_examples=100, deadline=None)
@given(seq=st.integers(1, 2**63), delivered=st.integers(1, 10**6), domain=st.booleans())
def test_reply_subjects_give_sequence_and_delivery_count(seq, delivered, domain):
    if domain:
        reply = f"$JS.ACK.hub.ACCHASH.LOGS.enrich.{delivered}.{seq}.77.1700000000000000000.5.tok"
    else:
        reply = f"$JS.ACK.LOGS.enrich.{delivered}.{seq}.77.1700000000000000000.5"
    assert reply_info(reply) == (seq, delivered)
