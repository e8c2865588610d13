"""`summarize` over 1,000,000 records with 100,000 distinct keys per window:
records/s against a hand-written group-by loop doing the same work (count,
average and nearest-rank p95 per key and one-minute window, windows closed
as event time passes them), in the same process; and the peak RSS of each,
measured in a fresh subprocess so that nothing else the process did counts.

Records are made in chunks of 10,000 outside the timed sections, so the
figures are the aggregation's alone. Key `i % KEYS` over four windows of
250,000 records gives exactly 100,000 distinct keys in each window.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
import time
from typing import Callable, Iterator

from ._harness import peak_rss_kib

RECORDS = 1_000_000
KEYS = 100_000
WINDOWS = 4
CHUNK = 10_000
UTC = dt.timezone.utc
START = dt.datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = dt.timedelta(microseconds=1)
EVERY_MS = 60_000


def chunks(n: int = RECORDS) -> Iterator[list[dict]]:
    """The input, in order of time, CHUNK records at a time: RECORDS records
    fill WINDOWS windows, more records fill more windows of the same size."""
    step = dt.timedelta(microseconds=WINDOWS * EVERY_MS * 1000 // RECORDS)
    for first in range(0, n, CHUNK):
        yield [
            {
                "ts": START + step * i,
                "host": f"host-{i % KEYS}",
                "latency_ms": float((i * 7919) % 1000) / 10.0,
            }
            for i in range(first, min(first + CHUNK, n))
        ]


def ours() -> Callable[[list[dict]], int]:
    """Feed records to the stage; returns a function of a chunk and a
    final flush (called with an empty chunk) that counts emitted records."""
    from flowlang.runtime.base import StageContext
    from flowlang.stages.summarize import Summarize

    proc = Summarize(
        StageContext("bench", "summarize", "bench.flow:1"),
        aggregates=(
            ("n", "count", None),
            ("mean", "avg", ("latency_ms",)),
            ("p95", "p95", ("latency_ms",)),
        ),
        keys=(("host", ("host",)),),
        every=EVERY_MS,
        on=("ts",),
        allowed_lateness=0,
    )

    def refused(rec: dict, exc: BaseException) -> None:
        raise exc  # the input has no record summarize refuses

    def feed(chunk: list[dict]) -> int:
        # as the engine calls a window: a batch at a time
        if not chunk:
            return len(proc.flush())
        return len(proc.add_batch(chunk, refused))

    return feed


def baseline() -> Callable[[list[dict]], int]:
    """The same aggregation written by hand: a dict per window of per-key
    [count, sum, values], closed when a record reaches the window's end."""
    every = EVERY_MS * 1000
    windows: dict[int, dict[str, list]] = {}
    state = {"closed_below": None}

    def emit(window: int) -> int:
        groups = windows.pop(window)
        start = EPOCH + dt.timedelta(microseconds=window * every)
        end = start + dt.timedelta(microseconds=every)
        out = []
        for host in sorted(groups):
            n, total, values = groups[host]
            values.sort()
            p95 = values[max(1, -(-95 * n // 100)) - 1]
            out.append(
                {
                    "window_start": start,
                    "window_end": end,
                    "host": host,
                    "n": n,
                    "mean": total / n,
                    "p95": p95,
                }
            )
        return len(out)

    def feed(chunk: list[dict]) -> int:
        emitted = 0
        if not chunk:
            for window in sorted(windows):
                emitted += emit(window)
            return emitted
        for rec in chunk:
            window = ((rec["ts"] - EPOCH) // MICROSECOND) // every
            closed = state["closed_below"]
            if closed is None or window > closed:
                for old in sorted(w for w in windows if w < window):
                    emitted += emit(old)
                state["closed_below"] = window
            groups = windows.get(window)
            if groups is None:
                groups = windows[window] = {}
            host, v = rec["host"], rec["latency_ms"]
            entry = groups.get(host)
            if entry is None:
                groups[host] = [1, v, [v]]
            else:
                entry[0] += 1
                entry[1] += v
                entry[2].append(v)
        return emitted

    return feed


def timed(make: Callable[[], Callable[[list[dict]], int]], n: int = RECORDS) -> tuple[float, int]:
    """(records per second, records emitted), timing only the aggregation."""
    feed = make()
    spent = 0.0
    emitted = 0
    for chunk in itertools.chain(chunks(n), [[]]):  # the empty chunk flushes
        started = time.perf_counter()
        emitted += feed(chunk)
        spent += time.perf_counter() - started
    return n / spent, emitted


def compare(n: int = RECORDS) -> dict[str, tuple[float, int]]:
    """Both sides on the same chunks, taking turns chunk by chunk (so that a
    busy machine slows both alike): name -> (records per second, emitted)."""
    feeds = {"ours": ours(), "baseline": baseline()}
    spent = dict.fromkeys(feeds, 0.0)
    emitted = dict.fromkeys(feeds, 0)
    for i, chunk in enumerate(itertools.chain(chunks(n), [[]])):
        for name in sorted(feeds, reverse=i % 2 == 1):
            started = time.perf_counter()
            emitted[name] += feeds[name](chunk)  # neither side changes the records
            spent[name] += time.perf_counter() - started
    return {name: (n / spent[name], emitted[name]) for name in feeds}


def _child(which: str, n: int) -> None:
    rate, emitted = timed(ours if which == "ours" else baseline, n)
    peak_mb = peak_rss_kib() / 1024
    print(json.dumps({"records_per_s": rate, "emitted": emitted, "peak_rss_mb": peak_mb}))


def peak_rss(which: str, n: int = RECORDS) -> dict:
    """Run one side alone in a fresh interpreter; its peak RSS and rate."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.summarize", which, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def run() -> list[dict]:
    ours_rss = peak_rss("ours")
    base_rss = peak_rss("baseline")
    double = peak_rss("ours", 2 * RECORDS)
    results = compare()
    (rate, emitted), (base_rate, base_emitted) = results["ours"], results["baseline"]
    assert emitted == base_emitted == WINDOWS * KEYS, (emitted, base_emitted)
    return [
        {
            "benchmark": "summarize 1M records, 100k keys/window",
            "records_per_s": rate,
            "baseline_records_per_s": base_rate,
            "ratio": rate / base_rate,
            "note": "count, avg, p95 by key every 1m on ts",
        },
        {
            "benchmark": "summarize peak RSS (MB)",
            "peak_rss_mb": ours_rss["peak_rss_mb"],
            "baseline_peak_rss_mb": base_rss["peak_rss_mb"],
            "peak_rss_mb_2M_records": double["peak_rss_mb"],
            "note": "fresh subprocess each; 2M records = 8 windows of the same size",
        },
    ]


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
