"""The summary table shows stage labels as written, with their line."""

from __future__ import annotations

import io

from flowlang.runtime.report import _table_label, summary_table


def test_stage_labels_keep_brackets_and_show_their_line():
    assert _table_label("anomaly(x, by=[host]) (m.flow:12)") == " 12 anomaly(x, by=\\[host])"
    assert len(_table_label("where " + "x" * 200 + " (m.flow:3)")) == 44


def test_the_table_prints_brackets_literally():
    stage = {"stage": "anomaly(x, by=[host]) (m.flow:12)", "in": 3, "out": 3, "dropped": 0,
             "errors": 0, "counters": {}, "kind": "processor"}  # fmt: skip
    snap = {"in": 3, "out": 3, "dropped": 0, "errors": 0, "records_per_second": 1.0,
            "absorbed": 0, "unread_errors": 0, "pauses": 0, "stages": [stage]}  # fmt: skip
    out = io.StringIO()
    summary_table({"m": snap}, 0.5, out)
    assert "12 anomaly(x, by=[host])" in out.getvalue()
