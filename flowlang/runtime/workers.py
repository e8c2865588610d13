"""`--workers N`: one run as N processes, each running the whole program
over its share of the input.

The parent builds the program once to check that it can be shared (every
source shares its input: files read once are split by `shards`, Kafka and
NATS workers join one consumer group or durable consumer; no stage keeps
state across records, so that the split changes nothing; no sink that
processes cannot share), holds the state directory's lock, then forks the
workers. Each runs `launch.run_program` with `Context.worker` set and no
status output, and leaves its final metrics in a file the parent reads once
it has exited. The parent prints one summary table of the metrics summed
over the workers and writes one `--metrics` file (the sum, and each
worker's own under `workers`).

Signals: the workers are in a process group of their own, so a terminal's
Ctrl-C reaches the parent only; the parent passes every SIGINT, SIGTERM and
SIGHUP it gets on to every worker (the first drains, a second exits at once,
as in one process). A worker that exits non-zero while the others run gets
them stopped (SIGTERM: they drain) and the run exits with its status. On
Linux a worker is sent SIGTERM should the parent die (kill -9).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from typing import Any, Callable

import orjson

from .checkpoint import StateLock
from .console import Log
from .context import Context
from .engine import STOP_SIGNALS, Engine, Outcome
from .errors import FlowError

POLL = 0.05  # seconds between looks at the workers while they run


def refusals(engine: Engine, count: int) -> list[str]:
    """Why the prepared program cannot run as `count` processes (none: it can)."""
    reasons = []
    for runner in engine.runners.values():
        for decl in runner.decl.stages:
            label = f"pipeline {runner.name}, stage {runner.labels[decl.index]}"
            if decl.role == "window":
                reasons.append(
                    f"{label}: its windows would be split among the workers, each "
                    "summing a part (--workers neither routes records by key nor "
                    "merges partial windows); run one process"
                )
            elif decl.cls is not None and not getattr(decl.cls, "splits_exactly", True):
                reasons.append(
                    f"{label}: it keeps state across records (per process), so its "
                    "output would change with the split; run one process"
                )
        if runner.source is not None:
            why = runner.source.shard(0, count)
            if why is not None:
                reasons.append(f"pipeline {runner.name}, stage {runner.labels[0]}: {why}")
        if runner.sink is not None and not getattr(runner.sink, "shareable", True):
            reasons.append(
                f"pipeline {runner.name}, stage {runner.labels[runner.sink_index]}: "
                "the workers cannot share it (their lines would interleave); "
                "use sink file(...), which gives each worker its own file"
            )
    return reasons


def take_share(engine: Engine, worker: tuple[int, int]) -> None:
    """Make every source of a worker's engine read its share only."""
    for runner in engine.runners.values():
        if runner.source is not None:
            why = runner.source.shard(*worker)
            if why is not None:  # the parent checked; a source that changed its mind
                raise FlowError(f"pipeline {runner.name}, stage {runner.labels[0]}: {why}")


