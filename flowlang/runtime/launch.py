"""Running a built program: `run` (used by `flowc run`), `run_program` (the
same, returning metrics too) and `main` (a generated module's entry point,
where SIGHUP stops the run: there is no file to read again)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from functools import partial
from typing import Callable, NoReturn

from .checkpoint import StateLock
from .console import (
    Log,
    ProgressLog,
    StatusLine,
    absent_summary,
    error_summary,
    summary_table,
)
from .context import DEFAULT_STATE_DIR, Context
from .engine import Engine, Outcome
from .errors import FlowError
from .options import PROGRESS_INTERVAL, add_run_options
from .program import Program
from .reload import Reload, Reloading

Build = Callable[[Context], Program]


def run_program(build: Build, ctx: Context, reload: Reload | None = None) -> Outcome:
    """Build the program for `ctx` and run it to the end; report on stderr.
    With `reload` (`flowc run FILE`), SIGHUP replaces the program by the
    file's new text (`runtime.reload`)."""
    log = Log(sys.stderr, ctx.log_format)
    locks: list[StateLock] = []
    prepare = partial(prepare_engine, locks=locks)
    reloading = None
    if reload is not None:
        reloading = Reloading(
            reload, log, prepare, partial(report, log=log, reloaded=True), signals=ctx.signals
        )
        ctx = dataclasses.replace(ctx, signals=False)  # Reloading handles them
    try:
        engine = prepare(build, ctx)
    except FlowError as exc:
        for lock in locks:
            lock.release()
        log.write(f"flowc: {exc}", "failed")
        return Outcome(exit_code=2, failure=str(exc))
    handler = None
    if log.json:
        handler = log.handler()
        logging.getLogger("flowlang").addHandler(handler)
    try:
        engine, outcome = asyncio.run(_serve_and_run(engine, _watcher(ctx, log), log, reloading))
    finally:
        for lock in locks:
            lock.release()
        if handler is not None:
            logging.getLogger("flowlang").removeHandler(handler)
    report(engine, outcome, log)
    return outcome


def prepare_engine(build: Build, ctx: Context, locks: list[StateLock]) -> Engine:
    """The engine of `build`'s program, ready to run; the state directory
    is locked (into `locks`, once per process) when the program keeps state
    there. FlowError for a program that cannot start."""
    engine = Engine(build(ctx), ctx)
    engine.prepare()
    if ctx.worker is not None:
        from .workers import take_share

        take_share(engine, ctx.worker)  # the parent holds the lock
    elif engine.uses_state() and not locks:
        locks.append(StateLock.claim(ctx.state_dir))
    return engine


def write_summary(outcome: Outcome, log: Log, **more: object) -> None:
    """The summary table on stderr, or with JSON logs the `summary` event
    (with `more` fields)."""
    if log.json:
        log.write(
            "",
            "summary",
            exit_code=outcome.exit_code,
            wall_seconds=round(outcome.wall_seconds, 6),
            pipelines=outcome.metrics,
            **more,
        )
    else:
        summary_table(outcome.metrics, outcome.wall_seconds, sys.stderr)


def report(engine: Engine, outcome: Outcome, log: Log, reloaded: bool = False) -> None:
    """What a program's run says at its end: the summary, the unread errors,
    the absent fields, how it ended (`reloaded`: replaced by a reload)."""
    if engine.ctx.status is not False and outcome.metrics:
        write_summary(outcome, log)
    for line in error_summary(engine.runners.values()):
        log.write(line, "unread_errors")
    if engine.ctx.worker is None:  # a worker's share is not the input: the parent tells
        for line in absent_summary(engine.runners.values()):
            log.write(line, "absent_field")
    if outcome.failure:
        log.write(f"flowc: {outcome.failure}", "failed")
    elif outcome.signals or reloaded:
        if not reloaded:
            log.write("flowc: stopped by signal; in-flight records drained", "stopped")
        if outcome.kept_open:
            who = "the new program" if reloaded else "the next run"
            log.write(
                f"flowc: open windows kept for {who}, which reads their records "
                "again and emits them whole: " + "; ".join(outcome.kept_open),
                "kept_open",
            )


