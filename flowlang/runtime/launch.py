"""Running a built program: `run` (used by `flowc run`), `run_program` (the
same, returning metrics too) and `main` (a generated module's entry point)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Callable, NoReturn

from .checkpoint import StateLock
from .console import StatusLine, absent_summary, error_summary, summary_table
from .context import DEFAULT_STATE_DIR, Context
from .engine import Engine, Outcome
from .errors import FlowError
from .program import Program

Build = Callable[[Context], Program]


def run_program(build: Build, ctx: Context) -> Outcome:
    """Build the program for `ctx` and run it to the end; report on stderr."""
    lock = None
    try:
        program = build(ctx)
        engine = Engine(program, ctx)
        engine.prepare()
        if engine.uses_state():
            lock = StateLock.claim(ctx.state_dir)
    except FlowError as exc:
        sys.stderr.write(f"flowc: {exc}\n")
        return Outcome(exit_code=2, failure=str(exc))
    live = ctx.status if ctx.status is not None else sys.stderr.isatty()
    try:
        outcome = asyncio.run(engine.run(StatusLine() if live else None))
    finally:
        if lock is not None:
            lock.release()
    if ctx.status is not False and outcome.metrics:
        summary_table(outcome.metrics, outcome.wall_seconds, sys.stderr)
    for line in error_summary(engine.runners.values()):
        sys.stderr.write(line + "\n")
    for line in absent_summary(engine.runners.values()):
        sys.stderr.write(line + "\n")
    if outcome.failure:
        sys.stderr.write(f"flowc: {outcome.failure}\n")
    elif outcome.signals:
        sys.stderr.write("flowc: stopped by signal; in-flight records drained\n")
        if outcome.kept_open:
            sys.stderr.write(
                "flowc: open windows kept for the next run, which reads their records "
                "again and emits them whole: " + "; ".join(outcome.kept_open) + "\n"
            )
    return outcome


def run(
    build: Build,
    *,
    pipeline: str | None = None,
    strict: bool = False,
    state_dir: str | None = None,
    status: bool | None = None,
    metrics: str | None = None,
) -> int:
    """Run a generated module's program; returns the exit status (0 ok, 1 the
    run failed, 2 the program could not start). `metrics`: a file to write
    the final metrics to, as JSON."""
    ctx = Context(
        strict=strict,
        state_dir=state_dir or DEFAULT_STATE_DIR,
        pipeline=pipeline,
        status=status,
    )
    outcome = run_program(build, ctx)
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
    parser.add_argument("--no-status", action="store_true", help="no status line, no summary table")
    parser.add_argument("--metrics", metavar="FILE", help="write the final metrics as JSON to FILE")
    return parser.parse_args(argv)


def main(build: Build, argv: list[str] | None = None) -> NoReturn:
    """Entry point of a generated module: parse options, run, exit with the status."""
    args = parse_args(argv)
    ctx = Context(
        strict=args.strict,
        state_dir=args.state_dir,
        pipeline=args.pipeline,
        status=False if args.no_status else None,
    )
    outcome = run_program(build, ctx)
    if args.metrics:
        write_metrics(args.metrics, outcome)
    sys.exit(outcome.exit_code)
