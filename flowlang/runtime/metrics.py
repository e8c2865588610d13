"""Counters per pipeline and stage, and the snapshot the report and tests read.

The engine bumps the raw counters once per batch. Inside a fused segment only
the segment's input and each stage's drops and errors are counted; each
stage's in/out follows from those, exactly, between batches.
"""

from __future__ import annotations

import time
from typing import Any


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
        self.pauses = 0
        self.paused_seconds = 0.0
        self.unread_errors = 0
        self.started = time.monotonic()
        self.finished: float | None = None
        # watched fields (stage, path) and whether a record had each
        self.watches: tuple[tuple[int, tuple[str, ...]], ...] = ()
        self.present: list[bool] = []

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
