"""Compiled `file(json) | where | set | drop | sink file` against a hand-written
loop doing the same work with the same libraries, in the same process."""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson

from ._harness import compile_flow, peak_rss_kib, race, run_compiled

RECORDS = 300_000
ROUNDS = 3

PROGRAM = """
pipeline bench =
  source file("{input}", format=json)
  | where status >= 500 or latency > 250.0
  | set slow = latency > 1000.0, kind = "server"
  | drop agent
  | sink file("{output}")
"""


def _make_input(path: Path, n: int) -> None:
    rnd = random.Random(1)
    with open(path, "wb") as f:
        for i in range(n):
            rec = {
                "id": i,
                "status": rnd.choice((200, 200, 200, 404, 500, 503)),
                "latency": round(rnd.uniform(1, 2000), 2),
                "path": "/api/items/%d" % rnd.randrange(1000),
                "agent": "Mozilla/5.0 (X11; Linux x86_64)",
            }
            f.write(orjson.dumps(rec) + b"\n")


def hand_written(src: Path, dst: Path) -> int:
    """The baseline: what one would write by hand for this pipeline."""
    loads, dumps = orjson.loads, orjson.dumps
    n = 0
    with open(src, "rb") as inp, open(dst, "ab") as out:
        batch = []
        for line in inp:
            rec = loads(line)
            if not (rec["status"] >= 500 or rec["latency"] > 250.0):
                continue
            rec["slow"] = rec["latency"] > 1000.0
            rec["kind"] = "server"
            rec.pop("agent", None)
            batch.append(dumps(rec))
            n += 1
            if len(batch) >= 1024:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return n


SCRAPE_EVERY = 0.5  # seconds; Prometheus scrapes every 15 s or more
HTTP_ROUNDS = 5  # alternating runs with and without: the ratio is of two close figures
# `flowc tap ADDR bench:5`: the `set` line, fused between `where` and `drop`,
# so the segment runs its run_tapped loop whenever the tap has budget
TAP_LINE = 5
TAP_RATE = 100  # records a second (the default is 10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tap(http: str, done: threading.Event, samples: list[int]) -> None:
    """A tap client on TAP_LINE, attached as soon as the server listens,
    reading until the run ends; counts the records it received."""
    url = f"http://{http}/tap?pipeline=bench&line={TAP_LINE}&rate={TAP_RATE}"
    while not done.is_set():
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                for line in resp:
                    samples[0] += line.startswith(b'{"pipeline"')
            return
        except OSError:
            time.sleep(0.002)  # not listening yet


def _timed_run(build, state: Path, http: str | None, tap: bool = False) -> tuple[float, int, int]:
    """Seconds of one run (with `--http` on `http`, a scraper reading
    /metrics every SCRAPE_EVERY seconds and, with `tap`, a tap attached),
    the scrapes answered and the records the tap received."""
    from flowlang.runtime.context import Context
    from flowlang.runtime.launch import run_program

    done = threading.Event()
    scrapes = [0]
    samples = [0]

    def scrape() -> None:
        while not done.wait(SCRAPE_EVERY):
            try:
                with urllib.request.urlopen(f"http://{http}/metrics", timeout=5) as resp:
                    resp.read()
                scrapes[0] += 1
            except OSError:
                pass  # not listening yet, or already gone

    scraper = threading.Thread(target=scrape, daemon=True) if http else None
    tapper = threading.Thread(target=_tap, args=(http, done, samples), daemon=True)
    if scraper is not None:
        scraper.start()
    if tap:
        tapper.start()
    began = time.perf_counter()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            outcome = run_program(build, Context(state_dir=str(state), status=False, http=http))
    finally:
        took = time.perf_counter() - began
        done.set()
        if scraper is not None:
            scraper.join()
        if tap:
            tapper.join(30)
    assert outcome.exit_code == 0, outcome.failure
    return took, scrapes[0], samples[0]


