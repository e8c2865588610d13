"""Following files in real subprocesses: appends, rotation by rename,
copytruncate and truncation, SIGTERM, and kill -9 followed by a restart."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from .procs import numbers, start, wait_for, write_numbers

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def paths(tmp_path: Path):
    return tmp_path / "app.log", tmp_path / "out.jsonl", tmp_path / "state"


def start_tail(paths, *extra, pattern: str | None = None, **env):
    log, out, state = paths
    return start(
        "tail_flow.py",
        "--state-dir",
        str(state),
        "--no-status",
        *extra,
        env={"FLOW_IN": pattern or str(log), "FLOW_OUT": str(out), **env},
    )


def stop(proc, sig=signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode()


def checkpoint(state: Path) -> dict:
    (only,) = [p for p in state.iterdir() if p.suffix == ".json"]
    return json.loads(only.read_text())


def test_appended_lines_are_read_and_sigterm_drains_and_exits_0(paths):
    log, out, state = paths
    write_numbers(log, 0, 100, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) == 100, what="the first 100 lines")
    write_numbers(log, 100, 150)
    wait_for(lambda: len(numbers(out)) == 150, what="appended lines")
    with open(log, "a") as f:
        f.write('{"n": 150}\n{"n": 15')  # the last line is not complete yet
    wait_for(lambda: len(numbers(out)) == 151, what="the complete line")
    code, err = stop(proc)
    assert code == 0, err
    assert numbers(out) == list(range(151))
    entry = checkpoint(state)["files"][0]
    assert entry["path"] == str(log) and entry["inode"] == os.stat(log).st_ino
    assert entry["offset"] == log.stat().st_size - len(
        '{"n": 15'
    )  # the partial line is not consumed


def test_restart_resumes_from_the_checkpoint_without_duplicates(paths):
    log, out, _ = paths
    write_numbers(log, 0, 50, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) == 50)
    assert stop(proc)[0] == 0
    write_numbers(log, 50, 100)  # written while nothing runs
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) >= 100)
    assert stop(proc)[0] == 0
    assert numbers(out) == list(range(100))


def test_rotation_by_rename_loses_nothing(paths):
    log, out, _ = paths
    write_numbers(log, 0, 100, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) == 100)
    with open(log, "a") as old_handle:
        os.rename(log, log.with_name("app.log.1"))
        # the writer keeps writing to its old handle for a moment, then reopens
        for n in range(100, 120):
            old_handle.write(json.dumps({"n": n}) + "\n")
    write_numbers(log, 120, 200, "w")
    wait_for(lambda: len(numbers(out)) >= 200, what="lines from both files")
    code, err = stop(proc)
    assert code == 0, err
    assert sorted(numbers(out)) == list(range(200))


def test_copytruncate_and_plain_truncation_start_the_file_again(paths):
    log, out, _ = paths
    write_numbers(log, 0, 100, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) == 100)
    shutil.copyfile(log, log.with_name("app.log.1"))  # outside the glob: not read again
    with open(log, "r+") as f:
        f.truncate(0)
    time.sleep(0.6)  # the tailer notices the truncation
    write_numbers(log, 100, 130)
    wait_for(lambda: len(numbers(out)) >= 130, what="lines after copytruncate")
    with open(log, "w"):
        pass  # truncated by a new writer
    time.sleep(0.6)
    write_numbers(log, 130, 140)
    wait_for(lambda: len(numbers(out)) >= 140, what="lines after truncation")
    assert stop(proc)[0] == 0
    assert numbers(out) == list(range(140))


def test_rotation_while_stopped_is_found_again_by_inode(paths):
    log, out, _ = paths
    write_numbers(log, 0, 50, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) == 50)
    assert stop(proc)[0] == 0
    write_numbers(log, 50, 60)
    os.rename(log, log.with_name("app.log.1"))
    write_numbers(log, 60, 80, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) >= 80)
    assert stop(proc)[0] == 0
    assert sorted(numbers(out)) == list(range(80))


def test_a_glob_follows_new_files_and_start_end_skips_old_content(paths, tmp_path):
    log, out, _ = paths
    write_numbers(tmp_path / "a.log", 0, 10, "w")
    proc = start_tail(paths, pattern=str(tmp_path / "*.log"), FLOW_START="end")
    time.sleep(1.0)
    write_numbers(tmp_path / "a.log", 10, 20)
    write_numbers(tmp_path / "b.log", 20, 30, "w")  # appears later: read whole
    wait_for(lambda: len(numbers(out)) >= 20)
    assert stop(proc)[0] == 0
    assert sorted(numbers(out)) == list(range(10, 30))


def test_kill_9_then_restart_loses_nothing_and_repeats_at_most_one_batch(paths):
    log, out, _ = paths
    total = 30_000
    write_numbers(log, 0, 0, "w")
    done = threading.Event()

    def writer():
        for start_n in range(0, total, 500):
            write_numbers(log, start_n, start_n + 500)
            time.sleep(0.01)
        done.set()

    thread = threading.Thread(target=writer)
    proc = start_tail(paths)
    thread.start()
    wait_for(lambda: len(numbers(out)) > 5_000, what="a good part of the input")
    proc.kill()
    proc.wait()
    proc = start_tail(paths)
    thread.join()
    wait_for(lambda: len(set(numbers(out))) == total, timeout=60, what="every line")
    code, err = stop(proc)
    assert code == 0, err
    seen = collections.Counter(numbers(out))
    assert set(seen) == set(range(total))
    duplicates = sum(c - 1 for c in seen.values())
    assert duplicates <= 1024, duplicates  # one batch at most


def test_a_second_signal_exits_at_once_with_a_non_zero_status(paths):
    log, out, _ = paths
    write_numbers(log, 0, 10, "w")
    proc = start_tail(paths)
    wait_for(lambda: len(numbers(out)) == 10)
    # block the drain: stop the process, queue two signals, let it go
    proc.send_signal(signal.SIGSTOP)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=30)
    # pending signals arrive in the kernel's order; the second one decides
    assert proc.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    assert b"exiting at once" in err