def _watcher(ctx: Context, log: Log) -> StatusLine | ProgressLog | None:
    """What shows the run's progress: the status line on a terminal (or
    when `status` is True), else the progress log; nothing under `status=False`."""
    if ctx.status is False:
        return None
    if not log.json and (ctx.status or sys.stderr.isatty()):
        return StatusLine()
    if ctx.progress_interval > 0:
        return ProgressLog(log, ctx.progress_interval)
    return None


async def _serve_and_run(
    engine: Engine, watcher: object, log: Log, reloading: Reloading | None
) -> tuple[Engine, Outcome]:
    """Run, with the `--http` server listening from before the sinks start
    until the run has ended (across reloads: the server follows the new
    program). The engine that ran last, and how it ended."""
    server = None
    if engine.ctx.http is not None:
        from .monitor import MonitorServer

        try:
            server = MonitorServer(engine, engine.ctx.http)
            await server.start()
        except FlowError as exc:
            return engine, Outcome(exit_code=2, failure=str(exc))
        log.write(
            f"flowc: serving {server.url}/metrics, /health, /ready and /tap",
            "serving",
            url=server.url,
        )
    try:
        if reloading is None:
            return engine, await engine.run(watcher)
        if server is not None:
            reloading.on_swap = server.follow
        return await reloading.run(engine, watcher)
    finally:
        if server is not None:
            await server.stop()


def run(
    build: Build,
    *,
    pipeline: str | None = None,
    strict: bool = False,
    state_dir: str | None = None,
    status: bool | None = None,
    metrics: str | None = None,
    http: str | None = None,
    progress_interval: float = PROGRESS_INTERVAL,
    log_format: str = "text",
    reload: Reload | None = None,
    workers: int = 1,
) -> int:
    """Run a generated module's program; returns the exit status (0 ok, 1 the
    run failed, 2 the program could not start). `metrics`: a file to write
    the final metrics to, as JSON (those of the last program, after
    reloads); `http`: the address of the monitoring server
    (`runtime.monitor`); `reload`: how SIGHUP reads the program again
    (`runtime.reload`; without it SIGHUP stops the run); `workers`:
    processes to run it as (`runtime.workers`; SIGHUP then stops the run,
    as each worker runs the compiled module, not the file)."""
    ctx = Context(
        strict=strict,
        state_dir=state_dir or DEFAULT_STATE_DIR,
        pipeline=pipeline,
        status=status,
        http=http,
        progress_interval=progress_interval,
        log_format=log_format,
    )
    if workers > 1:
        from .workers import run_workers

        return run_workers(build, ctx, workers, metrics).exit_code
    outcome = run_program(build, ctx, reload)
    if metrics:
        write_metrics(metrics, outcome)
    return outcome.exit_code


def write_metrics(path: str, outcome: Outcome) -> None:
    """The exit status and every pipeline's final metrics, as one JSON object."""
    from . import jsonl

    with open(path, "wb") as out:
        out.write(jsonl.dumps({"exit_code": outcome.exit_code, "pipelines": outcome.metrics}))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run this flowlang program.")
    parser.add_argument("--pipeline", metavar="P", help="run P and the pipelines it reads from")
    parser.add_argument("--strict", action="store_true", help="fail on the first error record")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        default=DEFAULT_STATE_DIR,
        help=f"where checkpoints are kept (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--no-status",
        action="store_true",
        help="no status line, progress log or summary table",
    )
    parser.add_argument("--metrics", metavar="FILE", help="write the final metrics as JSON to FILE")
    add_run_options(parser)
    return parser.parse_args(argv)


def main(build: Build, argv: list[str] | None = None) -> NoReturn:
    """Entry point of a generated module: parse options, run, exit with the status."""
    args = parse_args(argv)
    ctx = Context(
        strict=args.strict,
        state_dir=args.state_dir,
        pipeline=args.pipeline,
        status=False if args.no_status else None,
        http=args.http,
        progress_interval=args.progress_interval,
        log_format=args.log_format,
    )
    if args.workers > 1:
        from .workers import run_workers

        sys.exit(run_workers(build, ctx, args.workers, args.metrics).exit_code)
    outcome = run_program(build, ctx)
    if args.metrics:
        write_metrics(args.metrics, outcome)
    sys.exit(outcome.exit_code)
