"""The file source (without follow) and the file sink, in-process on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowlang import runtime as rt
from flowlang.runtime.metrics import balanced
from flowlang.stages import file_sink as _st_file_sink
from flowlang.stages import file_source as _st_file_source

from . import teststages as ts
from .procs import records


def build_copy(src: str, out: str, **source_args):
    def build(ctx: rt.Context) -> rt.Program:
        prog = rt.Program("copy.flow", ctx)
        copy = prog.pipeline("copy", line=1, stages=[("source file", 1), ("sink file", 2)])
        args = {
            "format": "auto",
            "format_args": {},
            "schema": None,
            "follow": False,
            "start": "beginning",
        }
        args.update(source_args)
        copy.source(0, _st_file_source.FileSource, path=src, **args)
        copy.sink(1, _st_file_sink.FileSink, path=out, format="json")
        errors = prog.pipeline(
            "errors", line=3, stages=[("from copy.errors", 3), ("sink memory", 4)]
        )
        errors.read_errors_from("copy")
        errors.sink(1, ts.MemorySink, name="errors")
        return prog

    return build


def run(build, **options):
    outcome = rt.run_program(build, rt.Context(status=False, **options))
    assert all(balanced(s) for s in outcome.metrics.values())
    return outcome


def test_a_glob_reads_files_in_sorted_order_each_with_its_csv_header(tmp_path: Path):
    (tmp_path / "b.csv").write_text("name,n\nbea,2\n")
    (tmp_path / "a.csv").write_text("n,name\r\n1,al\r\n")
    (tmp_path / "c.txt").write_text("not matched\n")
    out = tmp_path / "out" / "rows.jsonl"  # the sink creates the directory
    schema = ("{}", False, (("name", "str"), ("n", "int")))
    outcome = run(
        build_copy(
            str(tmp_path / "*.csv"),
            str(out),
            format="csv",
            format_args={"header": True, "delimiter": ","},
            schema=schema,
        )
    )
    assert outcome.exit_code == 0
    assert records(out) == [{"name": "al", "n": 1}, {"name": "bea", "n": 2}]


def test_bad_input_lines_become_error_records_and_the_rest_flows(tmp_path: Path):
    src, out = tmp_path / "in.log", tmp_path / "out.jsonl"
    huge = b"y" * ((1 << 20) + 10)
    src.write_bytes(b'{"ok": 1}\n' + b"caf\xe9\n" + huge + b"\n" + b"tail line")  # no final newline
    outcome = run(build_copy(str(src), str(out)), batch_size=2)
    assert outcome.exit_code == 0
    assert records(out) == [{"ok": 1}, {"message": "tail line"}]
    codes = {e["code"]: e for e in ts.COLLECTED["errors"]}
    assert set(codes) == {"decode", "limit"}
    assert codes["decode"]["raw"] == "caf\ufffd"
    assert len(codes["limit"]["raw"]) <= 4096  # an over-long line is never kept whole
    assert outcome.metrics["copy"]["in"] == 4 and outcome.metrics["copy"]["errors"] == 2


def test_the_file_sink_appends_to_what_is_there(tmp_path: Path):
    src, out = tmp_path / "in.log", tmp_path / "out.jsonl"
    src.write_text("one\ntwo\n")
    out.write_text('{"message":"zero"}\n')
    assert run(build_copy(str(src), str(out), format="lines")).exit_code == 0
    assert [r["message"] for r in records(out)] == ["zero", "one", "two"]


def test_large_input_in_small_batches_arrives_complete_and_in_order(tmp_path: Path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(25_000)))
    outcome = run(build_copy(str(src), str(out), format="json"), batch_size=100)
    assert [r["n"] for r in records(out)] == list(range(25_000))
    sink = outcome.metrics["copy"]["stages"][1]
    assert sink["writes"] >= 250  # at most 100 records a batch


@pytest.mark.parametrize("bad", [{"format": "xml"}, {"schema": ("nope",)}])
def test_bad_source_options_are_start_up_errors(tmp_path: Path, bad):
    src = tmp_path / "in.log"
    src.write_text("x\n")
    with pytest.raises(ValueError):
        _st_file_source.FileSource(
            rt.StageContext("p", "source file (x.flow:1)", "x.flow:1"),
            path=str(src),
            **bad,
        )


def test_a_stage_that_cannot_be_created_stops_the_run_before_it_starts(tmp_path: Path, capsys):
    src = tmp_path / "in.log"
    src.write_text("x\n")
    build = build_copy(str(src), str(tmp_path / "out.jsonl"), format="xml")
    assert rt.run_program(build, rt.Context(status=False)).exit_code == 2
    assert (
        "stage source file (copy.flow:1): ValueError: unknown format 'xml'"
        in capsys.readouterr().err
    )


def test_a_sink_that_cannot_open_its_file_is_a_start_up_error(tmp_path: Path, capsys):
    src = tmp_path / "in.log"
    src.write_text("x\n")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    outcome = rt.run_program(
        build_copy(str(src), str(blocker / "out.jsonl")), rt.Context(status=False)
    )
    assert outcome.exit_code == 2
    assert "stage sink file (copy.flow:2): cannot open" in capsys.readouterr().err


def test_a_large_file_through_a_slow_sink_keeps_memory_bounded(tmp_path: Path):
    import tracemalloc

    src = tmp_path / "big.jsonl"
    line = json.dumps(
        {"n": 0, "path": "/api/items/123", "agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    )
    total = 150_000
    src.write_text((line + "\n") * total)  # about 11 MB; decoded, several times that

    def build(ctx):
        prog = rt.Program("big.flow", ctx)
        p = prog.pipeline("big", line=1, stages=[("source file", 1), ("sink probe", 2)])
        p.source(
            0,
            _st_file_source.FileSource,
            path=str(src),
            format="json",
            format_args={},
            schema=None,
            follow=False,
            start="beginning",
        )
        p.sink(1, ts.MemoryProbeSink, name="probe", delay=0.0002)
        return prog

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        outcome = rt.run_program(build, rt.Context(status=False))
    finally:
        tracemalloc.stop()
    assert outcome.exit_code == 0
    assert ts.EVENTS["probe.count"] == [total]
    growth = max(ts.EVENTS["probe.memory"]) - before
    assert growth < 8 * 1024 * 1024, growth  # a few batches in flight, never the file
