"""Counters per pipeline and stage, and the snapshot the report and tests read.

The engine bumps the raw counters once per batch. Inside a fused segment only
the segment's input and each stage's drops and errors are counted; each
stage's in/out follows from those, exactly, between batches.
"""

from __future__ import annotations

import bisect
import time
from typing import Any

# upper bounds (seconds) of the sink write latency histogram: a local file
# write takes well under a millisecond, a bulk request to a cluster tens to
# hundreds, a write that waits out retries seconds
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class PipelineMetrics:
    """Raw counters of one pipeline, indexed by stage. `labels` name the
    stages as error records do (`geoip(ip) (web.flow:2)`); `written` gives
    the parts of each: the stage as written and its line."""

    def __init__(
        self,
        name: str,
        labels: list[str],
        roles: list[str],
        segments: list[tuple[int, int]],
        written: list[tuple[str, int]],
    ):
        n = len(labels)
        self.name = name
        self.labels = labels
        self.written = written
        self.roles = roles
        self.segments = segments
        self.inp = [0] * n
        self.out = [0] * n
        self.dropped = [0] * n
        self.errors = [0] * n
        self.emitted = 0  # records that left the last processor
        self.counters: list[dict[str, int] | None] = [None] * n
        self.sink_writes = 0
        self.sink_seconds = 0.0
        self.sink_max_seconds = 0.0
        # writes per latency bucket (LATENCY_BUCKETS, then the slower ones)
        self.sink_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.pauses = 0
        self.paused_seconds = 0.0
        self.unread_errors = 0
        self.started = time.monotonic()
        self.finished: float | None = None
        # watched fields (stage, path) and whether a record had each
        self.watches: tuple[tuple[int, tuple[str, ...]], ...] = ()
        self.present: list[bool] = []

    def wrote(self, seconds: float) -> None:
        """Count one sink write that took `seconds`."""
        self.sink_writes += 1
        self.sink_seconds += seconds
        if seconds > self.sink_max_seconds:
            self.sink_max_seconds = seconds
        self.sink_buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def derive(self) -> None:
        """Fill in/out of stages inside segments from the segment input."""
        for first, last in self.segments:
            flowing = self.inp[first]
            for k in range(first, last + 1):
                self.inp[k] = flowing
                flowing -= self.dropped[k] + self.errors[k]
                self.out[k] = flowing

    def snapshot(self) -> dict[str, Any]:
        """Plain data: pipeline totals and one entry per stage."""
        self.derive()
        stages = []
        absorbed_total = 0
        absent: dict[int, list[str]] = {}
        for slot, (at, path) in enumerate(self.watches):
            if not self.present[slot] and self.inp[at] > 0:
                absent.setdefault(at, []).append(".".join(path))
        for i, label in enumerate(self.labels):
            entry: dict[str, Any] = {
                "index": i,
                "stage": label,
                "written": self.written[i][0],
                "line": self.written[i][1],
                "role": self.roles[i],
                "in": self.inp[i],
                "out": self.out[i],
                "dropped": self.dropped[i],
                "errors": self.errors[i],
                # fields the stage reads that no record it saw had
                "absent_fields": absent.get(i, []),
            }
            if self.roles[i] == "window":
                entry["absorbed"] = self.inp[i] - self.out[i] - self.errors[i]
                absorbed_total += entry["absorbed"]
            if self.roles[i] == "sink":
                entry["writes"] = self.sink_writes
                entry["latency_avg_ms"] = (
                    1000.0 * self.sink_seconds / self.sink_writes if self.sink_writes else 0.0
                )
                entry["latency_max_ms"] = 1000.0 * self.sink_max_seconds
                entry["latency_seconds"] = self.sink_seconds
                # [upper bound in seconds, writes that took at most that], cumulative
                running = 0
                entry["latency_buckets"] = []
                for bound, n in zip(LATENCY_BUCKETS, self.sink_buckets):
                    running += n
                    entry["latency_buckets"].append([bound, running])
            counters = self.counters[i]
            entry["counters"] = dict(counters) if counters else {}
            stages.append(entry)
        end = self.finished if self.finished is not None else time.monotonic()
        seconds = max(end - self.started, 1e-9)
        has_sink = "sink" in self.roles
        out = self.out[self.roles.index("sink")] if has_sink else self.emitted
        return {
            "in": self.inp[0],
            "out": out,
            "dropped": sum(self.dropped),
            "errors": sum(self.errors),
            "absorbed": absorbed_total,
            "unread_errors": self.unread_errors,
            "seconds": seconds,
            "records_per_second": self.inp[0] / seconds,
            "pauses": self.pauses,
            "paused_seconds": self.paused_seconds,
            "stages": stages,
        }


def balanced(snapshot: dict[str, Any]) -> bool:
    """Does a pipeline snapshot conserve records (in = out + dropped + errors + absorbed)?"""
    s = snapshot
    return s["in"] == s["out"] + s["dropped"] + s["errors"] + s["absorbed"]
