"""`source http` and `sink http` as the checker sees them (`_http` typed,
bad arguments refused) and the source's body decoding, with a Hypothesis
law: an array body and an ndjson body of the same objects give the same
records, and every element is either a record or an error item."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowlang.checker import check
from flowlang.parser import parse
from flowlang.runtime.base import RecordError
from flowlang.source import SourceFile
from flowlang.stages.http_source import BodyDecoder


def codes_of(text: str) -> list[str]:
    src = SourceFile("t.flow", text)
    program, diags = parse(src)
    assert program is not None, diags
    _, diags = check(program, src)
    return [d.code for d in diags if d.is_error]


def test_http_metadata_is_typed():
    ok = 'source http(port=8080) | where _http.path == "/a" and _http.remote != "" | sink stdout'
    assert codes_of(ok) == []
    assert codes_of("source http(port=8080) | set x = _http.port | sink stdout") == ["E201"]
    lines = "source http(port=8080, format=lines) | set m = upper(message) | sink stdout"
    assert codes_of(lines) == []
    assert codes_of(lines.replace("upper(message)", "upper(other)")) == ["E201"]
    schema = (
        "schema Ev { kind: str, n: int }\n"
        'source http(port=8080, format=ndjson, schema=Ev) | where kind == "a" | sink stdout'
    )
    assert codes_of(schema) == []


@pytest.mark.parametrize(
    "args",
    [
        "port=70000",
        'port=80, path="events"',
        'port=80, path="/health"',
        "port=80, max_body=0",
        "port=80, timeout=0s",
        "port=80, max_connections=0",
    ],
)
def test_bad_source_arguments_are_errors(args):
    assert codes_of(f"source http({args}) | sink stdout") != []


def test_json_bodies():
    decode = BodyDecoder("json")
    assert decode(b'{"a": 1}') == ([{"a": 1}], [])
    records, failed = decode(b'[{"a": 1}, 2, {"b": 12345678901234567890123}]')
    assert records == [{"a": 1}, {"b": 12345678901234567890123}]
    assert [(f.error.code, f.raw) for f in failed] == [("parse", "2")]
    assert "element 1" in failed[0].error.message
    assert decode(b"[]") == ([], [])
    for body in (b"", b"  ", b"{", b"3", b'"x"', b"[1]", b"\xff"):
        with pytest.raises(RecordError):
            decode(body)
    deep = b"[" + b'{"a":' * 250 + b"1" + b"}" * 250 + b', {"ok": 1}]'
    records, failed = decode(deep)
    assert records == [{"ok": 1}] and failed[0].error.code == "limit"


def test_ndjson_and_lines_bodies():
    records, failed = BodyDecoder("ndjson")(b'{"a": 1}\r\n\nnot json\n{"b": 2}')
    assert records == [{"a": 1}, {"b": 2}]
    assert [(f.error.code, f.raw) for f in failed] == [("parse", "not json")]
    with pytest.raises(RecordError):
        BodyDecoder("ndjson")(b"nope\n[1]\n")
    assert BodyDecoder("ndjson")(b"") == ([], [])
    records, failed = BodyDecoder("lines")(b"one\r\ntwo\n\xff\n")
    assert records == [{"message": "one"}, {"message": "two"}]
    assert [f.error.code for f in failed] == ["decode"]


def test_schema_failures_are_error_items():
    from flowlang.types import INT, STR, RecordT, to_descriptor

    schema = to_descriptor(RecordT((("kind", STR), ("n", INT)), open=False))
    records, failed = BodyDecoder("json", schema)(b'[{"kind": "a", "n": 1}, {"kind": "b"}]')
    assert records == [{"kind": "a", "n": 1}]
    assert [f.error.code for f in failed] == ["schema"]
    with pytest.raises(RecordError):
        BodyDecoder("json", schema)(b'{"n": "x"}')


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.lists(JSON_VALUES, min_size=1, max_size=12))
def test_array_and_ndjson_bodies_agree(elements):
    array = json.dumps(elements).encode()
    lines = b"\n".join(json.dumps(e).encode() for e in elements)
    objects = [e for e in elements if isinstance(e, dict)]
    results = []
    for fmt, body in (("json", array), ("ndjson", lines)):
        try:
            records, failed = BodyDecoder(fmt)(body)
        except RecordError:
            assert not objects  # refused whole only when nothing decodes
            results.append(None)
            continue
        assert records == objects
        assert len(records) + len(failed) == len(elements)
        results.append(records)
    assert results[0] == results[1]
