"""CSV in the file and stdin sources: RFC 4180 records whose quoted fields
span lines are one record, header-less files name their columns, malformed
records go to the error stream and the run goes on, and a followed file's
checkpoint never splits a record."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.decode import Decoder
from flowlang.runtime.lines import MAX_LINE, LineReader, LineSplitter
from tests.flowrun import FLOWC, CompileFailed, run_flow, run_flow_cli

from .procs import records, wait_for

pytestmark = pytest.mark.timeout(120)


def read(data: bytes, batch: int = 1000, **format_args):
    """Every record and failure of `data` decoded as csv, in batches of `batch` lines."""
    splitter = LineSplitter()
    lines = splitter.feed(data) + splitter.finish()
    decoder = Decoder("csv", format_args)
    got, failed = [], []
    for i in range(0, len(lines), batch):
        r, f = decoder.decode(lines[i : i + batch])
        got += r
        failed += f
    failed += decoder.finish()
    return got, [(f.error.code, f.error.message, f.raw) for f in failed]


# ---------------------------------------------------------------- RFC 4180, section 2


def test_rfc4180_records_end_with_a_line_break_the_last_one_may_not():
    # 2.1 and 2.2
    assert read(b"a,b\r\naaa,bbb,ccc\r\nzzz,yyy,xxx", header=False)[0] == [
        {"column1": "a", "column2": "b"},
        {"column1": "aaa", "column2": "bbb", "column3": "ccc"},
        {"column1": "zzz", "column2": "yyy", "column3": "xxx"},
    ]


def test_rfc4180_a_header_names_the_fields():
    # 2.3
    got, _ = read(b"field_name,field_name2,field_name3\r\naaa,bbb,ccc\r\n")
    assert got == [{"field_name": "aaa", "field_name2": "bbb", "field_name3": "ccc"}]


def test_rfc4180_fields_may_be_quoted_and_spaces_are_part_of_a_field():
    # 2.4 and 2.5
    got, _ = read(b'"aaa","b bb", ccc \r\n', header=False)
    assert got == [{"column1": "aaa", "column2": "b bb", "column3": " ccc "}]


def test_rfc4180_a_quoted_field_holds_line_breaks_delimiters_and_doubled_quotes():
    # 2.6 and 2.7
    data = b'"aaa","b\r\nbb","ccc"\r\nzzz,yyy,xxx\r\n"aaa","b""bb","c,cc"\r\n'
    got, failed = read(data, header=False, columns=["x", "y", "z"])
    assert failed == []
    assert got == [
        {"x": "aaa", "y": "b\r\nbb", "z": "ccc"},
        {"x": "zzz", "y": "yyy", "z": "xxx"},
        {"x": "aaa", "y": 'b"bb', "z": "c,cc"},
    ]


def test_a_record_may_span_many_lines_and_batches_blank_lines_included():
    data = b'id,text\n1,"one\n\ntwo\nthree"\n2,x\n'
    for batch in (1, 2, 3, 100):
        assert read(data, batch=batch) == (
            [{"id": "1", "text": "one\n\ntwo\nthree"}, {"id": "2", "text": "x"}],
            [],
        ), batch


# ---------------------------------------------------------------- malformed records


def test_malformed_records_go_to_the_errors_with_their_reason_and_reading_goes_on():
    data = b'a,b\n1,2\n3\n4,"x"y\n5,6,7\n8,9\n10,"open\nstill open'
    got, failed = read(data)
    assert got == [{"a": "1", "b": "2"}, {"a": "8", "b": "9"}]
    assert failed == [
        ("parse", "CSV row has 1 values, the header names 2", "3"),
        ("parse", "invalid CSV: ',' expected after '\"'", '4,"x"y'),
        ("parse", "CSV row has 3 values, the header names 2", "5,6,7"),
        (
            "parse",
            "invalid CSV: unterminated quoted field at the end of the input",
            '10,"open\nstill open',
        ),
    ]


def test_the_columns_option_fixes_the_count():
    got, failed = read(b"1,2\n1\n1,2,3\n", header=False, columns=["a", "b"])
    assert got == [{"a": "1", "b": "2"}]
    assert [m for _, m, _ in failed] == [
        "CSV row has 1 values, the columns name 2",
        "CSV row has 3 values, the columns name 2",
    ]


def test_with_a_header_the_columns_option_replaces_its_names():
    assert read(b"A,B\n1,2\n", columns=["a", "b"])[0] == [{"a": "1", "b": "2"}]


def test_a_quote_never_closed_is_bounded_by_the_record_limit():
    data = b'1,"open\n' + (b"x" * 1000 + b"\n") * (MAX_LINE // 1000 + 10) + b"2,ok\n"
    got, failed = read(data, header=False)
    assert [code for code, _, _ in failed] == ["limit"]
    assert failed[0][2].startswith('1,"open\nxxx') and len(failed[0][2]) <= 4096
    assert got[-1] == {"column1": "2", "column2": "ok"}  # reading went on


# ---------------------------------------------------------------- round trip

fields = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\ufeff"),
    max_size=12,
)
rows = st.lists(st.lists(fields, min_size=3, max_size=3), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(rows=rows, batch=st.integers(1, 8), terminator=st.sampled_from(["\r\n", "\n"]))
def test_what_csv_writer_writes_reads_back_equal(rows, batch, terminator):
    if terminator == "\n":
        # with a bare \n terminator csv.writer leaves a field's \r unquoted,
        # which no reader can tell from a CRLF's
        rows = [[f.replace("\r", "") for f in row] for row in rows]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=terminator)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    got, failed = read(out.getvalue().encode(), batch=batch)
    assert failed == []
    # a row of three empty fields is written `,,`: a record, not a blank line
    assert got == [dict(zip("abc", row)) for row in rows]


# ---------------------------------------------------------------- through flowc run


def test_flowc_run_reads_multi_line_records_and_reports_the_bad_ones(tmp_path):
    (tmp_path / "tickets.csv").write_bytes(
        b'1,"printer on\r\nfloor 2 jams",high\r\n2,"says ""out of paper""",low\r\n'
        b"3,missing a column\r\n4,ok,low\r\n"
    )
    program = tmp_path / "tickets.flow"
    program.write_text(
        "pipeline tickets =\n"
        '  source file("tickets.csv", format=csv(header=false, columns=["id", "text", "prio"]))\n'
        "  | set lines = len(text)\n"  # text is typed str: the columns are known
        '  | sink file("out.jsonl")\n'
        'pipeline bad = from tickets.errors | keep message, raw | sink file("bad.jsonl")\n'
    )
    done = run_flow_cli(program, cwd=tmp_path, env={"FLOWC_CACHE_DIR": str(tmp_path / "c")})
    assert done.returncode == 0, done.stderr.decode()
    assert [r["text"] for r in records(tmp_path / "out.jsonl")] == [
        "printer on\r\nfloor 2 jams",
        'says "out of paper"',
        "ok",
    ]
    assert records(tmp_path / "bad.jsonl") == [
        {"message": "CSV row has 2 values, the columns name 3", "raw": "3,missing a column"}
    ]


