"""A field a stage reads that no record had (a typo on records without a
schema) is named in the run's summary and metrics, and `--strict` fails on
it, instead of `where stauts >= 500` quietly dropping everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.checker import check_source
from flowlang.source import SourceFile
from tests.flowrun import run_flow, run_flow_cli, write_jsonl

ACCESS = [
    {"status": 503, "path": "/a"},
    {"status": 200, "path": "/b"},
    {"status": 500, "path": "/c"},
]
TYPO = 'source file("in.jsonl", format=json)\n  | where stauts >= 500\n  | sink file("out.jsonl")\n'


def reads(text: str) -> list[tuple]:
    """Per stage, the fields it reads that the checker could not prove exist."""
    plan, diags = check_source(SourceFile("t.flow", text))
    assert plan is not None, [d.message for d in diags]
    return [list(s.info.unproven_reads) for p in plan.pipelines for s in p.steps]


def test_the_checker_lists_the_reads_it_cannot_prove():
    got = reads(
        "schema S { ts: time, user: {name: str, ..}, .. }\n"
        "source stdin(format=json, schema=S)\n"
        "  | where stauts >= 500 and ts > now() - 1h\n"
        "  | set a = host, b = a, c = user.name, d = user.mail, e = lat ?? 0, f = sid == null\n"
        "  | geoip\n"
        "  | drop pasword\n"
        "  | rename a as z, z as y\n"
        "  | summarize n = count(), m = max(bytes) by hsot every 1m\n"
        "  | sink stdout\n"
    )
    assert got == [
        [("stauts",)],
        # `b = a` reads what `a = host` set; `??` and `== null` expect absence
        [("host",), ("user", "mail")],
        [("ip",)],  # geoip's default field
        [("pasword",)],
        [],  # `a` was set, `z` is made by the rename
        [("hsot",), ("bytes",)],
        [],
    ]


def test_a_typo_is_named_in_the_summary_and_the_metrics(tmp_path: Path):
    write_jsonl(tmp_path / "in.jsonl", ACCESS)
    (tmp_path / "web.flow").write_text(TYPO)
    done = run_flow_cli(tmp_path / "web.flow", "--metrics", "metrics.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stderr = done.stderr.decode()
    assert (
        "flowc: pipeline web, stage where stauts >= 500 (" in stderr
        and "field `stauts` was absent in all 3 records it saw (did you mean `status`?)" in stderr
    ), stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    stages = metrics["pipelines"]["web"]["stages"]
    assert [s["absent_fields"] for s in stages] == [[], ["stauts"], []]
    assert stages[1]["dropped"] == 3


def test_strict_fails_the_run_on_it(tmp_path: Path):
    write_jsonl(tmp_path / "in.jsonl", ACCESS)
    (tmp_path / "web.flow").write_text(TYPO)
    done = run_flow_cli(tmp_path / "web.flow", "--strict", cwd=tmp_path)
    assert done.returncode == 1
    assert b"--strict: field `stauts` of stage where stauts >= 500" in done.stderr


def test_a_field_some_record_has_is_not_reported(tmp_path: Path):
    write_jsonl(tmp_path / "in.jsonl", ACCESS)
    (tmp_path / "web.flow").write_text(TYPO.replace("stauts", "status"))
    done = run_flow_cli(tmp_path / "web.flow", "--strict", "--metrics", "m.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"absent" not in done.stderr
    stages = json.loads((tmp_path / "m.json").read_text())["pipelines"]["web"]["stages"]
    assert all(s["absent_fields"] == [] for s in stages)


def test_a_stage_that_saw_no_record_reports_nothing(tmp_path: Path):
    text = 'source file("input.jsonl", format=json)\n  | where false\n  | set x = nope\n  | sink file("output.jsonl")\n'
    result = run_flow(text, tmp_path, records=ACCESS, strict=True)
    assert result.exit_code == 0
    assert all(not s["absent_fields"] for s in result.metrics["test"]["stages"])


def test_nested_fields_processors_and_windows_are_watched(tmp_path: Path):
    text = (
        'source file("input.jsonl", format=json)\n'
        "  | set city = geo.cty, country = geo.country\n"
        "  | anonymize(emial, method=redact)\n"
        "  | summarize n = count() by hsot every 1m\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [{"geo": {"country": "CZ"}, "email": "a@b.c", "host": "h"}, {"geo": None}]
    result = run_flow(text, tmp_path, records=records, env={"FLOW_ANON_KEY": "k"})
    assert result.exit_code == 0, result.stderr
    absent = [s["absent_fields"] for s in result.metrics["test"]["stages"]]
    assert absent == [[], ["geo.cty"], ["emial"], ["hsot"], []]
    assert "field `hsot` was absent in all 2 records it saw (did you mean `host`?)" in result.stderr


_RECORDS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.integers(0, 3),
            "b": st.none() | st.integers(),
            "pass": st.booleans() | st.none(),
        },
    ),
    max_size=6,
)
PROPERTY_FLOW = (
    'source file("input.jsonl", format=json)\n'
    "  | where pass ?? true\n"
    "  | set t = a\n"
    "  | drop b\n"
    '  | sink file("output.jsonl")\n'
)


@settings(max_examples=25, deadline=None)
@given(records=_RECORDS)
def test_a_field_is_reported_exactly_when_no_record_reaching_its_stage_had_it(
    records, tmp_path_factory
):
    result = run_flow(PROPERTY_FLOW, tmp_path_factory.mktemp("run"), records=records)
    reached = [r for r in records if r.get("pass") is not False]

    def expected(name: str) -> list[str]:
        return [name] if reached and not any(name in r for r in reached) else []

    absent = [s["absent_fields"] for s in result.metrics["test"]["stages"]]
    assert absent == [[], [], expected("a"), expected("b"), []]


@pytest.mark.parametrize("strict", [False, True])
def test_strict_does_not_fail_when_every_read_was_seen(tmp_path: Path, strict: bool):
    result = run_flow(PROPERTY_FLOW, tmp_path, records=[{"a": 1, "b": 2}], strict=strict)
    assert result.exit_code == 0
