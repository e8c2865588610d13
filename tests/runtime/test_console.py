"""The summary table shows stage labels as written, with their line."""

from __future__ import annotations

import io
from pathlib import Path

from flowlang.runtime.console import _table_label, summary_table
from tests.flowrun import run_flow, run_flow_cli


def test_stage_labels_keep_brackets_and_show_their_line():
    assert _table_label("anomaly(x, by=[host])", 12) == " 12 anomaly(x, by=\\[host])"
    assert len(_table_label("where " + "x" * 200, 3)) == 44


def test_the_table_prints_brackets_literally():
    stage = {
        "stage": "anomaly(x, by=[host]) (m.flow:12)",
        "written": "anomaly(x, by=[host])",
        "line": 12,
        "in": 3,
        "out": 3,
        "dropped": 0,
        "errors": 0,
        "counters": {},
        "role": "processor",
    }
    snap = {
        "in": 3,
        "out": 3,
        "dropped": 0,
        "errors": 0,
        "records_per_second": 1.0,
        "absorbed": 0,
        "unread_errors": 0,
        "pauses": 0,
        "stages": [stage],
    }
    out = io.StringIO()
    summary_table({"m": snap}, 0.5, out)
    assert "12 anomaly(x, by=[host])" in out.getvalue()


def test_a_file_named_like_a_second_download_keeps_its_stage_labels(tmp_path):
    # the table once recovered label and line from `label (file:line)` by a
    # regular expression, which cut `source stdin (web (1).flow:1)` at `(web`
    program = "source stdin\n  | where x > 1\n  | sink stdout\n"
    (tmp_path / "web (1).flow").write_text(program)
    proc = run_flow_cli(Path("web (1).flow"), cwd=tmp_path, input=b'{"x": 2}\n{"x": 0}\n')
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    rows = [line.strip("│ ").split("│")[0].strip() for line in stderr.splitlines() if "│" in line]
    assert rows[1:] == ["1 source stdin", "2 where x > 1", "3 sink stdout"], stderr
    # the snapshot carries the parts, beside the label error records use
    program = program.replace("stdin", 'file("input.jsonl", format=json)')
    result = run_flow(
        program, tmp_path, records=[{"x": 2}], collect_errors=False, name="web (1).flow"
    )
    (snap,) = result.metrics.values()
    assert [(s["stage"], s["written"], s["line"]) for s in snap["stages"]] == [
        (
            'source file("input.jsonl", format=json) (web (1).flow:1)',
            'source file("input.jsonl", format=json)',
            1,
        ),
        ("where x > 1 (web (1).flow:2)", "where x > 1", 2),
        ("sink stdout (web (1).flow:3)", "sink stdout", 3),
    ]