def test_the_columns_option_types_the_record(tmp_path):
    program = 'source file("x.csv", format=csv(columns=["a"])) | set n = b | sink stdout'
    with pytest.raises(CompileFailed, match="`b`"):
        run_flow(program, tmp_path)
    for bad, message in [('columns=["a", "a"]', "named twice: a"), ("columns=[]", "one column")]:
        with pytest.raises(CompileFailed, match=message):
            run_flow(f'source file("x.csv", format=csv({bad})) | sink stdout', tmp_path)


def test_stdin_reads_multi_line_records_too(tmp_path):
    program = tmp_path / "in.flow"
    program.write_text('source stdin(format=csv) | sink file("out.jsonl")\n')
    done = run_flow_cli(
        program,
        cwd=tmp_path,
        env={"FLOWC_CACHE_DIR": str(tmp_path / "c")},
        input=b'k,v\n1,"a\nb"\n2,"open',
    )
    assert done.returncode == 0, done.stderr.decode()
    assert records(tmp_path / "out.jsonl") == [{"k": "1", "v": "a\nb"}]
    assert b"unterminated quoted field" in done.stderr


# ---------------------------------------------------------------- checkpoints


def test_line_reader_offsets_minus_what_is_pending_fall_between_records(tmp_path):
    """The ack offset of every batch (reader offset minus the open record's
    bytes) is where a record starts: resuming there reads whole records."""
    data = b'h1,h2\n1,"a\nb\nc"\n2,x\n3,"d\n\ne"\n4,y\n'
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    starts = {0, len(b"h1,h2\n")}
    pos = len(b"h1,h2\n")
    for record in (b'1,"a\nb\nc"\n', b"2,x\n", b'3,"d\n\ne"\n', b"4,y\n"):
        pos += len(record)
        starts.add(pos)
    for n in (1, 2, 3):
        with open(path, "rb") as f:
            reader, decoder = LineReader(f), Decoder("csv", {})
            while True:
                lines = reader.read(n, final=True)
                if not lines:
                    break
                decoder.decode(lines)
                assert reader.offset - decoder.pending_bytes in starts, n


def test_a_followed_csv_file_stopped_inside_a_record_resumes_it_whole(tmp_path):
    log, out, state = tmp_path / "t.csv", tmp_path / "out.jsonl", tmp_path / "state"
    (tmp_path / "tail.flow").write_text(
        "pipeline tail =\n"
        f"  source file({json.dumps(str(log))}, format=csv, follow=true)\n"
        f"  | sink file({json.dumps(str(out))})\n"
    )

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [FLOWC, "run", "tail.flow", "--state-dir", str(state)],
            cwd=tmp_path,
            env=dict(os.environ, FLOWC_CACHE_DIR=str(tmp_path / "cache")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()

    log.write_bytes(b'id,text\n1,one\n2,"first half\n')
    proc = start()
    wait_for(lambda: len(records(out)) == 1, what="the first record")
    stop(proc)  # record 2 is half written: its lines are not checkpointed
    with open(log, "ab") as f:
        f.write(b'second half"\n3,three\n')
    proc = start()
    wait_for(lambda: len(records(out)) == 3, what="the rest")
    stop(proc)
    assert records(out) == [
        {"id": "1", "text": "one"},
        {"id": "2", "text": "first half\nsecond half"},
        {"id": "3", "text": "three"},
    ]