def run_workers(
    build: Callable[[Context], Any], ctx: Context, count: int, metrics: str | None = None
) -> Outcome:
    """Run the program as `count` worker processes; report as one run."""
    log = Log(sys.stderr, ctx.log_format)
    started = time.monotonic()
    lock = None
    try:
        if ctx.http is not None:
            raise FlowError(
                "--http serves the metrics of one process; it is not (yet) available with --workers"
            )
        engine = Engine(build(ctx), ctx)
        engine.prepare()
        reasons = refusals(engine, count)
        if reasons:
            raise FlowError(f"cannot run as {count} workers:\n  " + "\n  ".join(reasons))
        if engine.uses_state():
            lock = StateLock.claim(ctx.state_dir)
        for runner in engine.runners.values():
            if runner.source is not None:
                runner.source.before_workers(count)
    except FlowError as exc:
        if lock is not None:
            lock.release()
        log.write(f"flowc: {exc}", "failed")
        outcome = Outcome(exit_code=2, failure=str(exc))
        _write_metrics(metrics, outcome, [])
        return outcome
    results = tempfile.mkdtemp(prefix="flowc-workers-")
    try:
        codes, signals = _supervise(build, ctx, count, results, log)
        reports = [_read(os.path.join(results, f"w{i}.json")) for i in range(count)]
    finally:
        shutil.rmtree(results, ignore_errors=True)
        if lock is not None:
            lock.release()
    failed = [i for i, code in enumerate(codes) if code != 0]
    code = codes[failed[0]] if failed else 0
    outcome = Outcome(
        exit_code=code,
        metrics=merge([r["pipelines"] for r in reports if r is not None]),
        signals=signals,
        wall_seconds=time.monotonic() - started,
        kept_open=[label for r in reports if r is not None for label in r["kept_open"]],
    )
    if failed:
        outcome.failure = f"worker {failed[0]} of {count} exited with status {code}" + (
            "; the others were stopped" if not signals and len(failed) < count else ""
        )
    absent = absent_fields(outcome.metrics)
    if ctx.strict and not failed and not signals and absent:
        pipeline, stage, field, _ = absent[0]
        outcome.exit_code = 1
        outcome.failure = (
            f"--strict: field `{field}` of stage {stage} was absent in every record it saw"
        )
    _report(ctx, log, outcome, reports)
    _write_metrics(metrics, outcome, reports)
    return outcome


def _supervise(build, ctx: Context, count: int, results: str, log: Log) -> tuple[list[int], int]:
    """Fork the workers and wait for all of them; their exit statuses
    (128 + n for one killed by signal n) and the signals passed on."""
    sys.stdout.flush()
    sys.stderr.flush()
    # the parent's objects stay out of the workers' garbage collections, which
    # would otherwise touch (and so copy) every page of them
    gc.freeze()
    pids: list[int] = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            _worker(build, ctx, (index, count), os.path.join(results, f"w{index}.json"))
        pids.append(pid)
    live = dict.fromkeys(pids)
    codes = [0] * count
    signals = 0
    stopping = False

    def forward(signum: int, frame: object) -> None:
        nonlocal signals
        signals += 1
        _kill(live, signum)

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        while live:
            for pid in list(live):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    continue
                del live[pid]
                code = os.waitstatus_to_exitcode(status)
                codes[pids.index(pid)] = code if code >= 0 else 128 - code
                if codes[pids.index(pid)] != 0 and not stopping and not signals:
                    stopping = True  # one failed: the others drain and stop
                    _kill(live, signal.SIGTERM)
            if live:
                time.sleep(POLL)
    finally:
        gc.unfreeze()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return codes, signals


