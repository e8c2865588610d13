"""`flowc explain` and docs/errors.md: every code of the registry has an
entry; every entry's example gives exactly its code and its fixed program
is clean; the page is up to date; the command prints an entry, lists the
codes and refuses an unknown one with exit 2.

After a deliberate change: `python -m flowlang.errordocs` (or
`python -m tests.regen tests.test_explain`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flowlang import codes, errordocs, explain
from flowlang.diagnostics import render_all
from flowlang.explanations import ENTRIES
from tests.test_cases import UNREACHABLE_CODES
from tests.test_cli import flowc

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
LIVE = [c for c, info in codes.all_codes().items() if not info.retired]
CHECKED = [c for c in LIVE if ENTRIES[c].when == "check"]
AT_RUN = [c for c in LIVE if ENTRIES[c].when == "run"]


def regenerate() -> list[Path]:
    """Rewrite docs/errors.md from the entries."""
    text = errordocs.render()
    if not DOCS.exists() or DOCS.read_text(encoding="utf-8") != text:
        DOCS.write_text(text, encoding="utf-8")
        return [DOCS]
    return []


def test_every_code_has_an_entry_and_every_entry_a_code():
    assert set(ENTRIES) == set(codes.all_codes())
    for code, entry in ENTRIES.items():
        assert entry.code == code
        assert entry.explanation and entry.fix, code


def test_the_codes_no_check_gives_are_few_and_named():
    # a code marked `run` or `never` needs no case file in tests/cases (and its
    # example is not checked to give it): marking one is a decision made here
    assert AT_RUN == [codes.NO_ANON_KEY]
    assert [c for c in LIVE if ENTRIES[c].when == "never"] == [codes.INTERNAL]
    assert UNREACHABLE_CODES == {codes.NO_ANON_KEY, codes.INTERNAL}


@pytest.mark.parametrize("code", CHECKED)
def test_the_example_gives_exactly_its_code(code):
    entry = ENTRIES[code]
    src, diags = explain.check_program(entry, entry.example)
    assert {d.code for d in diags} == {code}, render_all(diags, src)
    severity = "warning" if code.startswith("W") else "error"
    assert {d.severity for d in diags} == {severity}


@pytest.mark.parametrize("code", [c for c in LIVE if ENTRIES[c].when != "never"])
def test_the_fixed_program_is_clean(code):
    entry = ENTRIES[code]
    src, diags = explain.check_program(entry, entry.fixed)
    assert diags == [], render_all(diags, src)


@pytest.mark.parametrize("code", AT_RUN)
def test_a_run_code_is_given_when_the_example_starts_and_not_when_the_fix_does(code):
    entry = ENTRIES[code]
    assert explain.check_program(entry, entry.example)[1] == []
    status, printed = explain.run_messages(entry, entry.example)
    assert status == 0 and f"warning[{code}]" in printed
    status, printed = explain.run_messages(entry, entry.fixed)
    assert f"[{code}]" not in printed


def test_the_key_of_the_w501_fix_is_required():
    # the fixed program refuses to start without its key rather than warn
    entry = ENTRIES[codes.NO_ANON_KEY]
    status, _ = explain.run_messages(entry, entry.fixed)
    assert status == 2


def test_an_entry_no_program_gives_has_no_example():
    for code in LIVE:
        entry = ENTRIES[code]
        assert (entry.when == "never") == (entry.example == "" == entry.fixed), code


def test_an_entry_with_files_needs_them():
    # without its files, the example would not give its code or the fix not be clean
    for code in CHECKED:
        entry = ENTRIES[code]
        if entry.files:
            bare = type(entry)(code, entry.explanation, entry.fix, entry.example, entry.fixed)
            example = {d.code for d in explain.check_program(bare, entry.example)[1]}
            fixed = explain.check_program(bare, entry.fixed)[1]
            assert example != {code} or fixed != [], code


def test_errors_md_is_up_to_date():
    assert DOCS.read_text(encoding="utf-8") == errordocs.render(), (
        "docs/errors.md is out of date: run python -m flowlang.errordocs"
    )


def test_errors_md_links_every_code_to_its_section():
    text = DOCS.read_text(encoding="utf-8")
    for code in codes.all_codes():
        heading = f"## {code}: {codes.all_codes()[code].title}"
        assert heading in text
        assert f"(#{errordocs.anchor(code)})" in text
    assert (
        errordocs.anchor(codes.NOT_A_RECORD) == "e204-field-access-on-a-value-that-is-not-a-record"
    )


def test_codes_are_found_as_users_write_them():
    assert explain.entry("e301").code == "E301"
    assert explain.entry(" W502 ").code == "W502"
    assert explain.entry("301").code == "E301"
    with pytest.raises(explain.UnknownCode) as raised:
        explain.entry("E3O1")
    assert raised.value.hint == "did you mean `E301`?"
    with pytest.raises(explain.UnknownCode) as raised:
        explain.entry("X123")
    assert raised.value.hint is None


# ---------------------------------------------------------------- the command


def test_flowc_explain_prints_the_entry_with_what_check_says(tmp_path):
    done = flowc("explain", "E201", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    entry = ENTRIES["E201"]
    out = done.stdout
    assert out.startswith("E201: unknown field\n\n")
    for line in entry.example.splitlines() + entry.fixed.splitlines():
        assert f"    {line}\n" in out
    assert "    example.flow:2:54: error[E201]: unknown field `emial` in record Access\n" in out
    assert out.index("Example:") < out.index("error[E201]") < out.index("Fix: ")
    assert list(tmp_path.iterdir()) == []  # the example is checked elsewhere


def test_what_explain_shows_is_what_flowc_check_prints(tmp_path):
    # the report is the real compiler's, files included (E410 reads a table)
    for code in ("E301", "E410"):
        entry = ENTRIES[code]
        folder = tmp_path / code
        folder.mkdir()
        for name, text in entry.files.items():
            (folder / name).write_text(text, encoding="utf-8")
        (folder / "example.flow").write_text(entry.example, encoding="utf-8")
        done = flowc("check", "example.flow", cwd=folder)
        assert done.returncode == 1
        assert done.stderr.startswith(explain.report(entry, entry.example) + "\n")


def test_flowc_explain_a_run_time_code_shows_the_warning_of_a_start(tmp_path):
    done = flowc("explain", "W501", cwd=tmp_path)
    assert done.returncode == 0
    assert "`flowc run` prints when it starts:" in done.stdout
    assert "    flowc: warning[W501]: anonymize(email) (example.flow:1):" in done.stdout


def test_flowc_explain_an_internal_code_has_no_example(tmp_path):
    done = flowc("explain", "E901", cwd=tmp_path)
    assert done.returncode == 0
    assert "No program is meant to give this code." in done.stdout
    assert "Example:" not in done.stdout


def test_flowc_explain_without_a_code_lists_every_code(tmp_path):
    done = flowc("explain", cwd=tmp_path)
    assert done.returncode == 0
    listed = [line.split("  ", 1) for line in done.stdout.splitlines() if line[:1] in ("E", "W")]
    assert listed == [[c, info.title] for c, info in codes.all_codes().items()]


def test_flowc_explain_an_unknown_code_exits_2_with_a_suggestion(tmp_path):
    done = flowc("explain", "E3O1", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "flowc: unknown code `E3O1`; did you mean `E301`?" in done.stderr


def test_python_m_flowlang_errordocs_check_says_when_the_page_is_stale(tmp_path):
    import sys

    stale = tmp_path / "errors.md"
    stale.write_text("# old\n", encoding="utf-8")
    run = [sys.executable, "-m", "flowlang.errordocs", "-o", str(stale)]
    cwd = Path(__file__).resolve().parent.parent
    assert subprocess.run([*run, "--check"], cwd=cwd, capture_output=True).returncode == 1
    assert subprocess.run(run, cwd=cwd, capture_output=True).returncode == 0
    assert stale.read_text(encoding="utf-8") == errordocs.render()
    assert subprocess.run([*run, "--check"], cwd=cwd, capture_output=True).returncode == 0
