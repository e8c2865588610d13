"""Following files under `flowc run`, in real processes on real files: a file
truncated and regrown between two reads, rotation faster than any poll, and
two runs on one state directory."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.flowrun import FLOWC

from .procs import numbers, wait_for, write_numbers

pytestmark = pytest.mark.timeout(180)

TAIL = """\
pipeline tail =
  source file(env("FLOW_IN"), format=json, follow=true)
  | sink file(env("FLOW_OUT"))
"""


class Tail:
    """`flowc run tail.flow` in `tmp_path`, following app.log into out.jsonl
    with its checkpoints in state/; every record written to app.log is
    remembered in `written` so lost and duplicated records can be counted."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path
        self.log = tmp_path / "app.log"
        self.out = tmp_path / "out.jsonl"
        self.state = tmp_path / "state"
        self.written: collections.Counter = collections.Counter()
        (tmp_path / "tail.flow").write_text(TAIL)

    def write(self, first: int, stop: int, mode: str = "a", path: Path | None = None):
        write_numbers(path or self.log, first, stop, mode)
        self.written.update(range(first, stop))

    def start(self, name: str = "run") -> subprocess.Popen:
        env = dict(
            os.environ,
            FLOW_IN=str(self.log),
            FLOW_OUT=str(self.out),
            FLOWC_CACHE_DIR=str(self.dir / "cache"),
        )
        with open(self.dir / f"{name}.err", "wb") as err:
            return subprocess.Popen(
                [FLOWC, "run", "tail.flow", "--state-dir", str(self.state)],
                cwd=self.dir,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def stderr(self, name: str = "run") -> str:
        return (self.dir / f"{name}.err").read_text(errors="replace")

    def stop(self, proc: subprocess.Popen, name: str = "run") -> int:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode

    def wait_delivered(self, timeout: float = 30.0) -> None:
        """Until every record written was delivered at least once (or the
        timeout: the counts then show what is missing)."""
        try:
            wait_for(
                lambda: set(numbers(self.out)) >= set(self.written),
                timeout,
                what="every record written",
            )
        except AssertionError:
            pass

    def lost_and_duplicated(self) -> tuple[int, int]:
        seen = collections.Counter(numbers(self.out))
        lost = sum((self.written - seen).values())
        duplicated = sum((seen - self.written).values())
        return lost, duplicated


@pytest.fixture
def tail(tmp_path: Path) -> Tail:
    return Tail(tmp_path)


def replace_in_place(path: Path, lines: list[int]) -> None:
    """Truncate `path` to 0 and write `lines` into the same inode at once."""
    with open(path, "r+") as f:
        f.truncate(0)
        f.writelines(json.dumps({"n": n}) + "\n" for n in lines)


# ---------------------------------------------------------------- truncation


def test_a_file_truncated_and_regrown_past_the_offset_is_read_from_its_start(tail):
    tail.write(0, 1_000, "w")
    proc = tail.start()
    wait_for(lambda: len(numbers(tail.out)) == 1_000, what="the first records")
    old_offset = tail.log.stat().st_size
    # truncated to 0 and regrown past the old offset between two reads: the
    # process is stopped meanwhile, so no read can fall in between
    proc.send_signal(signal.SIGSTOP)
    replace_in_place(tail.log, list(range(1_000, 6_000)))
    tail.written.update(range(1_000, 6_000))
    assert tail.log.stat().st_size > old_offset
    proc.send_signal(signal.SIGCONT)
    tail.wait_delivered()
    assert tail.stop(proc) == 0, tail.stderr()
    assert tail.lost_and_duplicated() == (0, 0)


def test_a_file_fingerprinted_short_is_recognised_once_it_has_grown(tail):
    # one short record when the file is first read: its fingerprint is 9
    # bytes; it grows past any fingerprint's size, and is then rewritten in
    # place with the same first record and different ones after it
    tail.write(0, 1, "w")
    proc = tail.start()
    wait_for(lambda: len(numbers(tail.out)) == 1, what="the first record")
    tail.write(1, 400)
    wait_for(lambda: len(numbers(tail.out)) == 400, what="the appended records")
    proc.send_signal(signal.SIGSTOP)
    replace_in_place(tail.log, [0, *range(1_000, 3_000)])
    tail.written.update([0, *range(1_000, 3_000)])
    proc.send_signal(signal.SIGCONT)
    tail.wait_delivered()
    assert tail.stop(proc) == 0, tail.stderr()
    assert tail.lost_and_duplicated() == (0, 0)


# ---------------------------------------------------------------- rotation


def rotate(tail: Tail, rotations: int, pause: float, per_file: int, shift: bool = False) -> None:
    """Write to app.log and rotate it by rename `rotations` times, `pause`
    seconds apart; the writer keeps its old handle for a few more records
    after each rename, as a logger does until it reopens. `shift` renames
    as logrotate does (app.log.1 -> app.log.2, ..., app.log -> app.log.1),
    else each rotated file gets a name of its own (app.log.<i>)."""
    n = 1_000_000
    handle = open(tail.log, "a")
    try:
        for i in range(1, rotations + 1):
            records = range(n, n + per_file)
            handle.writelines(json.dumps({"n": k}) + "\n" for k in records)
            handle.flush()
            tail.written.update(records)
            n += per_file
            if shift:
                for k in range(i - 1, 0, -1):
                    os.rename(f"{tail.log}.{k}", f"{tail.log}.{k + 1}")
                os.rename(tail.log, f"{tail.log}.1")
            else:
                os.rename(tail.log, f"{tail.log}.{i}")
            late = range(n, n + 10)  # written to the renamed file
            handle.writelines(json.dumps({"n": k}) + "\n" for k in late)
            handle.close()
            tail.written.update(late)
            n += 10
            handle = open(tail.log, "w")
            time.sleep(pause)
        last = range(n, n + per_file)
        handle.writelines(json.dumps({"n": k}) + "\n" for k in last)
        tail.written.update(last)
    finally:
        handle.close()


@pytest.mark.parametrize(
    "rotations, pause, shift",
    [
        pytest.param(10, 0.1, False, id="10-rotations-100ms-apart"),
        pytest.param(30, 0.0, True, id="30-logrotate-shifts-at-once"),
    ],
)
def test_rotation_faster_than_any_poll_loses_and_repeats_nothing(tail, rotations, pause, shift):
    tail.write(0, 100, "w")
    proc = tail.start()
    wait_for(lambda: len(numbers(tail.out)) == 100, what="the first records")
    rotate(tail, rotations, pause, per_file=500, shift=shift)
    tail.wait_delivered()
    assert tail.stop(proc) == 0, tail.stderr()
    lost, duplicated = tail.lost_and_duplicated()
    assert (lost, duplicated) == (0, 0), f"{lost} lost, {duplicated} duplicated"


# ---------------------------------------------------------------- one run per state directory


def test_a_second_run_on_the_same_state_directory_is_refused_at_start(tail):
    tail.write(0, 2_000, "w")
    first = tail.start("first")
    wait_for(lambda: len(numbers(tail.out)) == 2_000, what="the first run's records")
    second = tail.start("second")
    assert second.wait(60) == 2
    message = tail.stderr("second")
    assert f"state directory {tail.state} is in use by another run (pid {first.pid})" in message
    assert "Traceback" not in message
    tail.write(2_000, 3_000)  # the first run goes on, alone
    tail.wait_delivered()
    assert tail.stop(first) == 0, tail.stderr("first")
    assert tail.lost_and_duplicated() == (0, 0)
    # the lock goes with its process, also one killed with SIGKILL
    third = tail.start("third")
    wait_for(
        lambda: (tail.state / "lock").read_text().strip() == str(third.pid),
        what="the third run to take the lock",
    )
    third.kill()
    third.wait()
    tail.write(3_000, 3_100)
    fourth = tail.start("fourth")
    tail.wait_delivered()
    assert tail.stop(fourth) == 0, tail.stderr("fourth")
    lost, _ = tail.lost_and_duplicated()  # duplicates: what the killed run had not checkpointed
    assert lost == 0
