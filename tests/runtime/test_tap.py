"""`flowc tap ADDR PIPELINE[:LINE]` against a real `flowc run --http`: the
output of a pipeline and of a stage line (copied before later stages change
the record), error records, several taps at once, the rate limit, a
stalled reader that loses samples (a `dropped` line) but never slows the
run, and unknown points refused with the list of valid ones. Plus the law
the generated code keeps: a segment's `run_tapped` does what `run` does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.compile_cache import load_module
from flowlang.compiler import compile_source
from flowlang.source import SourceFile
from tests.flowrun import FLOWC
from tests.runtime.procs import records
from tests.runtime.test_monitor import (
    PROGRAM,
    expected,
    served_url,
    start_flowc,
    stop,
    wait_until,
    write_input,
)

pytestmark = pytest.mark.timeout(180)


class TapClient:
    """`flowc tap URL POINT ARGS` as a subprocess; stdout and stderr in files."""

    def __init__(self, cwd: Path, name: str, url: str, point: str, *args: str):
        self.out, self.err = cwd / f"{name}.out", cwd / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [FLOWC, "tap", url, point, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=dict(os.environ),
            )

    def attached(self) -> bool:
        return "flowc: tapping" in self.err.read_text()

    def wait(self) -> int:
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def samples(self, kind: str = "record") -> list[dict]:
        return [line[kind] for line in self.lines() if kind in line]


def start_run(tmp_path: Path, program: str = PROGRAM):
    (tmp_path / "input.jsonl").write_text("")
    run = start_flowc(tmp_path, program, "--http", "127.0.0.1:0", "--progress-interval", "0")
    return run, served_url(tmp_path, run)


def attach(run, *taps: TapClient) -> None:
    wait_until(lambda: all(t.attached() for t in taps), 60, "the taps to attach", run)


def test_taps_of_the_output_a_stage_line_and_the_errors_at_once(tmp_path):
    run, url = start_run(tmp_path)
    output = TapClient(tmp_path, "output", url, "web", "--rate", "1000")
    where = TapClient(tmp_path, "where", url, "web:3", "--rate", "1000/s")
    source = TapClient(tmp_path, "source", url, "web:2", "--rate", "1000", "--errors")
    attach(run, output, where, source)
    n = 3000
    write_input(tmp_path / "input.jsonl", n)
    out, errors = expected(n)
    wait_until(lambda: len(records(tmp_path / "output.jsonl")) == out, 60, "the output", run)
    assert stop(run, tmp_path) and run.returncode == 0
    assert [t.wait() for t in (output, where, source)] == [0, 0, 0]
    for tap in (output, where, source):
        assert "tap ended: " in tap.err.read_text()

    written = {r["n"]: r for r in records(tmp_path / "output.jsonl")}
    sampled = output.samples()
    assert sampled and all(written[r["n"]] == r for r in sampled)
    assert {line["stage"] for line in output.lines()} == {'sink file("output.jsonl") (run.flow:5)'}

    # line 3 is `where`, fused with `set` on line 4: its records passed the
    # where and were copied before the set added `kb`
    passed = where.samples()
    assert passed and all(r["status"] >= 300 and "kb" not in r for r in passed)
    assert {line["stage"] for line in where.lines()} == {"where status >= 300 (run.flow:3)"}
    assert not where.samples("error")  # no record fails in the where

    read = source.samples()
    assert any(r["status"] < 300 for r in read)  # before the where
    bad = source.samples("error")
    assert bad and all(e["code"] == "parse" and e["raw"].startswith("not json") for e in bad)
    assert len({e["raw"] for e in bad}) == len(bad) <= errors


def test_the_rate_is_respected(tmp_path):
    run, url = start_run(tmp_path)
    began = time.monotonic()
    tap = TapClient(tmp_path, "slow", url, "web", "--rate", "4")
    attach(run, tap)
    total, steps = 0, 30

    def writer():  # records arrive for about 3 s, 100 at a time
        nonlocal total
        with open(tmp_path / "input.jsonl", "a") as f:
            for step in range(steps):
                for i in range(100):
                    n = step * 100 + i
                    f.write(json.dumps({"n": n, "status": 500, "bytes": n}) + "\n")
                f.flush()
                total += 100
                time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    wait_until(lambda: len(records(tmp_path / "output.jsonl")) == total, 60, "the output", run)
    stop(run, tmp_path)
    assert tap.wait() == 0
    window = time.monotonic() - began  # longer than the tap was attached
    got = len(tap.samples())
    # a bucket of 4 a second that starts full: at most 4 + 4 per second
    assert 4 <= got <= 4 + 4 * window, (got, window)
    assert run.returncode == 0


def test_a_stalled_reader_loses_samples_and_the_run_goes_on(tmp_path):
    program = PROGRAM.replace("| set kb = bytes / 1024", "| set pad = text")
    run, url = start_run(tmp_path, program)
    host, port = url.removeprefix("http://").rsplit(":", 1)

    def stalled_tap() -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.sendall(f"GET /tap?pipeline=web&rate=10000 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return sock

    stalled, never_read = stalled_tap(), stalled_tap()
    n = 10_000
    with open(tmp_path / "input.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"n": i, "status": 500, "bytes": i, "text": "x" * 2000}) + "\n")
    # nothing is read from the tap while the run takes every record
    written = tmp_path / "output.jsonl"
    wait_until(
        lambda: written.exists() and written.read_bytes().count(b"\n") == n, 120, "the output", run
    )
    stalled.settimeout(30)
    received = b""
    while b'"dropped":' not in received:
        chunk = stalled.recv(1 << 20)
        assert chunk, "the tap ended without reporting dropped samples"
        received += chunk
    stalled.close()
    # a client that never reads does not hold the end of the run either
    # a client that never reads does not hold the end of the run either
    stderr = stop(run, tmp_path)
    never_read.close()
    assert run.returncode == 0, stderr
    assert [r["n"] for r in records(tmp_path / "output.jsonl")] == list(range(n))


def test_an_unknown_point_exits_2_listing_the_points(tmp_path):
    run, url = start_run(tmp_path)
    try:
        for point, message in (
            ("web:9", "pipeline web has no stage to tap on line 9"),
            ("nope", "no pipeline 'nope' in this run (pipelines: web)"),
        ):
            done = subprocess.run(
                [FLOWC, "tap", url, point], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 2
            assert done.stdout == ""
            assert f"flowc: {message}\n" in done.stderr
            for listed in ("web ", "web:2", "web:3", "web:4", "web:5"):
                assert f"  {listed}" in done.stderr
    finally:
        stop(run, tmp_path)
    closed = subprocess.run([FLOWC, "tap", url, "web"], capture_output=True, text=True)
    assert closed.returncode == 2 and "cannot connect" in closed.stderr


ROUTED = """pipeline app =
  source file("input.jsonl", format=json, follow=true)
  | where status >= 0 | set seen = true
  | route {
      loud: status >= 500,
      rest: else,
    }

