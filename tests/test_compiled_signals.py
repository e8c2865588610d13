"""The promises of SIGTERM and kill -9, kept by a compiled program: a .flow
file tailing a log is compiled by `flowc compile`, run as a plain
`python <name>_flow.py` process, killed and restarted, or stopped by a signal
(SIGHUP too: a compiled module has no file to reload)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.flowrun import FLOWC
from tests.runtime.procs import numbers, wait_for, write_numbers

pytestmark = pytest.mark.timeout(180)

TAIL = """\
pipeline tail =
  source file(env("FLOW_IN"), format=json, follow=true)
  | where n >= 0
  | set seen = true
  | sink file(env("FLOW_OUT"))
"""


@pytest.fixture
def compiled(tmp_path: Path) -> Path:
    flow = tmp_path / "tail.flow"
    flow.write_text(TAIL)
    out_dir = tmp_path / "build"
    proc = subprocess.run(
        [FLOWC, "compile", str(flow), "-o", str(out_dir)], capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode()
    module = out_dir / "tail_flow.py"
    assert module.is_file()
    return module


def start(module: Path, tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, FLOW_IN=str(tmp_path / "app.log"), FLOW_OUT=str(tmp_path / "out.jsonl"))
    return subprocess.Popen(
        [sys.executable, str(module), "--state-dir", str(tmp_path / "state"), "--no-status"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigterm_keeps_every_record_read_and_exits_0(compiled: Path, tmp_path: Path):
    log, out = tmp_path / "app.log", tmp_path / "out.jsonl"
    write_numbers(log, 0, 2_000, "w")
    proc = start(compiled, tmp_path)
    wait_for(lambda: len(numbers(out)) == 2_000, what="the first lines")
    write_numbers(log, 2_000, 2_500)
    wait_for(lambda: len(numbers(out)) == 2_500, what="the appended lines")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert numbers(out) == list(range(2_500))


def test_kill_9_then_restart_loses_nothing(compiled: Path, tmp_path: Path):
    log, out = tmp_path / "app.log", tmp_path / "out.jsonl"
    total = 20_000
    write_numbers(log, 0, 0, "w")

    def writer():
        for first in range(0, total, 500):
            write_numbers(log, first, first + 500)
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    proc = start(compiled, tmp_path)
    thread.start()
    wait_for(lambda: len(numbers(out)) > 4_000, what="a good part of the input")
    proc.kill()
    proc.wait()
    proc = start(compiled, tmp_path)
    thread.join()
    wait_for(lambda: len(set(numbers(out))) == total, timeout=90, what="every line")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    seen = collections.Counter(numbers(out))
    assert set(seen) == set(range(total))
    assert sum(c - 1 for c in seen.values()) <= 1024  # duplicates: one batch at most


def _sighup_drains(proc: subprocess.Popen, tmp_path: Path, restart) -> None:
    log, out = tmp_path / "app.log", tmp_path / "out.jsonl"
    wait_for(lambda: len(numbers(out)) == 1_000, what="the first lines")
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=60)
    # a compiled module has no .flow file to read again: SIGHUP drains and
    # exits like SIGTERM, status 0, checkpoint saved (`flowc run` reloads on
    # it instead: tests/runtime/test_reload.py)
    assert proc.returncode == 0, err.decode()
    assert "stopped by signal" in err.decode()
    assert numbers(out) == list(range(1_000))
    write_numbers(log, 1_000, 1_500)
    proc = restart()
    wait_for(lambda: len(numbers(out)) >= 1_500, what="the lines written while stopped")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert numbers(out) == list(range(1_500))  # resumed at the checkpoint: nothing twice


def test_sighup_drains_and_exits_0_like_sigterm(compiled: Path, tmp_path: Path):
    write_numbers(tmp_path / "app.log", 0, 1_000, "w")
    _sighup_drains(start(compiled, tmp_path), tmp_path, lambda: start(compiled, tmp_path))
