"""JSON lines encoding, line reading with bounded memory, and the input
formats (`auto`, `json`, `lines`, `csv`) with schemas."""

from __future__ import annotations

import datetime as dt
import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime import jsonl
from flowlang.runtime.decode import Decoder
from flowlang.runtime.lines import LineReader, LineSplitter, TooLong, line_batches

UTC = dt.timezone.utc


# --- jsonl ---------------------------------------------------------------------


def test_dumps_writes_time_as_utc_with_z_and_durations_as_seconds():
    # the runtime's times are in UTC (tests/test_syntax.py: as time_text writes them)
    when = dt.datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=dt.timezone.utc)
    line = jsonl.dumps({"t": when, "d": dt.timedelta(milliseconds=1500), "n": None})
    assert line == b'{"t":"2024-03-01T12:00:00.250000Z","d":1.5,"n":null}'


def test_dumps_falls_back_to_text_for_what_json_cannot_hold():
    class Thing:
        def __str__(self):
            return "thing!"

    assert json.loads(jsonl.dumps({"x": Thing(), "big": 2**70, 1: "k"})) == {
        "x": "thing!",
        "big": 2**70,
        "1": "k",
    }
    assert (
        jsonl.dumps({"nan": float("nan"), "big": 2**65})
        == b'{"nan":null,"big":36893488147419103232}'
    )


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.text()
        | st.floats(allow_nan=False, allow_infinity=False),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_loads_inverts_dumps_for_json_values(value):
    assert jsonl.loads(jsonl.dumps(value)) == value


# --- lines ---------------------------------------------------------------------


def test_line_reader_leaves_a_partial_line_for_later_and_tracks_offsets():
    f = io.BytesIO(b"one\ntwo\r\nthr")
    reader = LineReader(f)
    assert reader.read(10, final=False) == [b"one", b"two\r"]
    assert reader.offset == 9
    f.seek(0, io.SEEK_END)
    f.write(b"ee\n")
    f.seek(reader.offset)
    assert reader.read(10, final=False) == [b"three"]
    assert reader.offset == 15


def test_over_long_lines_become_markers_and_are_skipped_whole():
    data = b"short\n" + b"x" * 50 + b"\nafter\n"
    reader = LineReader(io.BytesIO(data), max_line=20)
    got = reader.read(10, final=True)
    assert got[0] == b"short" and isinstance(got[1], TooLong) and got[2] == b"after"
    assert got[1].head == b"x" * 21
    assert reader.offset == len(data)

    splitter = LineSplitter(max_line=20)
    out = []
    for i in range(0, len(data), 7):  # the long line spans many chunks
        out += splitter.feed(data[i : i + 7])
    out += splitter.finish()
    assert out[0] == b"short" and isinstance(out[1], TooLong) and out[2:] == [b"after"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    st.integers(1, 40),
    st.integers(1, 7),
    st.integers(1, 5),
)
def test_chunked_and_line_by_line_reading_agree(lines, chunk, n, min_lines):
    data = b"".join(line + b"\n" for line in lines)
    batches = list(
        line_batches(io.BytesIO(data), n, max_line=20, batch_bytes=chunk, min_lines=min_lines)
    )
    assert all(0 < len(b) <= n for b in batches)
    flat = [x.head[:0] + b"<long>" if isinstance(x, TooLong) else x for b in batches for x in b]
    reader = LineReader(io.BytesIO(data), max_line=20)
    expected = []
    while True:
        got = reader.read(5, final=True)
        if not got:
            break
        expected += [b"<long>" if isinstance(x, TooLong) else x for x in got]
    assert flat == expected
    if lines and lines[0].startswith(
        b"\xef\xbb\xbf"
    ):  # a byte-order mark opening the file is dropped
        lines = [lines[0][3:]] + lines[1:]
    assert [x for x in expected if x != b"<long>"] == [line for line in lines if len(line) <= 20]


# --- formats -------------------------------------------------------------------


def decode(fmt, lines, **kw):
    records, failed = Decoder(fmt, **kw).decode(lines)
    return records, [(f.error.code, f.raw) for f in failed]


def test_auto_reads_json_objects_and_wraps_everything_else():
    records, failed = decode("auto", [b'{"a": 1}', b"plain text\r", b"[1, 2]", b"", b"{broken"])
    assert records == [
        {"a": 1},
        {"message": "plain text"},
        {"message": "[1, 2]"},
        {"message": "{broken"},
    ]
    assert failed == []


def test_json_sends_malformed_and_non_object_lines_to_errors_with_their_text():
    records, failed = decode("json", [b'{"a": 1}\r', b"{broken", b"[1]", b"   "])
    assert records == [{"a": 1}]
    assert failed == [("parse", "{broken"), ("parse", "[1]")]


def test_invalid_utf8_is_an_error_with_replacement_characters():
    for fmt in ("auto", "json", "lines", "csv"):
        _, failed = decode(fmt, [b"caf\xe9 au lait"], format_args={"header": False})
        assert failed == [("decode", "caf\ufffd au lait")], fmt


