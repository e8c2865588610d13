"""`summarize` over a followed file across restarts, with real `flowc run`
processes: stopped by SIGTERM or killed with SIGKILL in the middle of a
window and started again, every window comes out once (kill -9: at most the
window being written at the kill comes again, whole) with the count and sum
computed from the input."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from tests.chaos import (
    SCENARIOS,
    Runs,
    expected_windows,
    lines_of,
    read_output,
    window_events,
)
from tests.runtime.procs import wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    program = tmp_path / "per_minute.flow"
    program.write_text(SCENARIOS["summarize"].flow(follow=True))
    (tmp_path / "input.jsonl").write_bytes(b"")
    return Runs(tmp_path, program, tmp_path / "cache")


def windows_written(tmp_path: Path) -> list[tuple[str, str, int, int]]:
    written = read_output(tmp_path / "output.jsonl", final=True)
    assert written.bad_lines == 0
    return [(r["window_start"], r["host"], r["n"], r["total"]) for r in written.records]


def as_rows(expected: dict) -> list[tuple[str, str, int, int]]:
    return sorted((r["window_start"], r["host"], r["n"], r["total"]) for r in expected.values())


def append(path: Path, events: list[dict]) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(lines_of(events)))


def starts_of(rows) -> set[str]:
    return {row[0] for row in rows}


def stop(runs: Runs, proc) -> None:
    wait_for(lambda: runs.running(proc), what="the run to start reading")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, runs.stderr(runs.started)


def test_sigterm_in_the_middle_of_a_window_then_restart_emits_it_once_and_whole(runs, tmp_path):
    rng = random.Random(6)
    events = window_events(8, rng)[:-1]  # minutes 0..7
    minute = [int(e["ts"][14:16]) for e in events]
    open_at = minute.index(5) + (minute.count(5) // 2)  # half of minute 5
    source = tmp_path / "input.jsonl"
    append(source, events[:open_at])
    first = runs.start()
    # minute 4 is emitted as soon as the first record of minute 5 is read
    wait_for(
        lambda: "2024-05-01T12:04:00Z" in starts_of(windows_written(tmp_path)),
        what="the windows before minute 5",
    )
    stop(runs, first)
    assert "flowc: stopped by signal" in runs.stderr(1)
    assert "open window" in runs.stderr(1)
    # the open window was not emitted: its records are read again by the next run
    before = windows_written(tmp_path)
    assert as_rows(expected_windows(events[: minute.index(5) + 1])) == sorted(before)

    append(source, events[open_at:])  # the rest of minute 5, then 6 and 7 (still open)
    second = runs.start()
    wait_for(
        lambda: "2024-05-01T12:06:00Z" in starts_of(windows_written(tmp_path)), what="minute 6"
    )
    stop(runs, second)
    rows = windows_written(tmp_path)
    assert len(rows) == len(set(rows))  # each window once
    assert sorted(rows) == as_rows(expected_windows(events))
    state = [json.loads(p.read_text()) for p in (tmp_path / "state").glob("window-*.json")]
    assert state and state[0]["emitted_before"] == "2024-05-01T12:07:00Z"


def test_kill_9_in_the_middle_of_windows_then_restart_loses_and_falsifies_no_window(runs, tmp_path):
    rng = random.Random(9)
    events = window_events(30, rng)
    expected = expected_windows(events)
    source = tmp_path / "input.jsonl"
    proc = runs.start()
    kills = 0
    # the input arrives a few minutes of event time at a time; the process is
    # killed each time a window of the next batch of minutes is still open
    chunks = [events[i : i + 700] for i in range(0, len(events), 700)]
    for k, chunk in enumerate(chunks):
        append(source, chunk)
        if k % 2 == 1 and k < len(chunks) - 1:
            last = chunk[-1]["ts"][:17] + "00Z"
            wait_for(
                lambda: (
                    windows_written(tmp_path)
                    and max(starts_of(windows_written(tmp_path))) >= _before(last)
                ),
                timeout=60,
                what="the closed windows",
            )
            proc.kill()
            proc.wait()
            kills += 1
            proc = runs.start()
    final = max(start for start, _ in expected)
    wait_for(lambda: final in starts_of(windows_written(tmp_path)), timeout=90, what="every window")
    stop(runs, proc)
    rows = windows_written(tmp_path)
    assert kills >= 3
    assert set(rows) == set(as_rows(expected))  # nothing missing, every window exact
    # at-least-once: a window written right before a kill may be written again, whole
    # (one emission: the windows one batch closed, three hosts each)
    again = len(rows) - len(set(rows))
    assert again <= 24 * kills


def _before(window_start: str) -> str:
    """The start of the minute before `window_start` (ISO text)."""
    import datetime as dt

    t = dt.datetime.fromisoformat(window_start.replace("Z", "+00:00")) - dt.timedelta(minutes=1)
    return t.isoformat().replace("+00:00", "Z")
