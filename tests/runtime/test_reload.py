"""SIGHUP under `flowc run FILE`: the file is read, checked and compiled
again; with errors the running program goes on, else it is drained and the
new program takes over in the same process, with the same state directory.

The first tests run `flowc run` as a real process on a followed file and
send it real signals; the others run `runtime.reload.Reloading` in this
process on the real engine, where a reload can be held half-way (its
compile waits) to show what a second SIGHUP and a SIGTERM then do, and what
`summarize` windows carry over."""

from __future__ import annotations

import asyncio
import collections
import io
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path

import pytest

from flowlang.compile_cache import recompile
from flowlang.runtime.console import Log
from flowlang.runtime.context import Context
from flowlang.runtime.launch import prepare_engine, report
from flowlang.runtime.monitor import MonitorServer
from flowlang.runtime.reload import Reload, Reloading
from tests.flowrun import FLOWC

from .procs import numbers, records, wait_for, write_numbers

pytestmark = pytest.mark.timeout(180)

TAIL = """\
pipeline tail =
  source file(env("FLOW_IN"), format=json, follow=true)
  | set v = {v}
  | sink file(env("FLOW_OUT"))
"""


class Run:
    """`flowc run tail.flow` in `tmp_path` on a followed app.log, writing
    out.jsonl; stderr goes to run.err."""

    def __init__(self, tmp_path: Path, *options: str):
        self.dir = tmp_path
        self.flow = tmp_path / "tail.flow"
        self.log = tmp_path / "app.log"
        self.out = tmp_path / "out.jsonl"
        self.err = tmp_path / "run.err"
        self.written: collections.Counter = collections.Counter()
        self.edit(1)
        self.write(0, 0, "w")
        env = dict(
            os.environ,
            FLOW_IN=str(self.log),
            FLOW_OUT=str(self.out),
            FLOWC_CACHE_DIR=str(tmp_path / "cache"),
        )
        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [FLOWC, "run", "tail.flow", "--state-dir", "state", *options],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def edit(self, v: str | int) -> None:
        self.flow.write_text(TAIL.format(v=v))

    def write(self, first: int, stop: int, mode: str = "a") -> None:
        write_numbers(self.log, first, stop, mode)
        self.written.update(range(first, stop))

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def hangup_until(self, text: str, count: int) -> None:
        """SIGHUP, then wait until `text` has appeared `count` times on stderr."""
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: self.stderr().count(text) >= count, 60, what=f"{text!r} x{count}")

    def delivered(self) -> None:
        wait_for(
            lambda: set(numbers(self.out)) >= set(self.written), 60, what="every record written"
        )

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def values(self) -> dict[int, int]:
        """n → v of every record written (each n once: checked first)."""
        out = records(self.out)
        seen = collections.Counter(r["n"] for r in out)
        lost = sum((self.written - seen).values())
        duplicated = sum((seen - self.written).values())
        assert (lost, duplicated) == (0, 0), self.stderr()
        return {r["n"]: r["v"] for r in out}


@pytest.fixture
def run(tmp_path: Path):
    started: list[Run] = []

    def start(*options: str) -> Run:
        started.append(Run(tmp_path, *options))
        return started[-1]

    yield start
    for r in started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


def test_sighup_swaps_the_program_and_delivers_every_line_once(run):
    r = run("--progress-interval", "0")
    r.write(0, 1_000)
    r.delivered()

    def writer():  # lines keep coming while the program is swapped
        for first in range(1_000, 6_000, 250):
            r.write(first, first + 250)
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    r.edit(2)
    r.hangup_until("flowc: reloaded tail.flow", 1)
    thread.join()
    r.delivered()

    # a broken edit: the diagnostic is printed and the running program goes on
    r.flow.write_text(TAIL.format(v="1 +"))
    r.hangup_until("flowc: not reloaded: it has errors", 1)
    err = r.stderr()
    assert "tail.flow:4:3: error[E001]" in err
    r.write(6_000, 6_500)
    r.delivered()

    # fixed: reloaded
    r.edit(3)
    r.hangup_until("flowc: reloaded tail.flow", 2)
    r.write(6_500, 7_000)
    r.delivered()
    assert r.stop() == 0, r.stderr()
    assert "stopped by signal" in r.stderr()

    v = r.values()  # every line exactly once across the reloads
    assert all(v[n] == 1 for n in range(1_000))
    assert all(v[n] == 2 for n in range(6_000, 6_500))  # the broken edit changed nothing
    assert all(v[n] == 3 for n in range(6_500, 7_000))
    # in read order the old program's records, then the new one's
    in_order = [rec["v"] for rec in records(r.out)]
    assert in_order == sorted(in_order)