def test_lines_keep_every_line_as_a_message():
    records, _ = decode("lines", [b"a", b"", b'{"x": 1}'])
    assert records == [{"message": "a"}, {"message": ""}, {"message": '{"x": 1}'}]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")),
            st.sampled_from([b"a\r", b"\r", b"a\rb", b"caf\xe9", "é".encode(), b""]),
            st.just(TooLong(b"head")),
        ),
        max_size=12,
    )
)
def test_a_batch_of_lines_decodes_as_its_lines_one_by_one(lines):
    # the batch is decoded in one call where it can be: the same records and errors
    decoder = Decoder("lines")
    records, failed = decoder.decode(lines)
    want = [decoder._one(line) for line in lines]
    assert records == [item.record for item in want if item.error is None]
    assert [(f.raw, f.error.code) for f in failed] == [
        (item.raw, item.error.code) for item in want if item.error is not None
    ]


def test_csv_with_header_and_schema():
    schema = ("{}", False, (("name", "str"), ("age", "int"), ("seen", ("?", "time"))))
    d = Decoder("csv", {"header": True, "delimiter": ";"}, schema)
    records, failed = d.decode(
        [b"name;age;seen", b"ann;41;2024-01-01T00:00:00Z", b'"b;o";x;', b"c;1"]
    )
    assert records == [{"name": "ann", "age": 41, "seen": dt.datetime(2024, 1, 1, tzinfo=UTC)}]
    assert [(f.error.code, f.error.message) for f in failed] == [
        ("schema", 'field `age`: expected int, got str "x"'),
        ("parse", "CSV row has 2 values, the header names 3"),
    ]
    assert failed[0].raw == '"b;o";x;'
    d.new_file()  # the next file has its own header
    assert d.decode([b"name;age;seen", b"dan;7;"])[0] == [{"name": "dan", "age": 7, "seen": None}]


def test_csv_without_header_numbers_its_columns():
    records, _ = decode("csv", [b"a,b"], format_args={"header": False})
    assert records == [{"column1": "a", "column2": "b"}]


def test_json_with_schema_coerces_or_reports():
    schema = ("{}", True, (("ip", "ip"), ("t", "time")))
    records, failed = decode(
        "json",
        [b'{"ip": "::FFFF:1.2.3.4", "t": 0, "x": 1}', b'{"ip": "nope", "t": 0}'],
        schema=schema,
    )
    assert records == [{"ip": "::ffff:102:304", "t": dt.datetime(1970, 1, 1, tzinfo=UTC), "x": 1}]
    assert failed == [("schema", '{"ip": "nope", "t": 0}')]


def test_dumps_lines_matches_dumps_line_by_line_including_fallbacks():
    batch = [{"a": 1}, {"t": dt.datetime(2024, 1, 1, tzinfo=UTC)}, {"big": 2**70}]
    assert jsonl.dumps_lines(batch) == b"".join(jsonl.dumps(r) + b"\n" for r in batch)
    assert jsonl.dumps_lines([]) == b""


# --- byte-order marks -----------------------------------------------------------

BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_opening_a_file_is_not_part_of_its_first_line():
    data = BOM + b'{"a":1}\n' + BOM + b"kept\n"
    reader = LineReader(io.BytesIO(data))
    assert reader.read(10, final=True) == [b'{"a":1}', BOM + b"kept"]
    assert reader.offset == len(data)  # offsets still count the file's bytes
    # a partial first line is read again later without its mark
    reader = LineReader(io.BytesIO(BOM + b'{"a"'))
    assert reader.read(10, final=False) == [] and reader.offset == 3
    assert reader.read(10, final=True) == [b'{"a"']
    # a mark alone on the first line leaves an empty line
    assert LineReader(io.BytesIO(BOM + b"\nx\n")).read(10, final=True) == [b"", b"x"]
    # the bound applies to the line without its mark, and the line stays whole
    for size in (19, 20):
        line = b"a" * size
        reader = LineReader(io.BytesIO(BOM + line + b"\nb\n"), max_line=20)
        assert reader.read(10, final=True) == [line, b"b"]
    got = LineReader(io.BytesIO(BOM + b"a" * 21 + b"\nb\n"), max_line=20).read(10, final=True)
    assert isinstance(got[0], TooLong) and got[1:] == [b"b"]


@given(st.integers(1, 12))
def test_a_stream_drops_its_opening_mark_however_it_is_cut(chunk):
    data = BOM + b"a=1\n" + BOM + b"b\n"
    splitter = LineSplitter()
    lines = []
    for i in range(0, len(data), chunk):
        lines += splitter.feed(data[i : i + chunk])
    assert lines + splitter.finish() == [b"a=1", BOM + b"b"]
    batches = list(line_batches(io.BytesIO(data), 10, batch_bytes=chunk, min_lines=1))
    assert [line for batch in batches for line in batch] == [b"a=1", BOM + b"b"]


def test_files_written_with_a_byte_order_mark_read_like_files_without(tmp_path):
    from tests.flowrun import run_flow_cli

    (tmp_path / "in.jsonl").write_bytes(BOM + b'{"a":1}\n{"a":2}\n')
    (tmp_path / "in.log").write_bytes(BOM + b"user=jane\n")
    flow = tmp_path / "bom.flow"
    flow.write_text(
        'pipeline j = source file("in.jsonl", format=json) | sink file("j.jsonl")\n'
        'pipeline l = source file("in.log", format=lines) | parse(kv) | sink file("l.jsonl")\n'
        'pipeline e = from j.errors | sink file("errors.jsonl")\n'
    )
    done = run_flow_cli(flow, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "j.jsonl").read_bytes() == b'{"a":1}\n{"a":2}\n'
    assert [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()] == [
        {"message": "user=jane", "user": "jane"}
    ]
    assert not (tmp_path / "errors.jsonl").exists() or not (tmp_path / "errors.jsonl").read_text()