pipeline loud = from app
  | summarize n = count() by status every 1m
  | sink file("loud.jsonl")

pipeline rest = from app | sink file("rest.jsonl")
"""


def test_the_points_of_windows_routes_and_lines_of_several_stages(tmp_path):
    import asyncio

    import aiohttp

    run, url = start_run(tmp_path, ROUTED)

    async def ask(**query) -> tuple[int, str, list]:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/tap", params=query) as resp:
                body = await resp.json(content_type=None)
                return resp.status, body["error"], body.get("points", [])

    async def routed() -> list[dict]:
        """The route's output, read with aiohttp until three records came."""
        got = []
        async with aiohttp.ClientSession() as session:
            query = {"pipeline": "app", "line": "4", "rate": "1000"}
            async with session.get(url + "/tap", params=query) as resp:
                assert resp.headers["Content-Type"] == "application/x-ndjson"
                assert "tap" in json.loads(await resp.content.readline())
                await asyncio.sleep(0.1)  # the tap's bucket fills: 3 records are taken
                with open(tmp_path / "input.jsonl", "a") as f:
                    for n, status in enumerate((200, 503, 404)):
                        f.write(json.dumps({"n": n, "status": status}) + "\n")
                while len(got) < 3:
                    got.append(json.loads(await resp.content.readline()))
        return got

    try:
        status, message, listing = asyncio.run(ask(pipeline="app", line="1"))
        lines = asyncio.run(routed())
    finally:
        stop(run, tmp_path)
    stage = "route { loud: status >= 500, rest: else, } (run.flow:4)"
    assert sorted(line["record"]["n"] for line in lines) == [0, 1, 2]
    assert all(line["stage"] == stage and line["record"]["seen"] for line in lines)
    assert status == 404 and message == "pipeline app has no stage to tap on line 1"
    points = {p["point"]: p["stage"] for p in listing}
    assert points == {
        "app": "route { loud: status >= 500, rest: else, } (run.flow:4)",
        "app:2": 'source file("input.jsonl", format=json, follow=true) (run.flow:2)',
        "app:3": "set seen = true (run.flow:3)",  # the last stage on the line
        "app:4": "route { loud: status >= 500, rest: else, } (run.flow:4)",
        "loud": 'sink file("loud.jsonl") (run.flow:11)',
        "loud:9": "from app (run.flow:9)",
        "loud:10": "summarize n = count() by status every 1m (run.flow:10)",
        "loud:11": 'sink file("loud.jsonl") (run.flow:11)',
        "rest": 'sink file("rest.jsonl") (run.flow:13)',
        "rest:13": 'sink file("rest.jsonl") (run.flow:13)',
    }


# ---------------------------------------------------------------- run_tapped


SEGMENT = """source file("in.jsonl", format=json)
  | where size > 10
  | set half = size / 2
  | drop junk
  | where half < 100
  | sink stdout
"""


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    result = compile_source(SourceFile("seg.flow", SEGMENT))
    assert result.code is not None, result.diagnostics
    path = tmp_path_factory.mktemp("seg") / "seg_flow.py"
    path.write_text(result.code)
    return load_module(path)._p_seg_segment_1


