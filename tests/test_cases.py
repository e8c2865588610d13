"""Diagnostic case files: each `tests/cases/*.flow` is a program followed by
the diagnostics `flowc check` must print for it, as a trailing comment block:

    source stdin | geoipp | sink stdout
    # --- expected ---
    # e101.flow:1:16: error[E101]: unknown processor `geoipp`
    # …

A clean program's block says `# (no diagnostics)`. A case is checked in
`tests/cases`, so a lookup table it names is found in `tests/cases/tables`. Only the text before the
block is checked (so a diagnostic at the end of the input does not depend on
the block); it starts the file, so line numbers match the file.
`python -m tests.regen` rewrites the blocks after a deliberate change.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from flowlang import codes
from flowlang.checker import check_source
from flowlang.diagnostics import render_all
from flowlang.explanations import ENTRIES
from flowlang.source import SourceFile

CASES_DIR = Path(__file__).parent / "cases"
MARKER = "# --- expected ---"
CLEAN = "(no diagnostics)"
# codes no check can produce, as their explanations say: the checker's own
# failures (E901), and W501, which a run reports when it starts (checking is
# a function of the text alone)
UNREACHABLE_CODES = {code for code, entry in ENTRIES.items() if entry.when != "check"}


def case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.flow"))


def split_case(text: str) -> tuple[str, str | None]:
    """(program, expected diagnostics) of a case file; expected is None when
    the file has no expected block yet."""
    at = text.find("\n" + MARKER + "\n")
    if at < 0:
        return text, None
    program = text[: at + 1]
    lines = text[at + 2 + len(MARKER) :].splitlines()
    body = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in lines)
    return program, body


def render_case(path: Path, program: str) -> str:
    """The plain-text diagnostics of a case's program, or CLEAN. Relative
    paths in it (lookup tables) are found next to the case files."""
    src = SourceFile(path.name, program)
    with contextlib.chdir(CASES_DIR):
        _, diags = check_source(src)
    return render_all(diags, src) if diags else CLEAN


def with_expected(text: str, path: Path) -> str:
    """The case file's text with its expected block rewritten."""
    program, _ = split_case(text)
    rendered = render_case(path, program)
    block = "\n".join(f"# {line}" if line else "#" for line in rendered.splitlines())
    return f"{program}{MARKER}\n{block}\n"


def regenerate() -> list[Path]:
    """Rewrite every case file's expected block; returns the files changed."""
    changed = []
    for path in case_files():
        text = path.read_text(encoding="utf-8")
        new = with_expected(text, path)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_case(path: Path):
    text = path.read_text(encoding="utf-8")
    program, expected = split_case(text)
    assert expected is not None, f"{path.name} has no `{MARKER}` block; run `make regen`"
    assert program.strip(), f"{path.name} has no program"
    assert render_case(path, program) == expected


def _codes_in(expected: str) -> set[str]:
    return set(re.findall(r"^\S+:\d+:\d+: (?:error|warning)\[(\w+)\]", expected, re.M))


def test_every_front_end_code_has_a_case():
    seen: set[str] = set()
    for path in case_files():
        _, expected = split_case(path.read_text(encoding="utf-8"))
        seen |= _codes_in(expected or "")
    wanted = {c for c, info in codes.all_codes().items() if not info.retired}
    assert wanted - UNREACHABLE_CODES - seen == set()


def test_case_names_say_their_first_code():
    # a case named after a code shows that code (so a renamed code is noticed)
    for path in case_files():
        prefix = path.stem.split("_")[0].upper()
        if re.fullmatch(r"[EW]\d{3}", prefix):
            _, expected = split_case(path.read_text(encoding="utf-8"))
            assert prefix in _codes_in(expected or ""), path.name


def test_clean_cases_are_clean():
    clean = [p for p in case_files() if p.stem.startswith("ok_")]
    assert len(clean) >= 10
    for path in clean:
        assert split_case(path.read_text(encoding="utf-8"))[1] == CLEAN, path.name


def test_there_are_enough_cases():
    files = case_files()
    assert len(files) >= 60
    multi = [
        p
        for p in files
        if len(re.findall(r"^# \S+:\d+:\d+: error\[", p.read_text(encoding="utf-8"), re.M)) >= 3
    ]
    assert len(multi) >= 5
