"""`flowc run --http`: /metrics scraped with Prometheus's own parser gives
the numbers of the summary and of --metrics; /health; /ready follows a
search server that goes away and comes back; the progress log off a
terminal, and `--log-format json`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flowlang.runtime.base import StageContext
from flowlang.stages.file_source import FileSource
from tests.flowrun import FLOWC

pytestmark = pytest.mark.timeout(180)


def start_flowc(
    cwd: Path, program: str, *args: str, env: dict | None = None, name: str = "run.flow"
) -> subprocess.Popen:
    """`flowc run NAME ARGS` of `program` in `cwd`, stderr to cwd/stderr.txt
    (not a terminal)."""
    (cwd / name).write_text(program)
    full_env = dict(os.environ, FLOWC_CACHE_DIR=str(cwd / "cache"), **(env or {}))
    with open(cwd / "stderr.txt", "wb") as err:
        return subprocess.Popen(
            [FLOWC, "run", name, *args],
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def wait_until(check, timeout: float, what: str, run: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if run is not None and run.poll() is not None:
            raise AssertionError(f"the run ended ({run.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def served_url(cwd: Path, run: subprocess.Popen) -> str:
    """The URL the run announced (`--http 127.0.0.1:0`), from its stderr."""

    def announced():
        found = re.search(r"serving (http://\S+)/metrics", (cwd / "stderr.txt").read_text())
        return found and found.group(1)

    return wait_until(announced, 90, "the server to listen", run)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(base: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed by prometheus_client's parser:
    (sample name, sorted labels) -> value."""
    status, text = get(base + "/metrics")
    assert status == 200
    return samples_of(text)