def test_reload_events_as_json_and_the_http_server_follows(run):
    r = run("--log-format", "json", "--http", "0", "--progress-interval", "0")

    def events() -> list[dict]:
        return [json.loads(line) for line in r.stderr().splitlines() if line.startswith("{")]

    wait_for(lambda: any(e["event"] == "serving" for e in events()), 60, what="serving")
    url = next(e["url"] for e in events() if e["event"] == "serving")
    r.write(0, 100)
    r.delivered()
    r.flow.write_text(TAIL.format(v="1 +"))
    r.hangup_until('"event":"reload_failed"', 1)
    diagnostics = next(e for e in events() if e["event"] == "reload_diagnostics")
    assert diagnostics["file"] == "tail.flow"
    [found] = diagnostics["diagnostics"]
    assert (found["code"], found["line"], found["column"]) == ("E001", 4, 3)
    assert found["severity"] == "error"
    assert "tail.flow:4:3: error[E001]" in diagnostics["message"]

    r.edit(2)
    r.hangup_until('"event":"reloaded"', 1)
    r.write(100, 200)
    r.delivered()

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=5) as answer:
                return answer.status == 200
        except urllib.error.HTTPError:
            return False

    wait_for(ready, 30, what="ready after the reload")
    with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    # the new program's stages, counted from the reload on
    assert "set v = 2" in text, text
    assert "set v = 1" not in text
    assert r.stop() == 0, r.stderr()
    kinds = [e["event"] for e in events()]
    assert kinds.index("reloading") < kinds.index("reload_failed") < kinds.index("reloaded")
    assert kinds.count("summary") == 2  # the old program's at the swap, the new one's at the end
    v = r.values()
    assert [v[n] for n in range(200)] == [1] * 100 + [2] * 100


