"""The options of a run that `flowc run` and a generated module's `main`
share, declared once. A leaf (argparse only), so that `flowc --help` and
`flowc check` can declare them without loading the engine."""

from __future__ import annotations

import argparse

PROGRESS_INTERVAL = 10.0  # seconds between two lines of the progress log
LOG_FORMATS = ("text", "json")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http",
        metavar="ADDR",
        help="serve /metrics (Prometheus), /health, /ready and /tap on ADDR: PORT (on "
        "127.0.0.1), HOST:PORT or :PORT (every interface); port 0 picks a free one",
    )
    parser.add_argument(
        "--progress-interval",
        metavar="SECONDS",
        type=seconds,
        default=PROGRESS_INTERVAL,
        help="off a terminal, a progress line every SECONDS (default "
        f"{PROGRESS_INTERVAL:g}; 0: none)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="text, or json: every line flowc writes on stderr (progress, summary, "
        "messages) as one JSON object",
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        type=workers,
        default=1,
        help="run as N processes, each over its share of the input (default 1)",
    )


def workers(text: str) -> int:
    """A `--workers` value: a whole number from 1 up."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of workers: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def seconds(text: str) -> float:
    """A number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be 0 or more seconds")
    return value
