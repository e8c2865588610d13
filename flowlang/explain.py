"""`flowc explain CODE`: what a diagnostic code means, shown with its
example program, what flowc says about that program and the fix.

The entries are `explanations.ENTRIES`; what flowc says is computed here by
checking the example (or, for a code given when a run starts, by starting
it), so the text shown can never drift from the compiler. `errordocs.py`
renders the same for docs/errors.md.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import textwrap
from pathlib import Path

from . import codes
from .explanations import ENTRIES, Entry

EXAMPLE_NAME = "example.flow"
# the environment a `run` example starts in: no variable set (the test
# harness would otherwise supply its own anonymize key)
RUN_ENV = {"FLOW_ANON_KEY": ""}
WIDTH = 79


class UnknownCode(Exception):
    """`code` is not in the registry; `hint` suggests one that is, if any."""

    def __init__(self, code: str, hint: str | None):
        super().__init__(f"unknown code `{code}`" + (f"; {hint}" if hint else ""))
        self.code, self.hint = code, hint


def entry(code: str) -> Entry:
    """The entry of `code`, written as the user may write it (`e301`, `301`)."""
    wanted = code.strip().upper()
    if re.fullmatch(r"\d{3}", wanted):
        found = [c for c in ENTRIES if c[1:] == wanted]
        if len(found) == 1:
            wanted = found[0]
    if wanted in ENTRIES:
        return ENTRIES[wanted]
    from .checker.report import did_you_mean

    raise UnknownCode(code, did_you_mean(wanted, ENTRIES))


def title(code: str) -> str:
    info = codes.all_codes()[code]
    return info.title + (" (retired)" if info.retired else "")


@contextlib.contextmanager
def example_dir(e: Entry):
    """An empty working directory holding only the files of `e`."""
    with tempfile.TemporaryDirectory(prefix="flowc-explain-") as folder:
        for name, text in e.files.items():
            path = Path(folder, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        with contextlib.chdir(folder):
            yield


def check_program(e: Entry, program: str):
    """(SourceFile, diagnostics) of checking `program` beside `e`'s files."""
    from .checker import check_source
    from .source import SourceFile

    src = SourceFile(EXAMPLE_NAME, program)
    with example_dir(e):
        _, diags = check_source(src)
    return src, diags


def run_messages(e: Entry, program: str) -> tuple[int, str]:
    """(exit status, what it printed on stderr) of running `program` on no
    input in the environment RUN_ENV, sources and sinks replaced as in
    `flowc test`."""
    from .testing import load_text

    with example_dir(e):
        compiled = load_text(program, EXAMPLE_NAME)
        printed = io.StringIO()
        with contextlib.redirect_stderr(printed):
            result = compiled.run(env=RUN_ENV)
    return result.exit_code, printed.getvalue()


def report(e: Entry, program: str) -> str:
    """What flowc says about `program`: the diagnostics of `flowc check`, or
    for a `run` entry the messages of a run as it starts."""
    if e.when == "run":
        return run_messages(e, program)[1].rstrip("\n")
    from .diagnostics import render_all

    src, diags = check_program(e, program)
    return render_all(diags, src)


def said_by(e: Entry) -> str:
    """Who says what `report` shows."""
    if e.when == "run":
        return "`flowc check` finds nothing wrong; `flowc run` prints when it starts"
    return "`flowc check` reports"


def render_text(e: Entry) -> str:
    """The entry as `flowc explain` prints it."""
    out = [f"{e.code}: {title(e.code)}", ""]
    out += [_fill(p) + "\n" for p in e.explanation.split("\n\n")]
    if e.when == "never":
        out += ["No program is meant to give this code.", ""]
    else:
        for name, text in e.files.items():
            out += [f"The file {name}:", "", _indent(text)]
        out += ["Example:", "", _indent(e.example)]
        out += [f"{said_by(e)}:", "", _indent(report(e, e.example))]
    out += [_fill(f"Fix: {e.fix}"), ""]
    if e.fixed:
        out += [_indent(e.fixed)]
    return "\n".join(out).rstrip("\n") + "\n"


def listing() -> str:
    """Every code and its title, one a line (`flowc explain` without a code)."""
    lines = [f"{code}  {title(code)}" for code in codes.all_codes()]
    lines += ["", "Run `flowc explain CODE` for what a code means and how to fix it."]
    return "\n".join(lines) + "\n"


def _fill(paragraph: str) -> str:
    return textwrap.fill(paragraph, WIDTH, break_on_hyphens=False, break_long_words=False)


def _indent(text: str) -> str:
    return textwrap.indent(text.rstrip("\n"), "    ") + "\n"
