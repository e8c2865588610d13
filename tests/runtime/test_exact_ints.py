"""Integers of any size stay exact from input to output (issue: beyond 64
bits orjson reads them as the nearest float, without a word)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flowlang.runtime import jsonl
from flowlang.runtime.decode import Decoder
from flowlang.runtime.jsonl import any_may_hold_long_int, may_hold_long_int
from tests.flowrun import run_flow, run_flow_cli

BIG = 123456789012345678901234567890


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from("abc"), st.integers() | st.text(max_size=3)),
        min_size=1,
        max_size=5,
    )
)
def test_the_json_decoder_keeps_every_integer_exactly(objects):
    lines = [json.dumps(obj).encode() for obj in objects]
    for fmt in ("json", "auto"):
        records, failed = Decoder(fmt, {}, None).decode(lines)
        assert failed == [] and records == objects
        for one in lines:  # one line at a time takes the thorough path
            assert Decoder(fmt, {}, None).decode([one])[0] == [json.loads(one)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.binary(max_size=30)
        | st.lists(st.integers(0, 10**30), max_size=4).map(
            lambda ns: b" ".join(str(n).encode() for n in ns)
        ),
        max_size=6,
    )
)
@example([b"x1234567890", b"123456789x"])  # ten digits, then nine on the next line
@example([b'{"a": 1234567890123456789}'])
def test_the_digit_scan_finds_exactly_the_runs_of_nineteen_digits(lines):
    # a run split over two lines is not one: each line is a document
    runs = [re.search(rb"[0-9]{19}", line) is not None for line in lines]
    assert [may_hold_long_int(line) for line in lines] == runs
    assert [may_hold_long_int(line.decode("latin-1")) for line in lines] == runs
    assert any_may_hold_long_int(lines) == any(runs)


def test_a_run_writes_big_integers_as_they_were_read_and_computes_on_them(tmp_path):
    (tmp_path / "input.jsonl").write_text(
        f'{{"id": {BIG}, "m": [18446744073709551616]}}\n'
        '{"id": -98765432109876543210, "m": []}\n{"id": 5, "m": [1]}\n'
        f'{{"id": 1, "m": [], "s": "{{\\"inner\\": {BIG}}}"}}\n'
    )
    (tmp_path / "big.flow").write_text(
        'pipeline big = source file("input.jsonl", format=json)\n'
        "  | set next = id + 1\n"
        '  | sink file("output.jsonl")\n'
    )
    done = run_flow_cli(tmp_path / "big.flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    lines = (tmp_path / "output.jsonl").read_text().splitlines()
    out = [json.loads(line) for line in lines]
    assert [r["id"] for r in out] == [BIG, -98765432109876543210, 5, 1]
    assert [r["next"] for r in out] == [BIG + 1, -98765432109876543209, 6, 2]
    assert out[0]["m"] == [18446744073709551616]
    assert str(BIG) in lines[0] and "e+" not in lines[0]


HUGE = 7 * 10**400  # beyond a double: orjson refuses the number outright


@pytest.mark.parametrize("big", [BIG, HUGE])
def test_parse_json_keeps_big_integers_exactly(tmp_path, big):
    result = run_flow(
        'pipeline p = source file("input.jsonl", format=json)\n'
        "  | parse(json, field=raw)\n"
        '  | sink file("output.jsonl")\n',
        tmp_path,
        records=[{"raw": json.dumps({"inner": big})}],
    )
    assert result.exit_code == 0, result.stderr
    assert [r.get("inner") for r in result.output] == [big]


def test_an_integer_beyond_a_double_is_json_and_reads_back_exactly():
    written = [{"id": HUGE, "m": [-HUGE, 1]}, {"id": 2, "m": []}]
    lines = [jsonl.dumps(rec) for rec in written]  # what a file sink writes
    records, failed = Decoder("json", {}, None).decode(lines)
    assert failed == [] and records == written
    assert jsonl.loads(lines[0]) == written[0]


@pytest.mark.parametrize(
    "line",
    [b'{"v": 1e400}', b'{"v": NaN, "w": 12345678901234567890}', b'{"v": 1' + b"0" * 400 + b", x}"],
)
def test_what_json_does_not_allow_stays_refused_beside_a_long_integer(line):
    records, (item,) = Decoder("json", {}, None).decode([line])
    assert records == [] and item.error.code == "parse"
    assert item.error.message.startswith("invalid JSON")


def test_a_deep_document_with_a_long_integer_is_refused_for_its_depth():
    deep = b"[" * 1000 + b"12345678901234567890" + b"]" * 1000
    records, (item,) = Decoder("json", {}, None).decode([b'{"a": ' + deep + b"}"])
    assert records == [] and "nested deeper than" in item.error.message