def http_overhead() -> list[dict]:
    """The standard pipeline with `--http` (scraped), and with `--http` and
    a tap attached, against the same compiled program without either,
    alternating, best of HTTP_ROUNDS each."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src, out = work / "in.jsonl", work / "out.jsonl"
        _make_input(src, RECORDS)
        build = compile_flow(work, "bench", PROGRAM.format(input=src, output=out))
        kinds = ("plain", "http", "tap")
        best = dict.fromkeys(kinds, float("inf"))
        scrapes = samples = 0
        for _ in range(HTTP_ROUNDS):
            for kind in kinds:
                out.unlink(missing_ok=True)
                http = f"127.0.0.1:{_free_port()}" if kind != "plain" else None
                took, answered, tapped = _timed_run(build, work / "state", http, kind == "tap")
                best[kind] = min(best[kind], took)
                scrapes += answered
                samples += tapped
    note = f"{RECORDS:,} records, best of {HTTP_ROUNDS}, /metrics read every {SCRAPE_EVERY:g} s"
    return [
        {
            "benchmark": "file(json) | where | set | drop | sink file, --http scraped",
            "records_per_s": RECORDS / best["http"],
            "without_http_records_per_s": RECORDS / best["plain"],
            "ratio": best["plain"] / best["http"],
            "note": f"{note} ({scrapes} scrapes); target ratio >= 0.95",
        },
        {
            "benchmark": "the same, --http scraped and tapped",
            "records_per_s": RECORDS / best["tap"],
            "without_http_records_per_s": RECORDS / best["plain"],
            "ratio": best["plain"] / best["tap"],
            "note": f"{note}, a tap on line {TAP_LINE} (`set`, inside the fused segment) "
            f"at {TAP_RATE}/s ({samples} records tapped); target ratio >= 0.95",
        },
    ]


WORKER_RECORDS = 1_000_000
WORKER_ROUNDS = 3


def _lines(*paths: Path) -> collections.Counter:
    counted: collections.Counter = collections.Counter()
    for path in paths:
        with open(path, "rb") as f:
            counted.update(f)
    return counted


def _cpu_seconds() -> float:
    """User and system time of this process and its waited-for children."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def workers_speedup() -> dict:
    """The standard pipeline over WORKER_RECORDS records as one process and
    as `--workers 2`, alternating, best of WORKER_ROUNDS each; the two
    outputs must hold the same lines (as a multiset)."""
    from flowlang.runtime.context import Context
    from flowlang.runtime.launch import run_program
    from flowlang.runtime.workers import run_workers

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src, out = work / "in.jsonl", work / "out.jsonl"
        shares = [work / "out.w0.jsonl", work / "out.w1.jsonl"]
        _make_input(src, WORKER_RECORDS)
        build = compile_flow(work, "bench", PROGRAM.format(input=src, output=out))
        best = {1: float("inf"), 2: float("inf")}
        cpus = dict(best)
        for _ in range(WORKER_ROUNDS):
            for count in (1, 2):
                for path in (out, *shares):
                    path.unlink(missing_ok=True)
                ctx = Context(state_dir=str(work / "state"), status=False)
                cpu = _cpu_seconds()
                began = time.perf_counter()
                with contextlib.redirect_stderr(io.StringIO()):
                    if count == 1:
                        outcome = run_program(build, ctx)
                    else:
                        outcome = run_workers(build, ctx, count)
                best[count] = min(best[count], time.perf_counter() - began)
                cpus[count] = min(cpus[count], _cpu_seconds() - cpu)
                assert outcome.exit_code == 0, outcome.failure
                if count == 1:
                    single = _lines(out)
            assert _lines(*shares) == single, "2 workers wrote other records than 1"
    return {
        "benchmark": "file(json) | where | set | drop | sink file, --workers 2 vs 1",
        "records_per_s": WORKER_RECORDS / best[2],
        "baseline_records_per_s": WORKER_RECORDS / best[1],
        "ratio": best[1] / best[2],
        # CPU seconds of the process, or of the parent and both workers: what
        # the ratio could be on cores that nothing else uses
        "cpu_seconds_1": cpus[1],
        "cpu_seconds_2": cpus[2],
        "note": f"{WORKER_RECORDS:,} records in one file, best of {WORKER_ROUNDS}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
        "same output multiset; target ratio >= 1.7",
    }


def _rss_child(src: str, out: str, work: str) -> None:
    build = compile_flow(Path(work), "bench_rss", PROGRAM.format(input=src, output=out))
    run_compiled(build, Path(work) / "state")
    print(json.dumps({"peak_rss_mb": peak_rss_kib() / 1024}))


def peak_rss_row() -> dict:
    """Peak RSS of the standard pipeline over WORKER_RECORDS records and
    twice as many, each run in a fresh interpreter: memory must not grow
    with the input."""
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for n in (WORKER_RECORDS, 2 * WORKER_RECORDS):
            src, out = work / f"in{n}.jsonl", work / f"out{n}.jsonl"
            _make_input(src, n)
            child = [sys.executable, "-m", "bench.pipeline", "rss", str(src), str(out), tmp]
            done = subprocess.run(child, capture_output=True, text=True, check=True)
            peaks[n] = json.loads(done.stdout)["peak_rss_mb"]
            src.unlink()
            out.unlink()
    one, two = peaks[WORKER_RECORDS], peaks[2 * WORKER_RECORDS]
    return {
        "benchmark": "file(json) | where | set | drop | sink file, peak RSS (MB)",
        "peak_rss_mb_1M_records": one,
        "peak_rss_mb_2M_records": two,
        "ratio": two / one,
        "note": "a fresh interpreter each (compiling included); target ratio ~1.0 (flat)",
    }


def run() -> list[dict]:
    best_compiled, best_hand = race(PROGRAM, _make_input, hand_written, RECORDS, ROUNDS, "bench")
    rps, base = RECORDS / best_compiled, RECORDS / best_hand
    return [
        {
            "benchmark": "file(json) | where | set | drop | sink file",
            "records_per_s": rps,
            "baseline_records_per_s": base,
            "ratio": rps / base,
            "note": f"{RECORDS:,} records, best of {ROUNDS}; target ratio >= 0.8",
        },
        *http_overhead(),
        workers_speedup(),
        peak_rss_row(),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["rss"]:
        _rss_child(*sys.argv[2:5])
    else:
        for row in run():
            print(row)
