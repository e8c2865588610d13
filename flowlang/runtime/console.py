"""What a run tells people on stderr: the live status line (on a terminal)
or the progress log (elsewhere), the summary table, the unread-error
summary, and one-line descriptions of error records. With `--log-format
json` every line flowc writes itself is one JSON object (`Log`)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import sys
import time
from typing import IO, Any

from . import jsonl
from .options import PROGRESS_INTERVAL

SAMPLE_CHARS = 300
STATUS_AFTER = 2.0  # seconds before the live status line appears


class Log:
    """The lines a run writes on stderr, as text or as JSON objects (one a
    line, each with `time` and `event`)."""

    def __init__(self, stream: IO[str] | None = None, fmt: str = "text"):
        self.stream = stream or sys.stderr
        self.json = fmt == "json"

    def write(self, text: str, event: str = "message", **data: Any) -> None:
        """`text` as it is, or `{"time", "event", "message": text, **data}`."""
        if self.json:
            line = {"time": _now(), "event": event, **data}
            if text:
                line["message"] = text
            self.stream.write(jsonl.dumps(line).decode("utf-8") + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def handler(self) -> logging.Handler:
        """A logging handler writing the stages' warnings the same way."""
        log = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                try:
                    text = record.getMessage()
                except Exception:  # a bad format string must not end the run
                    self.handleError(record)
                    return
                log.write(text, "log", level=record.levelname.lower(), logger=record.name)

        return _Handler(logging.WARNING)


def _now() -> str:
    from ..syntax import time_text

    return time_text(_dt.datetime.now(_dt.timezone.utc))


def totals(metrics: Any) -> dict[str, int]:
    """In/out/dropped/errors of one pipeline (its `PipelineMetrics`), the
    numbers of the summary table's pipeline row."""
    snap = metrics.snapshot()
    return {k: snap[k] for k in ("in", "out", "dropped", "errors")}


def _totals_text(name: str, t: dict[str, int]) -> str:
    return f"{name} {t['in']:,} in {t['out']:,} out {t['errors']:,} errors"