def samples_of(text: str) -> dict[tuple[str, tuple], float]:
    from prometheus_client.parser import text_string_to_metric_families

    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def stop(run: subprocess.Popen, cwd: Path) -> str:
    run.send_signal(signal.SIGTERM)
    try:
        run.wait(60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    return (cwd / "stderr.txt").read_text()


PROGRAM = """pipeline web =
  source file("input.jsonl", format=json, follow=true)
  | where status >= 300
  | set kb = bytes / 1024
  | sink file("output.jsonl")
"""


def write_input(path: Path, n: int) -> None:
    with open(path, "w") as f:
        for i in range(n):
            # every 7th line is not JSON: the source sends it to the error stream
            if i % 7 == 0:
                f.write(f"not json {i}\n")
            else:
                f.write(f'{{"n": {i}, "status": {200 + 100 * (i % 4)}, "bytes": {i}}}\n')


def expected(n: int) -> tuple[int, int]:
    """(out, errors) of PROGRAM on write_input(n)."""
    errors = len(range(0, n, 7))
    return sum(1 for i in range(n) if i % 7 and i % 4), errors


def test_metrics_scraped_equal_the_summary_and_the_metrics_file(tmp_path):
    n = 5000
    write_input(tmp_path / "input.jsonl", n)
    run = start_flowc(
        tmp_path,
        PROGRAM,
        "--http",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--metrics",
        "metrics.json",
    )
    try:
        base = served_url(tmp_path, run)
        assert get(base + "/health") == (200, "ok\n")
        key = ("flowlang_pipeline_records_in_total", (("pipeline", "web"),))
        wait_until(lambda: scrape(base).get(key) == n, 90, "every record read", run)
        # everything read was written and acknowledged: the counters are still
        wait_until(
            lambda: scrape(base).get(("flowlang_checkpoint_age_seconds", _source())) == 0,
            30,
            "the checkpoint to catch up",
            run,
        )
        scraped = scrape(base)
        status, body = get(base + "/ready")
        assert (status, body) == (200, "ready\n")
    finally:
        stderr = stop(run, tmp_path)
    assert run.returncode == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    (summary,) = [e for e in lines if e["event"] == "summary"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["pipelines"] == _without_seconds(summary["pipelines"], saved["pipelines"])
    web = summary["pipelines"]["web"]
    assert (web["out"], web["errors"]) == expected(n)
    assert scraped[key] == web["in"]
    assert scraped[("flowlang_pipeline_records_out_total", (("pipeline", "web"),))] == web["out"]
    for stage in web["stages"]:
        at = (("pipeline", "web"), ("stage", stage["stage"]))
        for field in ("in", "out", "dropped", "errors"):
            assert scraped[(f"flowlang_records_{field}_total", at)] == stage[field], (stage, field)
        if stage["role"] == "sink":
            assert scraped[("flowlang_sink_writes_total", at)] == stage["writes"] > 0
            count = ("flowlang_sink_write_duration_seconds_count", at)
            assert scraped[count] == stage["writes"]
            inf = ("flowlang_sink_write_duration_seconds_bucket", (("le", "+Inf"), *at))
            assert scraped[inf] == stage["writes"]
            assert scraped[("flowlang_sink_records_waiting", at)] == 0
            assert scraped[("flowlang_sink_retries_total", at)] == 0
    # a followed file read to its end is not behind
    assert scraped[("flowlang_source_lag_bytes", _source())] == 0


def _source() -> tuple:
    label = 'source file("input.jsonl", format=json, follow=true) (run.flow:2)'
    return (("pipeline", "web"), ("stage", label))


def _without_seconds(summary: dict, saved: dict) -> dict:
    """The summary with the timings of `saved` (both are the final snapshot,
    but `seconds` and the rate are read at two instants)."""
    out = json.loads(json.dumps(summary))
    for name, snap in out.items():
        for key in ("seconds", "records_per_second"):
            snap[key] = saved[name][key]
    return out


def test_ready_turns_503_while_the_search_server_is_down(
    tmp_path, proxy_factory, es_index, es_reader
):
    from tests.fixtures.search import count

    proxy = proxy_factory()
    write_input(tmp_path / "input.jsonl", 50)
    program = (
        'source file("input.jsonl", format=json, follow=true)\n'
        f'  | sink elastic("{es_index}", url=env("ES_URL"))\n'
    )
    run = start_flowc(tmp_path, program, "--http", "127.0.0.1:0", env={"ES_URL": proxy.url})
    try:
        base = served_url(tmp_path, run)
        wait_until(lambda: get(base + "/ready")[0] == 200, 60, "ready", run)
        wait_until(lambda: count(es_reader, es_index) == 50 - 8, 60, "the documents")
        proxy.stop()
        status, body = wait_until(
            lambda: (got := get(base + "/ready"))[0] == 503 and got, 30, "unready", run
        )
        assert re.fullmatch(
            rf"pipeline run, stage sink elastic\(.*\) \(run.flow:2\): elasticsearch at "
            rf"{re.escape(proxy.url)}/? does not answer\n",
            body,
        ), body
        assert get(base + "/health") == (200, "ok\n")  # the process still runs
        proxy.start()
        wait_until(lambda: get(base + "/ready") == (200, "ready\n"), 30, "ready again", run)
    finally:
        stderr = stop(run, tmp_path)
    assert run.returncode == 0, stderr


def test_off_a_terminal_a_progress_line_comes_every_interval(tmp_path):
    write_input(tmp_path / "input.jsonl", 300)
    run = start_flowc(tmp_path, PROGRAM, "--progress-interval", "0.3")
    try:
        line = re.compile(r"flowc: \d+s: web ([\d,]+) in ([\d,]+) out ([\d,]+) errors")

        def progress():
            found = line.findall((tmp_path / "stderr.txt").read_text())
            return len(found) >= 3 and found[-1][0] == "300" and found

        found = wait_until(progress, 90, "three progress lines", run)
    finally:
        stderr = stop(run, tmp_path)
    assert run.returncode == 0, stderr
    total, out, errors = (int(x.replace(",", "")) for x in found[-1])
    assert (total, (out, errors)) == (300, expected(300)), stderr
    assert "\x1b" not in stderr  # no status line off a terminal
    assert "wall time" in stderr  # and the summary table at the end


def test_progress_lines_and_messages_are_json_under_log_format_json(tmp_path):
    write_input(tmp_path / "input.jsonl", 300)
    run = start_flowc(
        tmp_path, PROGRAM, "--progress-interval", "0.3", "--log-format", "json", "--http", "0"
    )
    try:

        def progress():
            text = (tmp_path / "stderr.txt").read_text()
            return text.count('"event":"progress"') >= 2

        wait_until(progress, 90, "two progress lines", run)
    finally:
        stderr = stop(run, tmp_path)
    assert run.returncode == 0, stderr
    events = [json.loads(line) for line in stderr.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "serving" and kinds[-3:] == ["summary", "unread_errors", "stopped"], kinds
    assert set(kinds) == {"serving", "progress", "summary", "unread_errors", "stopped"}
    assert "not json" in events[-2]["message"]  # the sample of the unread errors
    progress = [e for e in events if e["event"] == "progress"]
    assert all(set(e["pipelines"]["web"]) == {"in", "out", "dropped", "errors"} for e in progress)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", e["time"]) for e in events)
    summary = events[-3]
    assert summary["exit_code"] == 0
    assert summary["pipelines"]["web"]["in"] == 300


def test_an_address_in_use_stops_the_run_before_it_starts(tmp_path):
    import socket

    write_input(tmp_path / "input.jsonl", 3)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        run = start_flowc(tmp_path, PROGRAM.replace(", follow=true", ""), "--http", str(port))
        run.wait(90)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert run.returncode == 2, stderr
    assert f"flowc: --http: cannot listen on 127.0.0.1:{port}: " in stderr
    assert not (tmp_path / "output.jsonl").exists()


def test_bad_http_addresses_are_start_up_errors():
    from flowlang.runtime.errors import FlowError
    from flowlang.runtime.monitor import parse_address

    assert parse_address("9100") == ("127.0.0.1", 9100)
    assert parse_address(":9100") == ("0.0.0.0", 9100)
    assert parse_address("[::1]:0") == ("::1", 0)
    assert parse_address("localhost:80") == ("localhost", 80)
    for bad in ("", "host:", "host:http", "1:70000"):
        with pytest.raises(FlowError, match="expected PORT, HOST:PORT or :PORT"):
            parse_address(bad)


async def test_a_file_read_once_says_how_many_bytes_are_left(tmp_path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("".join(f"line {i}\n" for i in range(20_000)))
    second.write_text("x\n" * 10)
    ctx = StageContext("p", "source file (t.flow:1)", "t.flow:1", options={"batch_size": 100})
    source = FileSource(ctx, str(tmp_path / "*.log"), format="lines")
    total = first.stat().st_size + second.stat().st_size
    assert source.lag_bytes() is None  # not reading yet
    seen = []
    async for _ in source.batches():
        seen.append(source.lag_bytes())
    assert 0 < seen[0] < total
    assert seen == sorted(seen, reverse=True)
    assert source.lag_bytes() is None  # done


async def test_a_nats_source_says_how_many_messages_the_consumer_still_holds(nats_url, stream_name):
    from flowlang.stages.nats_source import NatsSource
    from tests.fixtures.nats import create_stream, publish_many, subjects_of

    await create_stream(nats_url, stream_name)
    await publish_many(nats_url, stream_name, stream_name.lower() + ".x", [b'{"n": 1}'] * 100)
    ctx = StageContext("p", "nats (t.flow:1)", "t.flow:1")
    src = NatsSource(
        ctx, subjects_of(stream_name), stream=stream_name, url=nats_url, batch_size=10, idle=1500
    )
    assert src.pending_messages() is None  # nothing fetched yet
    left = []
    async for batch in src.batches():
        left.append((len(batch.items) + len(batch.records), src.pending_messages()))
        batch.ack()
    await src.close()
    fetched = 0
    for size, pending in left:
        fetched += size
        assert pending == 100 - fetched
    assert fetched == 100


async def test_a_kafka_source_says_how_far_behind_the_high_watermark_it_is(
    kafka_brokers, kafka_topic
):
    from flowlang.stages.kafka_source import KafkaSource
    from tests.fixtures.kafka import produce_many

    await produce_many(kafka_brokers, kafka_topic, [b'{"n": 1}'] * 90)
    ctx = StageContext("p", "kafka (t.flow:1)", "t.flow:1")
    src = KafkaSource(
        ctx, kafka_topic, brokers=kafka_brokers, start="earliest", batch_size=10, idle=3000
    )
    assert src.pending_messages() is None
    fetched, last = 0, None
    async for batch in src.batches():
        fetched += len(batch.items) + len(batch.records)
        last = src.pending_messages()
        assert last is not None and 0 <= last <= 90 - fetched
        batch.ack()
    await src.close()
    assert (fetched, last) == (90, 0)


def test_a_compiled_module_takes_the_same_options(tmp_path):
    from .procs import start

    src = tmp_path / "access.jsonl"
    src.write_text('{"status": 500, "bytes": 2048}\n{"status": 200}\nnot json\n')
    proc = start(
        "web_flow.py",
        "--http",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--metrics",
        str(tmp_path / "m.json"),
        env={"FLOW_IN": str(src), "FLOW_OUT": str(tmp_path / "out.jsonl")},
    )
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stderr.decode().splitlines()]
    assert events[0]["event"] == "serving" and events[0]["url"].startswith("http://127.0.0.1:")
    (summary,) = [e for e in events if e["event"] == "summary"]
    saved = json.loads((tmp_path / "m.json").read_text())
    assert summary["pipelines"]["web"]["in"] == saved["pipelines"]["web"]["in"] == 3


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--progress-interval", "-1", "must be 0 or more seconds"),
        ("--progress-interval", "soon", "not a number of seconds: 'soon'"),
        ("--log-format", "xml", "invalid choice: 'xml'"),
    ],
)
def test_bad_run_options_are_usage_errors(tmp_path, option, value, says):
    (tmp_path / "run.flow").write_text("source stdin | sink stdout\n")
    done = subprocess.run(
        [FLOWC, "run", "run.flow", option, value], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert says in done.stderr


async def test_a_gzip_file_read_once_counts_its_lag_in_compressed_bytes(tmp_path):
    import gzip
    import random

    rng = random.Random(7)  # lines that do not compress to nothing
    lines = "".join(f"{rng.getrandbits(64):x} {i}\n" for i in range(60_000))
    first = tmp_path / "a.log.gz"
    first.write_bytes(gzip.compress(lines.encode()))
    second = tmp_path / "b.log"
    second.write_text("x\n" * 10)
    ctx = StageContext("p", "source file (t.flow:1)", "t.flow:1", options={"batch_size": 100})
    source = FileSource(ctx, str(tmp_path / "*.log*"), format="lines")
    compressed = first.stat().st_size
    seen = []
    async for _ in source.batches():
        seen.append(source.lag_bytes())
    # the lag starts below the compressed size of both files and falls as
    # the gzip file is read (its size, not the larger uncompressed stream)
    assert seen[0] < compressed + second.stat().st_size
    assert seen == sorted(seen, reverse=True)
    assert min(seen) <= second.stat().st_size
