"""Coercion against type descriptors: the documented rules, the error
messages, and the laws (coercing a coerced value changes nothing; a value
already of the right run-time type is accepted as it is)."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import RecordError
from flowlang.runtime.coerce import coercer, describe

UTC = dt.timezone.utc


def test_time_from_iso_8601_and_epoch_seconds_is_aware_utc():
    c = coercer("time")
    assert c("2024-03-01T12:00:00Z") == dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert c("2024-03-01T14:00:00+02:00") == dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert c("2024-03-01T12:00:00") == dt.datetime(2024, 3, 1, 12, tzinfo=UTC)  # naive: UTC
    assert c(1709294400) == dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert c(1709294400.5) == dt.datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert c("2024-03-01T12:00:00Z").tzinfo is UTC


def test_ip_is_canonical_text():
    c = coercer("ip")
    assert c("2001:DB8:0:0:0:0:0:1") == "2001:db8::1"
    assert c(" 10.0.0.1 ") == "10.0.0.1"
    with pytest.raises(RecordError, match='expected ip, got str "10.0.0.256"'):
        c("10.0.0.256")


def test_numbers_bools_and_durations():
    assert coercer("int")(3.0) == 3 and type(coercer("int")(3.0)) is int
    assert coercer("float")(2) == 2.0 and type(coercer("float")(2)) is float
    assert coercer("duration")(1.5) == dt.timedelta(seconds=1.5)
    assert coercer("duration")("250ms") == dt.timedelta(milliseconds=250)
    with pytest.raises(RecordError, match="expected int, got float 3.5"):
        coercer("int")(3.5)
    with pytest.raises(RecordError, match="expected int, got bool true"):
        coercer("int")(True)
    with pytest.raises(RecordError, match="expected bool, got int 1"):
        coercer("bool")(1)
    with pytest.raises(RecordError, match='expected int, got str "7"'):
        coercer("int")("7")


def test_text_mode_reads_numbers_and_booleans_from_strings():
    assert coercer("int", from_text=True)(" 7 ") == 7
    assert coercer("float", from_text=True)("2.5") == 2.5
    assert coercer("bool", from_text=True)("TRUE") is True
    assert coercer("time", from_text=True)("1709294400") == dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
    with pytest.raises(RecordError):
        coercer("float", from_text=True)("nan")


RECORD = (
    "{}",
    False,
    (
        ("ts", "time"),
        ("a", ("{}", True, (("b", "int"),))),
        ("tags", ("[]", "str")),
        ("note", ("?", "str")),
    ),
)


def test_records_name_the_failing_field_path():
    c = coercer(RECORD)
    good = {"ts": 0, "a": {"b": 1.0, "extra": "kept"}, "tags": ["x"]}
    assert c(good) == {
        "ts": dt.datetime(1970, 1, 1, tzinfo=UTC),
        "a": {"b": 1, "extra": "kept"},
        "tags": ["x"],
        "note": None,  # a missing nullable field is null
    }
    with pytest.raises(RecordError) as info:
        c({"ts": 0, "a": {"b": "x"}, "tags": []})
    assert info.value.code == "schema"
    assert info.value.message == 'field `a.b`: expected int, got str "x"'
    with pytest.raises(RecordError, match=r"field `tags\[1\]`: expected str, got int 2"):
        c({"ts": 0, "a": {"b": 1}, "tags": ["a", 2]})
    with pytest.raises(RecordError, match="field `a.b`: missing, expected int"):
        c({"ts": 0, "a": {}, "tags": []})
    with pytest.raises(RecordError, match="field `other`: not in the closed record"):
        c({"ts": 0, "a": {"b": 1}, "tags": [], "other": 1})


def test_describe_writes_flowlang_syntax():
    assert describe(RECORD) == "{ts: time, a: {b: int, ..}, tags: [str], note: str?}"


def test_unknown_descriptors_are_refused_when_compiling():
    with pytest.raises(ValueError):
        coercer("integer")


# --- laws -------------------------------------------------------------------------

PRIMS = ("str", "int", "float", "bool", "time", "ip", "duration", "any")
NAMES = st.text(alphabet="abcdefgh_", min_size=1, max_size=5)

descriptors = st.recursive(
    st.sampled_from(PRIMS),
    lambda inner: st.one_of(
        st.tuples(
            st.just("?"),
            inner.filter(lambda d: not (isinstance(d, tuple) and d[0] == "?")),
        ),
        st.tuples(st.just("[]"), inner),
        st.tuples(
            st.just("{}"),
            st.booleans(),
            st.lists(st.tuples(NAMES, inner), max_size=4, unique_by=lambda f: f[0]).map(tuple),
        ),
    ),
    max_leaves=8,
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=8),
    st.sampled_from(
        [
            "10.0.0.1",
            "::1",
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05+01:00",
            "5s",
            "1.5m",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=4)),
    max_leaves=10,
)


def value_for(descriptor):
    """Values that often, but not always, fit the descriptor."""
    if isinstance(descriptor, str):
        typed = {
            "str": st.text(max_size=6),
            "int": st.integers(-(2**40), 2**40),
            "float": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000),
            "bool": st.booleans(),
            "time": st.integers(0, 4_000_000_000)
            | st.sampled_from(["2024-01-02T03:04:05Z", "1999-12-31T23:59:59-05:00"]),
            "ip": st.ip_addresses().map(str),
            "duration": st.floats(-1e6, 1e6) | st.sampled_from(["250ms", "2h"]),
            "any": json_values,
        }[descriptor]
        return typed | json_scalars
    if descriptor[0] == "?":
        return st.none() | value_for(descriptor[1])
    if descriptor[0] == "[]":
        return st.lists(value_for(descriptor[1]), max_size=3)
    fields = {name: value_for(d) for name, d in descriptor[2]}
    return st.fixed_dictionaries({}, optional=fields) | json_values


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_coercion_is_idempotent(data):
    descriptor = data.draw(descriptors)
    value = data.draw(value_for(descriptor))
    coerce = coercer(descriptor)
    try:
        once = coerce(value)
    except RecordError as exc:
        assert exc.code == "schema"
        return
    assert coerce(once) == once


@settings(max_examples=100, deadline=None)
@given(st.ip_addresses())
def test_ip_canonical_text_round_trips(address):
    text = coercer("ip")(str(address).upper())
    assert ipaddress.ip_address(text) == address
    assert coercer("ip")(text) == text


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        timezones=st.integers(-14 * 60, 14 * 60).map(
            lambda m: dt.timezone(dt.timedelta(minutes=m))
        ),
        min_value=dt.datetime(1900, 1, 2),
        max_value=dt.datetime(2200, 1, 1),
    )
)
def test_time_from_iso_text_is_the_same_instant_in_utc(moment):
    parsed = coercer("time")(moment.isoformat())
    assert parsed.tzinfo is UTC
    assert parsed == moment
