"""The error reference, `docs/errors.md`, rendered from `explanations.py`:
every diagnostic code with what it means, its example, what flowc says about
the example (computed by checking it, as `flowc explain` does) and the fix.
`python -m flowlang.errordocs` rewrites the file; `--check` only reports
whether it is up to date.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

from . import codes, docpages, explain
from .explanations import ENTRIES, Entry

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "errors.md"

INTRO = """\
# Diagnostic codes

Every error (`E…`) and warning (`W…`) code that flowc gives, with what it
means, a minimal program that gives it, what flowc says about that program,
and the fix. `flowc explain CODE` prints the same entry in a terminal, and
`flowc explain` lists the codes. A code, once released, is never reused.

This page is generated from `flowlang/explanations.py` by
`python -m flowlang.errordocs`; what flowc says is computed by checking each
example (by starting it, for a code given when a run starts). The test
suite checks that the page is up to date, that every example gives exactly
its code and that every fixed program checks clean.

The codes come in ranges: E0xx syntax, E1xx names and structure, E2xx fields
and records, E3xx types, E4xx stage and function arguments, W5xx warnings,
E6xx tests, E9xx internal errors. A warning does not fail `flowc check`
(exit 0); an error does (exit 1), see [the command line](cli.md#exit-status).
"""

# a program whose diagnostics depend on the files beside it is fenced
# `flow files`: the check of the doc pages' blocks (tests/test_docs_examples.py)
# sees a block alone, and this one needs the files shown before it
# (tests/test_explain.py checks it with them)
_FENCE_FOR_FILE = {".json": "json", ".csv": "csv"}


def anchor(code: str) -> str:
    """The anchor GitHub gives the heading of `code`."""
    heading = f"{code}: {explain.title(code)}".lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", heading))


def fence(e: Entry, program: str) -> str:
    """The info string of `program`'s block: `flow-error` for a program with
    errors, `flow` for one without, `flow files` when its files decide."""
    if e.files and _codes(e, program) != _codes(replace(e, files={}), program):
        return "flow files"
    return "flow-error" if any(d.is_error for d in explain.check_program(e, program)[1]) else "flow"


def _codes(e: Entry, program: str) -> set[str]:
    return {d.code for d in explain.check_program(e, program)[1]}


def entry_section(e: Entry) -> list[str]:
    lines = [f"## {e.code}: {explain.title(e.code)}", ""]
    for paragraph in e.explanation.split("\n\n"):
        lines += [paragraph, ""]
    if e.when == "never":
        lines += ["No program is meant to give this code.", ""]
    else:
        for name, text in e.files.items():
            info = _FENCE_FOR_FILE.get(Path(name).suffix, "text")
            lines += [f"With the file `{name}`:", "", f"```{info}", text.rstrip("\n"), "```", ""]
        lines += ["```" + fence(e, e.example), e.example.rstrip("\n"), "```", ""]
        lines += [f"{explain.said_by(e)}:", "", "```text", explain.report(e, e.example), "```", ""]
    lines += [f"**Fix.** {e.fix}", ""]
    if e.fixed:
        lines += ["```" + fence(e, e.fixed), e.fixed.rstrip("\n"), "```", ""]
    return lines


def render() -> str:
    """The whole page."""
    lines = [INTRO, "| code | |", "|---|---|"]
    for code in codes.all_codes():
        lines.append(f"| [{code}](#{anchor(code)}) | {explain.title(code)} |")
    lines.append("")
    for code in codes.all_codes():
        lines += entry_section(ENTRIES[code])
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m flowlang.errordocs [--check] [-o PATH]`."""
    return docpages.main(argv, "flowlang.errordocs", "the error reference", render, DEFAULT_PATH)


if __name__ == "__main__":
    sys.exit(main())
