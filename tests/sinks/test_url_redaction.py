"""No credential of a server URL reaches what flowc prints, whatever the URL
looks like: one rule (`flowlang.runtime.urls`) for every sink and source."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.urls import credentials, problem, redact, shown
from tests.flowrun import FLOWC

secret = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="*\r\n,@/?#"),
    min_size=3,
    max_size=20,
)
# hosts as users write them, and as they mistype them
host = st.sampled_from(
    [
        "127.0.0.1:9200",
        "es.internal",
        "[::1]:9200",
        "[::1",
        "[::1:9200",
        "es:port",
        "",
        "es.example.com:99999",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://", "nats://", ""]),
    user=secret,
    password=st.one_of(st.none(), secret),
    where=host,
    path=st.sampled_from(["", "/", "/prefix", "/x?token=abc"]),
)
def test_no_credential_of_any_url_survives(scheme, user, password, where, path):
    userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    url = f"{scheme}{userinfo}@{where}{path}"
    # what client libraries write: the URL quoted, parsed parts, the user name
    text = f"Could not parse URL {url!r}; connecting to {url} as {user} with {password}"
    out = redact(text, url)
    assert shown(url).startswith(f"{scheme}***@")
    for value in (userinfo, user, password, quote(user, safe="")):
        if value:
            assert value not in out and value not in shown(url)
    assert "token=abc" not in shown(url)
    assert set(credentials(url)) >= {userinfo, user}


def test_other_secrets_are_hidden_too_and_plain_urls_shown_as_they_are():
    assert redact("key k3y-s3cr3t refused", "http://es:9200", "k3y-s3cr3t") == "key *** refused"
    assert shown("http://es:9200/p") == "http://es:9200/p"
    assert redact("down: http://es:9200", "http://es:9200") == "down: http://es:9200"


def test_a_url_that_names_no_server_says_why_without_quoting_it():
    assert problem("http://es:9200") is None
    assert problem("http://user:pw@[::1") == "is not a valid URL"
    assert problem("es:9200") == "is not an http:// or https:// URL with a host"


FLOW = """\
pipeline p = source file("in.jsonl", format=json) | sink {sink}
"""


def run_with_url(tmp_path, sink: str, url: str) -> subprocess.CompletedProcess:
    (tmp_path / "in.jsonl").write_text('{"n": 1, "v": 2}\n')
    (tmp_path / "p.flow").write_text(FLOW.format(sink=sink))
    env = dict(os.environ, SERVER_URL=url, FLOWC_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run(
        [FLOWC, "run", "p.flow"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )


def test_a_malformed_elasticsearch_url_stops_the_run_without_its_credentials(tmp_path):
    done = run_with_url(
        tmp_path, 'elastic("web", url=env("SERVER_URL"))', "http://user:s3cr3t-pw@[::1"
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "bad connection settings for http://***@[::1" in err
    assert "s3cr3t-pw" not in err and "user:" not in err


def test_a_malformed_influxdb_url_stops_the_run_without_its_credentials(tmp_path):
    done = run_with_url(
        tmp_path,
        'influx("b", measurement="m", url=env("SERVER_URL"))',
        "http://user:s3cr3t-pw@[::1",
    )
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "influx: url http://***@[::1 is not a valid URL" in err
    assert "s3cr3t-pw" not in err and "user:" not in err