def test_a_program_reading_stdin_is_not_reloaded(tmp_path: Path):
    flow = tmp_path / "pipe.flow"
    flow.write_text('source stdin(format=json)\n  | set v = 1\n  | sink file("out.jsonl")\n')
    env = dict(os.environ, FLOWC_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [FLOWC, "run", "pipe.flow", "--progress-interval", "0"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b'{"n": 0}\n')
    proc.stdin.flush()
    wait_for(lambda: numbers(tmp_path / "out.jsonl") == [0], 60, what="the first line")
    flow.write_text('source stdin(format=json)\n  | set v = 2\n  | sink file("out.jsonl")\n')
    proc.send_signal(signal.SIGHUP)
    line = proc.stderr.readline().decode()
    while "not reloaded" not in line:
        assert line, "the run ended without refusing the reload"
        line = proc.stderr.readline().decode()
    assert "stage source stdin(format=json) (pipe.flow:1) reads input" in line
    proc.stdin.write(b'{"n": 1}\n')
    proc.stdin.close()
    assert proc.wait(60) == 0
    assert [(r["n"], r["v"]) for r in records(tmp_path / "out.jsonl")] == [(0, 1), (1, 1)]


# ------------------------------------------------------------ in this process


class InProcess:
    """A `Reloading` on the real engine in this process: the program is
    `prog.flow` in `tmp_path`; `gate`, while clear, holds every reload's
    compile after it has read the file (the reload is then under way)."""

    def __init__(self, tmp_path: Path, text: str):
        self.dir = tmp_path
        self.flow = tmp_path / "prog.flow"
        self.log_path = tmp_path / "in.jsonl"
        self.out = tmp_path / "out.jsonl"
        self.flow.write_text(text)
        self.log_path.write_text("")
        self.gate = threading.Event()
        self.gate.set()
        self.stderr = io.StringIO()
        self.ctx = Context(state_dir=str(tmp_path / "state"), status=False, signals=False)
        self.locks: list = []
        self.prepare = partial(prepare_engine, locks=self.locks)
        log = Log(self.stderr)
        self.reloading = Reloading(
            Reload("prog.flow", self._compile),
            log,
            self.prepare,
            partial(report, log=log, reloaded=True),
            signals=False,
        )

    def _compile(self):
        result = recompile(str(self.flow))
        self.gate.wait(60)
        return result

    def program(self, text: str) -> None:
        self.flow.write_text(text)

    def run(self, driver) -> tuple:
        """Run until `driver(self)` (a coroutine run beside the program) has
        stopped it; the last engine and its outcome."""
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:

            async def main():
                built = recompile(str(self.flow)).build
                engine = self.prepare(built, self.ctx)
                task = asyncio.create_task(self.reloading.run(engine))
                try:
                    await driver(self)
                finally:
                    self.gate.set()
                return await task

            return asyncio.run(asyncio.wait_for(main(), 120))
        finally:
            os.chdir(cwd)
            for lock in self.locks:
                lock.release()

    async def until(self, predicate, what: str) -> None:
        deadline = time.monotonic() + 60
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    def signal(self, signum: int) -> None:
        self.reloading._on_signal(signum)


PROG = """\
pipeline tail =
  source file("in.jsonl", format=json, follow=true)
  | set v = {v}
  | sink file("out.jsonl")
"""


def test_a_sighup_during_a_reload_is_queued_and_read_again_after_it(tmp_path: Path):
    p = InProcess(tmp_path, PROG.format(v=1))
    reasons: list[str] = []

    async def driver(p: InProcess):
        write_numbers(p.log_path, 0, 100)
        await p.until(lambda: len(numbers(p.out)) == 100, "the first records")
        monitor = MonitorServer(p.reloading.engine, "0")  # not listening: its answers only
        p.reloading.on_swap = monitor.follow
        p.program(PROG.format(v=2))
        p.gate.clear()
        p.signal(signal.SIGHUP)
        await p.until(lambda: "reading prog.flow again" in p.stderr.getvalue(), "the reload")
        p.signal(signal.SIGHUP)  # while the first one compiles
        p.signal(signal.SIGHUP)  # several are one
        p.program(PROG.format(v=3))  # the queued reload reads this
        p.gate.set()
        while p.reloading.reloads < 2:
            reasons.extend(await monitor.unready())
            await asyncio.sleep(0)
        write_numbers(p.log_path, 100, 200)
        await p.until(lambda: len(numbers(p.out)) == 200, "the records after the reloads")
        assert await monitor.unready() == []
        p.signal(signal.SIGTERM)

    engine, outcome = p.run(driver)
    err = p.stderr.getvalue()
    assert outcome.exit_code == 0, err
    assert p.reloading.reloads == 2
    assert err.count("SIGHUP during a reload") == 1
    assert err.count("flowc: reloaded prog.flow") == 2
    # /ready was unready while each swap went on
    assert "the program is being reloaded" in reasons
    assert "pipeline tail: starting" in reasons
    values = {r["n"]: r["v"] for r in records(p.out)}
    assert sorted(values) == list(range(200)) and len(records(p.out)) == 200
    assert {values[n] for n in range(100)} == {1}
    assert {values[n] for n in range(100, 200)} == {3}


def test_sigterm_during_a_reload_stops_and_the_new_program_never_starts(tmp_path: Path):
    p = InProcess(tmp_path, PROG.format(v=1))

    async def driver(p: InProcess):
        write_numbers(p.log_path, 0, 100)
        await p.until(lambda: len(numbers(p.out)) == 100, "the first records")
        p.program(PROG.format(v=2))
        p.gate.clear()
        p.signal(signal.SIGHUP)
        await p.until(lambda: "reading prog.flow again" in p.stderr.getvalue(), "the reload")
        p.signal(signal.SIGTERM)
        p.gate.set()

    engine, outcome = p.run(driver)
    assert (outcome.exit_code, outcome.signals) == (0, 1)
    assert p.reloading.reloads == 0
    assert "reloaded" not in p.stderr.getvalue()
    assert {r["v"] for r in records(p.out)} == {1}
    assert numbers(p.out) == list(range(100))


WINDOWS = """\
schema E {{ ts: time, n: int }}

pipeline per10 =
  source file("in.jsonl", format=json, schema=E, follow=true)
  | summarize n = count(), first = min(n) every {every} on ts
  | set tag = "{tag}"
  | sink file("out.jsonl")
"""


def _events(path: Path, first: int, stop: int) -> None:
    """One event a second, `n` its second: ts = 1970-01-01T00:00:n."""
    with open(path, "a") as f:
        for n in range(first, stop):
            f.write(json.dumps({"ts": n, "n": n}) + "\n")


def _windows(p: InProcess) -> list[tuple[int, int, str]]:
    return [(r["first"], r["n"], r["tag"]) for r in records(p.out)]


def test_an_unchanged_summarize_keeps_its_open_window_through_a_reload(tmp_path: Path):
    p = InProcess(tmp_path, WINDOWS.format(every="10s", tag="old"))

    async def driver(p: InProcess):
        _events(p.log_path, 0, 25)  # windows [0,10) and [10,20) close; [20,30) is open
        await p.until(lambda: len(records(p.out)) == 2, "the two closed windows")
        p.program(WINDOWS.format(every="10s", tag="new"))  # summarize unchanged
        p.signal(signal.SIGHUP)
        await p.until(lambda: p.reloading.reloads == 1, "the reload")
        _events(p.log_path, 25, 45)
        await p.until(lambda: len(records(p.out)) == 4, "the windows after the reload")
        p.signal(signal.SIGTERM)

    engine, outcome = p.run(driver)
    err = p.stderr.getvalue()
    assert outcome.exit_code == 0, err
    assert "open windows kept for the new program" in err
    # each window once, whole: [20,30) was open at the reload, rebuilt by the
    # new program from the records it read again
    assert _windows(p) == [(0, 10, "old"), (10, 10, "old"), (20, 10, "new"), (30, 10, "new")]
    # the records of emitted windows read again were skipped, not counted
    summarize = outcome.metrics["per10"]["stages"][1]
    assert summarize["counters"]["replayed"] == 20


def test_a_changed_summarize_counts_again_what_it_reads_again(tmp_path: Path):
    p = InProcess(tmp_path, WINDOWS.format(every="10s", tag="old"))

    async def driver(p: InProcess):
        _events(p.log_path, 0, 25)  # one batch: windows [0,10), [10,20) closed, [20,30) open
        await p.until(lambda: len(records(p.out)) == 2, "the two closed windows")
        p.program(WINDOWS.format(every="20s", tag="new"))  # summarize changed
        p.signal(signal.SIGHUP)
        await p.until(lambda: p.reloading.reloads == 1, "the reload")
        _events(p.log_path, 25, 45)
        await p.until(lambda: len(records(p.out)) == 4, "the windows after the reload")
        p.signal(signal.SIGTERM)

    engine, outcome = p.run(driver)
    assert outcome.exit_code == 0, p.stderr.getvalue()
    # a changed summarize has no saved state: the batch read again (from the
    # oldest one not acknowledged) is counted whole, records of windows
    # emitted before the reload included
    assert _windows(p) == [(0, 10, "old"), (10, 10, "old"), (0, 20, "new"), (20, 20, "new")]


def test_a_new_program_that_cannot_start_leaves_the_old_one_running(tmp_path: Path):
    p = InProcess(tmp_path, PROG.format(v=1))
    os.environ.pop("FLOW_RELOAD_UNSET", None)

    async def driver(p: InProcess):
        write_numbers(p.log_path, 0, 50)
        await p.until(lambda: len(numbers(p.out)) == 50, "the first records")
        p.program(PROG.format(v='env("FLOW_RELOAD_UNSET")'))  # checks clean, cannot start
        p.signal(signal.SIGHUP)
        await p.until(lambda: "not reloaded" in p.stderr.getvalue(), "the refusal")
        write_numbers(p.log_path, 50, 100)
        await p.until(lambda: len(numbers(p.out)) == 100, "the records after it")
        p.signal(signal.SIGTERM)

    engine, outcome = p.run(driver)
    err = p.stderr.getvalue()
    assert outcome.exit_code == 0, err
    assert "the new program cannot start: environment variable FLOW_RELOAD_UNSET" in err
    assert p.reloading.reloads == 0
    assert [r["v"] for r in records(p.out)] == [1] * 100


def test_a_reload_ends_the_old_programs_taps_and_serves_the_new_programs_points(tmp_path: Path):
    p = InProcess(tmp_path, PROG.format(v=1))
    seen: dict[str, object] = {}

    async def driver(p: InProcess):
        write_numbers(p.log_path, 0, 10)
        await p.until(lambda: len(numbers(p.out)) == 10, "the first records")
        monitor = MonitorServer(p.reloading.engine, "0")  # not listening: its state only
        p.reloading.on_swap = monitor.follow
        old_taps = monitor.taps
        point = old_taps.find("tail", 3)  # the `set` line
        assert point is not None
        tap = old_taps.attach(point, 100.0, False)
        p.program(PROG.format(v=2))
        p.signal(signal.SIGHUP)
        await p.until(lambda: p.reloading.reloads == 1, "the reload")
        seen["ended"] = tap.ended
        seen["new"] = monitor.taps is not old_taps and monitor.taps.find("tail", 3) is not None
        p.signal(signal.SIGTERM)

    engine, outcome = p.run(driver)
    assert outcome.exit_code == 0, p.stderr.getvalue()
    assert seen["ended"] == "the program was reloaded"
    assert seen["new"] is True