values = st.one_of(st.integers(-50, 400), st.text(max_size=2), st.none())
record = st.fixed_dictionaries({"size": values}, optional={"junk": values})


@settings(max_examples=200, deadline=None)
@given(
    batch=st.lists(record, max_size=30), want=st.lists(st.integers(0, 5), min_size=3, max_size=3)
)
def test_run_tapped_does_what_run_does_and_copies_what_passes(segment, batch, want):
    import copy

    stages = [None] * 6
    results = []
    for tapped in (False, True):
        dropped, failed, present = [0] * 6, [], [False] * 8
        got: list[list] = [[], [], []]
        run = segment(stages, tapped=True) if tapped else segment(stages)
        args = (copy.deepcopy(batch), dropped, lambda at, rec, exc: failed.append((at, rec)))
        out = run(*args, present, list(want), got) if tapped else run(*args, present)
        results.append((out, dropped, failed, present))
    assert results[0] == results[1]
    # got[k]: the first want[k] records that passed stage k+1, as they were then
    passing = [
        [r for r in batch if isinstance(r["size"], int) and r["size"] > 10],
    ]
    passing.append([{**r, "half": r["size"] / 2} for r in passing[0]])
    passing.append([{k: v for k, v in r.items() if k != "junk"} for r in passing[1]])
    assert got == [passing[k][: want[k]] for k in range(3)]


# ---------------------------------------------------------------- docs/operations.md


def test_the_tap_examples_of_the_operations_page(tmp_path):
    """The page's listing of points and its ```jsonl tap ARGS block: what
    `flowc tap URL ARGS` prints for the page's program and input (`at` aside)."""
    from tests.test_docs_examples import BLOCKS

    page = [b for b in BLOCKS if b.where.startswith("operations.md")]
    program = next(b for b in page if b.info == "flow")
    given = next(b for b in page if b.info == "jsonl input")
    tapped = next(b for b in page if b.info.startswith("jsonl tap "))
    listing = next(b for b in page if b.info == "text" and "flowc tap" in b.text)
    run = start_flowc(
        tmp_path, program.text, "--http", "127.0.0.1:0", "--progress-interval", "0", name="web.flow"
    )
    url = served_url(tmp_path, run)
    command, *shown = listing.text.splitlines()
    asked = subprocess.run(
        [FLOWC, "tap", url, *command.split()[4:]], capture_output=True, text=True, timeout=60
    )
    assert asked.returncode == 2
    assert asked.stderr.splitlines() == shown
    tap = TapClient(tmp_path, "doc", url, *tapped.info.split()[2:], "--rate", "100")
    attach(run, tap)
    with open(tmp_path / "input.jsonl", "w") as f:
        f.write(given.text)
    want = [json.loads(line) for line in tapped.text.splitlines()]
    wait_until(lambda: len(tap.lines()) >= len(want), 60, "the tapped lines", run)
    stop(run, tmp_path)
    assert tap.wait() == 0
    got = tap.lines()
    for line, doc in zip(got, want):
        if "error" in line:
            line["error"]["at"] = doc["error"]["at"]
    assert got == want


def test_how_addresses_points_and_rates_are_written():
    from flowlang.tap_client import base_url, parse_rate, split_point

    assert base_url("9464") == base_url(":9464") == "http://127.0.0.1:9464"
    assert base_url("[::1]:80") == "http://[::1]:80"
    assert base_url("http://h:1/") == "http://h:1"
    assert split_point("web") == ("web", None)
    assert split_point("web:12") == ("web", 12)
    assert parse_rate("10/s") == parse_rate("10") == 10.0
    for bad, parse in (("web:", split_point), (":3", split_point), ("0", parse_rate)):
        with pytest.raises(ValueError):
            parse(bad)
    with pytest.raises(ValueError, match="ADDR 'x:y'"):
        base_url("x:y")


@pytest.mark.parametrize("rate, burst", [(100, 3), (4, 10), (1, 5)])
def test_a_burst_right_after_attaching_is_sampled_up_to_a_seconds_worth(rate, burst):
    """The bucket starts full: one batch that comes the moment a tap attaches
    gives it min(burst, one second's worth) records and as many error
    records; what is left of the second's worth is what a next batch may take."""
    from flowlang.runtime.tap import PipelineTaps, Point, Tap

    point = Point("web", 2, 3, "where x (web.flow:3)", None)
    tap = Tap(point, float(rate), errors=True)
    taps = PipelineTaps([tap])
    records = [{"n": i} for i in range(burst)]
    errors = [{"stage": point.stage, "code": "type", "n": i} for i in range(burst)]
    taps.passed(2, records)
    taps.failed(errors)
    want = min(burst, rate)
    got = tap.lines()
    assert len([line for line in got if "record" in line]) == want
    assert len([line for line in got if "error" in line]) == want
    # refilled since by far less than one token at these rates
    assert tap.records.available(tap.records.stamp) == rate - want
