"""The file sink under faults, in real `flowc run` processes on real files:
a record too deep to write, a write that fails half-way (the file-size limit
stands in for a full disk: both fail `write` after part of a batch went
out), and a partial last line left by a run that died while writing."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from flowlang.runtime.base import StageContext
from flowlang.runtime.jsonl import MAX_DEPTH
from flowlang.stages.file_sink import FileSink
from tests.flowrun import FLOWC

from .procs import numbers, wait_for, write_numbers

pytestmark = pytest.mark.timeout(180)

COPY = """\
pipeline copy =
  source file("in.jsonl", format=json{follow})
  | sink file("out.jsonl", shutdown_grace=1s)

pipeline rejected = from copy.errors | sink file("errors.jsonl")
"""


def deep(levels: int) -> str:
    return '{"n": -1, "deep": ' + "[" * levels + "]" * levels + "}"


def flowc(tmp_path: Path, follow: bool = False, limit: int | None = None) -> subprocess.Popen:
    (tmp_path / "copy.flow").write_text(COPY.format(follow=", follow=true" if follow else ""))

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, FLOWC_CACHE_DIR=str(tmp_path / "cache"))
    # compiled first, so that the limit only meets the output
    subprocess.run(
        [FLOWC, "check", "copy.flow"], cwd=tmp_path, env=env, check=True, capture_output=True
    )
    with open(tmp_path / "run.err", "wb") as err:
        return subprocess.Popen(
            [FLOWC, "run", "copy.flow", "--state-dir", "state"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=limited if limit else None,
        )


def finish(proc: subprocess.Popen, tmp_path: Path, stop: bool = False) -> str:
    """Wait for the run to end (after SIGTERM when `stop`); its stderr."""
    if stop:
        proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    return (tmp_path / "run.err").read_text(errors="replace")


def whole_lines(path: Path) -> list[dict]:
    """Every line of `path` as JSON; fails on a torn or invalid line."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path.name} ends in a partial record: {data[-40:]!r}"
    return [json.loads(line) for line in data.splitlines()]


# ---------------------------------------------------------------- too deep


def test_a_record_nested_too_deep_goes_to_the_error_stream_and_the_run_goes_on(tmp_path):
    write_numbers(tmp_path / "in.jsonl", 0, 1_000, "w")
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write(deep(600) + "\n" + deep(MAX_DEPTH - 1) + "\n")
    write_numbers(tmp_path / "in.jsonl", 1_000, 2_000)
    proc = flowc(tmp_path)
    err = finish(proc, tmp_path)
    assert proc.returncode == 0, err
    out = whole_lines(tmp_path / "out.jsonl")
    # the one at the limit is written, whole
    assert [r["n"] for r in out] == [*range(1_000), -1, *range(1_000, 2_000)]
    (error,) = whole_lines(tmp_path / "errors.jsonl")
    assert error["code"] == "limit" and f"deeper than {MAX_DEPTH} levels" in error["message"]
    assert error["raw"] == deep(600)


def test_following_past_a_record_too_deep_moves_the_checkpoint_on(tmp_path):
    write_numbers(tmp_path / "in.jsonl", 0, 500, "w")
    with open(tmp_path / "in.jsonl", "a") as f:
        f.write(deep(900) + "\n")
    write_numbers(tmp_path / "in.jsonl", 500, 1_000)
    for run, stop in enumerate((1_000, 1_500)):
        proc = flowc(tmp_path, follow=True)
        wait_for(lambda: len(numbers(tmp_path / "out.jsonl")) >= stop, 60, what="the records")
        err = finish(proc, tmp_path, stop=True)
        assert proc.returncode == 0, err
        write_numbers(tmp_path / "in.jsonl", stop, stop + 500)
    # the second run started after the deep record, and read only what came later
    assert numbers(tmp_path / "out.jsonl") == list(range(1_500))
    assert len(whole_lines(tmp_path / "errors.jsonl")) == 1


def test_a_record_that_cannot_be_written_is_rejected_alone(tmp_path):
    # deeper than any encoder goes (built by stages, past the decoder's limit)
    nested: list = []
    for _ in range(5_000):
        nested = [nested]
    sink = FileSink(StageContext("p", "file (t.flow:1)", "t.flow:1"), str(tmp_path / "o.jsonl"))

    async def go():
        await sink.start()
        rejected = await sink.write([{"n": 1}, {"n": 2, "x": nested}, {"n": 3}])
        await sink.close()
        return rejected

    (rejected,) = asyncio.run(go())
    assert rejected.record is None and rejected.code == "encode"
    assert "nested deeper than JSON output allows" in rejected.message
    assert rejected.raw.startswith("{'n': 2, 'x': [[[") and len(rejected.raw) < 1_000
    assert whole_lines(tmp_path / "o.jsonl") == [{"n": 1}, {"n": 3}]


# ---------------------------------------------------------------- torn lines


def test_a_write_that_fails_half_way_leaves_no_partial_record(tmp_path):
    write_numbers(tmp_path / "in.jsonl", 0, 20_000, "w")
    proc = flowc(tmp_path, follow=True, limit=100_000)  # about 8,000 records fit
    wait_for(lambda: "retrying" in (tmp_path / "run.err").read_text(), 60, what="a failed write")
    stderr = finish(proc, tmp_path, stop=True)
    # it kept retrying, then gave up at shutdown without acknowledging the batch
    assert proc.returncode == 1, stderr
    assert "File too large" in stderr and "still failing at shutdown" in stderr
    first = [r["n"] for r in whole_lines(tmp_path / "out.jsonl")]
    assert first == list(range(len(first))) and 0 < len(first) < 20_000
    # with room again, the next run resumes after the last whole record
    proc = flowc(tmp_path, follow=True)
    wait_for(lambda: len(numbers(tmp_path / "out.jsonl")) >= 20_000, 60, what="the rest")
    err = finish(proc, tmp_path, stop=True)
    assert proc.returncode == 0, err
    assert [r["n"] for r in whole_lines(tmp_path / "out.jsonl")] == list(range(20_000))


def test_a_partial_last_line_from_an_earlier_run_is_cut_off(tmp_path):
    write_numbers(tmp_path / "in.jsonl", 0, 100, "w")
    (tmp_path / "out.jsonl").write_bytes(b'{"n":-2}\n{"n":-1}\n{"n": 12, "hal')
    proc = flowc(tmp_path)
    err = finish(proc, tmp_path)
    assert proc.returncode == 0, err
    assert "cut off a partial last line of 14 bytes" in err
    assert [r["n"] for r in whole_lines(tmp_path / "out.jsonl")] == [-2, -1, *range(100)]
