"""The parts of `flowc lsp` that need no client: character offsets ↔ LSP
positions (lines end at LF, CRLF or CR only, characters count the code units
of the negotiated encoding), and that no other command loads the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.checker import analyze, check_source
from flowlang.lsp import editing
from flowlang.lsp.positions import LineIndex
from flowlang.source import SourceFile


def test_positions_count_the_code_units_of_each_encoding():
    text = "a\r\nxé𝄞z\rq\x0cw"
    for encoding, z in (("utf-16", 4), ("utf-8", 7), ("utf-32", 3)):
        lines = LineIndex(text, encoding)
        assert lines.position(text.index("z")) == (1, z)
        assert lines.offset(1, z) == text.index("z")
    # a form feed is not a line break for LSP; \r alone is
    assert LineIndex(text).position(text.index("w")) == (2, 2)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), st.data())
def test_an_offset_survives_the_round_trip_through_a_position(text, data):
    offset = data.draw(st.integers(0, len(text)))
    # an offset inside a \r\n pair is not a position of its own
    if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
        offset -= 1
    for encoding in ("utf-16", "utf-8", "utf-32"):
        lines = LineIndex(text, encoding)
        assert lines.offset(*lines.position(offset)) == offset


def test_only_flowc_lsp_imports_pygls(tmp_path: Path):
    program = tmp_path / "seed.flow"
    program.write_text('source file("x.log") | geoip | sink stdout\n')
    script = (
        "import sys\n"
        "from flowlang.cli import main\n"
        f"code = main(['check', {str(program)!r}])\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


_PIECES = st.sampled_from(
    [
        "source ",
        "from ",
        "pipeline p = ",
        "schema S {a: int}\n",
        "| ",
        "sink ",
        "where ",
        "set ",
        "drop ",
        "keep ",
        "rename ",
        " as ",
        "summarize n = count() every 1m ",
        "file(",
        "geoip(",
        "anonymize(",
        "parse(",
        "csv(",
        "method=",
        "schema=",
        "S",
        "x",
        "geo.",
        "a",
        "(",
        ")",
        "[",
        "]",
        ",",
        " = ",
        "==",
        '"s"',
        'r"\\d',
        "`f",
        "`f`",
        "5m",
        "1.5",
        "# c\n",
        "\n",
        " ",
        "lower(",
        "test ",
        '"t" { given p = [{a: 1}] }',
        "é𝄞",
    ]  # fmt: skip
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join), st.data())
def test_the_editor_features_answer_any_text(text, data):
    offset = data.draw(st.integers(0, len(text)))
    analysis = analyze(SourceFile("t.flow", text))
    editing.hover(analysis, offset)
    editing.definition(analysis, offset)
    for found in editing.completions("t.flow", text, offset, analysis):
        assert found.label and found.kind


def test_analyze_types_the_statements_that_parse_and_reports_what_check_does():
    text = (
        'pipeline a = source file("x", format=lines) | set n = len(message) | sink null\n'
        "pipeline b = from a | where n >\n"
        'pipeline c = from a | where `n` > "1" | sink null\n'
    )
    src = SourceFile("t.flow", text)
    analysis = analyze(src)
    assert not analysis.parsed and analysis.plan is None
    assert list(analysis.diagnostics) == check_source(src)[1]
    assert {d.code for d in analysis.diagnostics} == {"E001"}  # the syntax error alone
    assert {p.pipeline for p in analysis.stages} == {"a", "c"}
    where = analysis.stage_at(text.index("where `n`"))
    assert where.pipeline == "c" and str(where.before) == "{message: str, n: int}"
