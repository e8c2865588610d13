"""The command line of a generated file (`python -m flowlang.stagedocs`,
`python -m flowlang.errordocs`, `python -m flowlang.textmate`): rewrite the
file from its source, or with `--check` only say whether it is up to date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable


def main(
    argv: list[str] | None, module: str, what: str, render: Callable[[], str], default: Path
) -> int:
    """Write `render()` to the page (`-o PATH`, else `default`); with
    `--check`, write nothing and exit 1 when the page differs."""
    prog = f"python -m {module}"
    parser = argparse.ArgumentParser(prog=prog, description=f"Render {what}.")
    parser.add_argument("-o", "--output", type=Path, default=default)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when the file is out of date"
    )
    options = parser.parse_args(argv)
    text = render()
    current = options.output.read_text(encoding="utf-8") if options.output.exists() else None
    if options.check:
        if current != text:
            print(f"{options.output} is out of date: run {prog}", file=sys.stderr)
            return 1
        return 0
    if current != text:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(text, encoding="utf-8")
        print(f"wrote {options.output}")
    return 0
