"""`sink http` against a loopback endpoint started by the test: one request
per chunk of `batch` records, both body formats, a 429 storm waited out
(Retry-After honoured), a 400 putting that request's records in the error
stream with the status and the answer, 5xx retried, credentials never shown."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.fixtures.faults import RESET, Reply
from tests.flowrun import CompileFailed, run_flow
from tests.http.collector import Collector

PROGRAM = """
source file("input.jsonl", format=json)
  | sink http(env("OUT"), ARGS)
"""


def sink_counters(result) -> dict:
    (pipeline,) = [m for name, m in result.metrics.items() if not name.startswith("collect_")]
    return pipeline["stages"][-1]["counters"]


def run(tmp_path, sink: Collector, args: str, n: int, url: str | None = None):
    records = [{"n": i, "text": f"record {i}"} for i in range(n)]
    env = {"OUT": url or sink.url + "/ingest"}
    return run_flow(PROGRAM.replace("ARGS", args), tmp_path, records=records, env=env)


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_records_arrive_once_in_chunks_of_batch(tmp_path, fmt):
    with Collector() as sink:
        result = run(tmp_path, sink, f'format={fmt}, batch=400, headers=["X-Source: flowc"]', 1000)
    assert result.exit_code == 0, result.stderr
    assert sorted(r["n"] for r in sink.records) == list(range(1000))
    sizes = []
    for req in sink.requests:
        assert req["method"] == "POST" and req["path"] == "/ingest"
        assert req["headers"]["X-Source"] == "flowc"
        if fmt == "json":
            assert req["headers"]["Content-Type"] == "application/json"
            sizes.append(len(json.loads(req["body"])))
        else:
            assert req["headers"]["Content-Type"] == "application/x-ndjson"
            sizes.append(len(req["body"].splitlines()))
    assert max(sizes) <= 400 and sum(sizes) == 1000
    assert result.errors == []


def test_a_429_storm_is_waited_out_honouring_retry_after(tmp_path):
    with Collector() as sink:
        sink.reply = lambda n, body: (
            Reply(429, "slow down", {"Retry-After": "1"}) if n <= 2 else None
        )
        began = time.monotonic()
        result = run(tmp_path, sink, "batch=1000", 50)
        took = time.monotonic() - began
    assert result.exit_code == 0, result.stderr
    assert sorted(r["n"] for r in sink.records) == list(range(50))  # each once
    assert len(sink.requests) == 3
    assert took >= 2.0  # two waits of at least Retry-After: 1
    assert sink.calls[2] - sink.calls[0] >= 2.0
    counters = sink_counters(result)
    assert (counters["requests"], counters["retries"]) == (3, 2)
    assert result.errors == []


def test_5xx_and_a_dropped_connection_are_retried(tmp_path):
    with Collector() as sink:
        answers = {1: Reply(503, "busy"), 2: RESET, 3: Reply(500, "oops")}
        sink.reply = lambda n, body: answers.get(n)
        result = run(tmp_path, sink, "", 10)
    assert result.exit_code == 0, result.stderr
    assert sorted(r["n"] for r in sink.records) == list(range(10))
    assert len(sink.requests) == 4


def test_a_400_sends_that_request_s_records_to_the_error_stream(tmp_path):
    def reply(n, body):
        if b'"n":3,' in body or b'"n":7,' in body:
            return Reply(400, {"error": "field text is not allowed here"})
        return None

    with Collector() as sink:
        sink.reply = reply
        result = run(tmp_path, sink, "batch=1", 10)
    assert result.exit_code == 0, result.stderr
    assert sorted(r["n"] for r in sink.records) == [0, 1, 2, 4, 5, 6, 8, 9]
    assert sorted(e["record"]["n"] for e in result.errors) == [3, 7]
    for error in result.errors:
        assert error["code"] == "rejected"
        assert "answered 400" in error["message"]
        assert "field text is not allowed here" in error["message"]


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(tmp_path):
    with Collector() as sink:
        sink.reply = lambda n, body: (
            Reply(503, "busy", {"Retry-After": "0"}) if n == 1 else Reply(400, "no")
        )
        url = sink.url.replace("http://", "http://ingest:pa55word@") + "/ingest"
        result = run(tmp_path, sink, "", 2, url=url)
    assert result.exit_code == 0, result.stderr
    sent = sink.requests[0]["headers"]
    assert sent["Authorization"] == "Basic " + base64.b64encode(b"ingest:pa55word").decode()
    assert len(result.errors) == 2
    shown = result.stderr + json.dumps(result.errors)
    assert "pa55word" not in shown and "ingest:" not in shown
    assert "***@127.0.0.1" in result.errors[0]["message"]


def test_a_token_is_sent_as_bearer_and_never_shown(tmp_path):
    with Collector() as sink:
        sink.reply = lambda n, body: Reply(503, "busy", {"Retry-After": "0"}) if n == 1 else None
        result = run_flow(
            PROGRAM.replace("ARGS", 'token=env("HOOK_TOKEN")'),
            tmp_path,
            records=[{"n": 1}],
            env={"OUT": sink.url + "/ingest", "HOOK_TOKEN": "hook-tok-123"},
        )
    assert result.exit_code == 0, result.stderr
    assert [r["headers"]["Authorization"] for r in sink.requests] == ["Bearer hook-tok-123"] * 2
    assert "hook-tok-123" not in result.stderr


def test_bad_arguments_are_compile_errors(tmp_path):
    for args in (
        'method="GET"',
        'headers=["no colon"]',
        'headers=["Content-Type: x"]',
        "batch=0",
        "timeout=0s",
    ):
        with pytest.raises(CompileFailed):
            run_flow(
                'source file("input.jsonl") | sink http("http://localhost:1/x", ' + args + ")",
                tmp_path,
            )
    with pytest.raises(CompileFailed, match="http:// or https://"):
        run_flow('source file("input.jsonl") | sink http("ftp://host/x")', tmp_path)


def test_two_kinds_of_credentials_are_refused_at_start(tmp_path):
    result = run_flow(
        PROGRAM.replace("ARGS", 'token="t"'),
        tmp_path,
        records=[{"n": 1}],
        env={"OUT": "http://u:p@127.0.0.1:9/x"},
    )
    assert result.exit_code == 2
    assert "not several" in result.stderr and "u:p" not in result.stderr