def _clip(text: str, limit: int = SAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(error: dict) -> str:
    """One error record in a line or two: where, code, message, and a clipped sample."""
    text = f"{error.get('pipeline')}: {error.get('stage')}: [{error.get('code')}] {error.get('message')}"
    if error.get("record") is not None:
        text += "\n    record: " + _clip(jsonl.dumps(error["record"]).decode("utf-8", "replace"))
    elif error.get("raw") is not None:
        text += "\n    raw: " + _clip(repr(error["raw"]))
    return text


def error_summary(runners: Any) -> list[str]:
    """Lines about error records nobody read, one pipeline each, with a sample."""
    lines = []
    for runner in runners:
        unread = runner.metrics.unread_errors
        if unread and runner.first_error is not None:
            noun = "error record" if unread == 1 else "error records"
            lines.append(
                f"flowc: pipeline {runner.name}: {unread} {noun} (no pipeline reads "
                f"`from {runner.name}.errors`); first: {describe_error(runner.first_error)}"
            )
    return lines


def absent_summary(runners: Any) -> list[str]:
    """Lines about fields a stage read that no record it saw had (a typo on
    records without a schema), with the closest field of the first record."""
    import difflib

    lines = []
    for runner in runners:
        for at, path, seen in runner.absent_fields():
            name = ".".join(path)
            noun = "the record" if seen == 1 else f"all {seen:,} records"
            line = (
                f"flowc: pipeline {runner.name}, stage {runner.labels[at]}: field "
                f"`{name}` was absent in {noun} it saw"
            )
            close = difflib.get_close_matches(name, runner.sample_fields or [], n=1)
            if close:
                line += f" (did you mean `{close[0]}`?)"
            lines.append(line)
    return lines


def summary_table(metrics: dict[str, dict], wall_seconds: float, stream: IO[str]) -> None:
    """The end-of-run table: in/out/dropped/errors per pipeline and stage."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"flowc run: {wall_seconds:.2f}s wall time", title_justify="left")
    for column in (
        "pipeline / stage",
        "in",
        "out",
        "dropped",
        "errors",
        "rec/s",
        "notes",
    ):
        table.add_column(
            column,
            justify="left" if column in ("pipeline / stage", "notes") else "right",
        )
    for name, snap in metrics.items():
        notes = []
        if snap["absorbed"]:
            notes.append(f"absorbed {snap['absorbed']:,}")
        if snap["unread_errors"]:
            notes.append(f"unread errors {snap['unread_errors']:,}")
        if snap["pauses"]:
            notes.append(f"paused {snap['pauses']}x {snap['paused_seconds']:.1f}s")
        table.add_row(
            f"[bold]{name}[/bold]",
            f"{snap['in']:,}",
            f"{snap['out']:,}",
            f"{snap['dropped']:,}",
            f"{snap['errors']:,}",
            f"{snap['records_per_second']:,.0f}",
            ", ".join(notes),
        )
        for stage in snap["stages"]:
            notes = [f"{k} {v:,}" for k, v in sorted(stage["counters"].items())]
            if stage.get("absent_fields"):
                notes.insert(0, "absent: " + ", ".join(stage["absent_fields"]))
            if "absorbed" in stage:
                notes.insert(0, f"absorbed {stage['absorbed']:,}")
            if stage["role"] == "sink" and stage.get("writes"):
                notes.insert(
                    0,
                    f"{stage['writes']:,} writes, avg {stage['latency_avg_ms']:.1f}ms, "
                    f"max {stage['latency_max_ms']:.1f}ms",
                )
            table.add_row(
                "  " + _table_label(stage["written"], stage["line"]),
                f"{stage['in']:,}",
                f"{stage['out']:,}",
                f"{stage['dropped']:,}",
                f"{stage['errors']:,}",
                "",
                ", ".join(notes),
            )
    # a log file or pipe gets a table wide enough not to wrap stage names
    width = None if stream.isatty() else 132
    Console(file=stream, highlight=False, soft_wrap=False, width=width).print(table)


def _table_label(written: str, line: int, width: int = 44) -> str:
    """Stage `geoip(ip)` of line 3 as `  3 geoip(ip)`, cut to `width`, with
    Rich's markup characters escaped (`by=[host]` must show as written)."""
    from rich.markup import escape

    text = f"{line:>3} {written}"
    if len(text) > width:
        text = text[: width - 1] + "…"
    return escape(text)


class StatusLine:
    """In/out/errors and input records/s per pipeline on one self-rewriting
    stderr line, shown once a run has lasted STATUS_AFTER seconds."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.5):
        self.stream = stream or sys.stderr
        self.interval = interval
        self.shown = False

    async def run(self, engine: Any) -> None:
        began = time.monotonic()
        last: dict[str, tuple[float, int]] = {}
        try:
            while True:
                await asyncio.sleep(self.interval)
                now = time.monotonic()
                parts = []
                for name, runner in engine.runners.items():
                    counts = totals(runner.metrics)
                    count = counts["in"]
                    then, before = last.get(name, (began, 0))
                    rate = (count - before) / max(now - then, 1e-9)
                    last[name] = (now, count)
                    parts.append(f"{_totals_text(name, counts)}, {rate:,.0f}/s")
                if now - began >= STATUS_AFTER:
                    self.stream.write("\r\x1b[2K" + " | ".join(parts))
                    self.stream.flush()
                    self.shown = True
        finally:
            if self.shown:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()


class ProgressLog:
    """Off a terminal: one line every `interval` seconds with in/out/errors
    per pipeline (`flowc: 10s: web 1,200 in 1,150 out 3 errors`), or one
    JSON object (`"event": "progress"`) under `--log-format json`."""

    def __init__(self, log: Log, interval: float = PROGRESS_INTERVAL):
        self.log = log
        self.interval = interval

    async def run(self, engine: Any) -> None:
        began = time.monotonic()
        while True:
            await asyncio.sleep(self.interval)
            seconds = time.monotonic() - began
            counts = {name: totals(r.metrics) for name, r in engine.runners.items()}
            text = "; ".join(_totals_text(name, t) for name, t in counts.items())
            self.log.write(
                f"flowc: {seconds:.0f}s: {text}",
                "progress",
                seconds=round(seconds, 3),
                pipelines=counts,
            )