def _kill(pids, signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass  # exited already; reaped by the loop


def _worker(build, ctx: Context, worker: tuple[int, int], result: str) -> None:
    """A forked worker: run the share, leave the outcome in `result`, exit."""
    from .launch import run_program

    code = 1
    try:
        os.setpgid(0, 0)
        _die_with_parent()
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)  # the engine installs its own
        outcome = run_program(build, dataclasses.replace(ctx, worker=worker, status=False))
        with open(result, "wb") as out:
            out.write(
                orjson.dumps(
                    {
                        "worker": worker[0],
                        "exit_code": outcome.exit_code,
                        "pipelines": outcome.metrics,
                        "kept_open": outcome.kept_open,
                    }
                )
            )
        code = outcome.exit_code
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _die_with_parent() -> None:
    """On Linux, have the kernel send SIGTERM to this process when its parent
    dies, so a worker never outlives a parent killed with SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def _read(path: str) -> dict | None:
    try:
        with open(path, "rb") as f:
            return orjson.loads(f.read())
    except FileNotFoundError:
        return None  # the worker died before it could report


def merge(workers: list[dict[str, dict]]) -> dict[str, dict]:
    """Pipeline snapshots (`PipelineMetrics.snapshot`) summed over workers:
    counts add up; a latency maximum and the seconds are the largest; a
    field is absent when it was absent in every worker whose stage saw records."""
    merged: dict[str, dict] = {}
    for snapshot in workers:
        for name, pipe in snapshot.items():
            merged.setdefault(name, []).append(pipe)
    return {name: _merge_pipeline(parts) for name, parts in merged.items()}


_SUMMED = ("in", "out", "dropped", "errors", "absorbed", "unread_errors", "pauses")


def _merge_pipeline(parts: list[dict]) -> dict:
    total = {key: sum(p[key] for p in parts) for key in _SUMMED}
    total["paused_seconds"] = sum(p["paused_seconds"] for p in parts)
    total["seconds"] = max(p["seconds"] for p in parts)
    total["records_per_second"] = total["in"] / total["seconds"]
    total["stages"] = [
        _merge_stage([p["stages"][i] for p in parts]) for i in range(len(parts[0]["stages"]))
    ]
    return total


def _merge_stage(parts: list[dict]) -> dict:
    first = parts[0]
    stage = {key: first[key] for key in ("index", "stage", "written", "line", "role")}
    for key in ("in", "out", "dropped", "errors"):
        stage[key] = sum(p[key] for p in parts)
    seen = [set(p["absent_fields"]) for p in parts if p["in"] > 0]
    stage["absent_fields"] = sorted(set.intersection(*seen)) if seen else []
    if "absorbed" in first:
        stage["absorbed"] = sum(p["absorbed"] for p in parts)
    if "writes" in first:
        stage["writes"] = writes = sum(p["writes"] for p in parts)
        stage["latency_seconds"] = seconds = sum(p["latency_seconds"] for p in parts)
        stage["latency_avg_ms"] = 1000.0 * seconds / writes if writes else 0.0
        stage["latency_max_ms"] = max(p["latency_max_ms"] for p in parts)
        stage["latency_buckets"] = [
            [bound, sum(p["latency_buckets"][k][1] for p in parts)]
            for k, (bound, _) in enumerate(first["latency_buckets"])
        ]
    counters: dict[str, int] = {}
    for p in parts:
        for name, n in p["counters"].items():
            counters[name] = counters.get(name, 0) + n
    stage["counters"] = counters
    return stage


def absent_fields(metrics: dict[str, dict]) -> list[tuple[str, str, str, int]]:
    """(pipeline, stage, field, records seen) of each field a stage read that
    no record reaching it had, in any worker."""
    return [
        (name, stage["stage"], field, stage["in"])
        for name, pipe in metrics.items()
        for stage in pipe["stages"]
        for field in stage["absent_fields"]
    ]


def _report(ctx: Context, log: Log, outcome: Outcome, reports: list[dict | None]) -> None:
    """One summary for the run, then what each worker read and how it ended."""
    if ctx.status is not False and outcome.metrics:
        from .launch import write_summary  # launch imports this module when asked

        write_summary(outcome, log, workers=len(reports))
        shares = ", ".join(
            f"worker {i}: "
            + (
                "no report"
                if r is None
                else "+".join(str(p["in"]) for p in r["pipelines"].values() if p["in"]) or "0"
            )
            for i, r in enumerate(reports)
        )
        log.write(f"flowc: {len(reports)} workers; records read by {shares}", "workers")
    for pipeline, stage, field, seen in absent_fields(outcome.metrics):
        noun = "the record" if seen == 1 else f"all {seen:,} records"
        log.write(
            f"flowc: pipeline {pipeline}, stage {stage}: field `{field}` was absent in "
            f"{noun} it saw",
            "absent_field",
        )
    if outcome.failure:
        log.write(f"flowc: {outcome.failure}", "failed")
    elif outcome.signals:
        log.write("flowc: stopped by signal; in-flight records drained", "stopped")


def _write_metrics(path: str | None, outcome: Outcome, reports: list[dict | None]) -> None:
    """The `--metrics` file: the exit status, the summed metrics, and each worker's."""
    if not path:
        return
    document = {
        "exit_code": outcome.exit_code,
        "pipelines": outcome.metrics,
        "workers": [r for r in reports],
    }
    with open(path, "wb") as out:
        out.write(orjson.dumps(document))
