"""Properties of the line protocol the influx sink writes.

1. Whatever the values, a point either encodes to a line that an independent
   reader of the line protocol (below, after the InfluxDB reference) reads
   back equal, or the value is one the protocol cannot carry and encoding
   raises RecordError; nothing is altered to make it fit.
2. Through the real sink and a real server (victoria-metrics): what the sink
   accepted reads back equal — tags exactly, numbers to the database's
   precision — and what it did not accept is in its rejected list with a
   reason. The server makes points searchable about a second after a write,
   so every example is written first and all are read back once at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowlang.runtime.base import RecordError, StageContext
from flowlang.stages.influx import InfluxSink, encode_point

SPECIAL = list(",= \"\\'😀é\t\n\r\x00\x7f")
# characters drawn half the time from SPECIAL (st.text would merge the two
# alphabets and draw the special ones rarely)
texts = st.lists(st.sampled_from(SPECIAL) | st.characters(codec="utf-8"), max_size=12).map("".join)
numbers = (
    st.integers(-(2**63), 2**63 - 1)
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
)
field_values = st.none() | numbers | texts
tag_values = st.none() | texts | st.integers(-(10**6), 10**6) | st.booleans() | st.floats()
# text the protocol can carry, dense in the characters it must escape
carriable_texts = st.lists(
    st.sampled_from(list(",= \"\\'😀é"))
    | st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
    min_size=1,
    max_size=12,
).map("".join)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def carriable_name(text: str) -> bool:
    return text != "" and not CONTROL.search(text)


def carriable_field(value) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return "\n" not in value and "\r" not in value and len(value.encode()) <= 65535


def carriable_tag(value) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return carriable_name(tag_str(value))


def tag_str(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# ------------------------------------------------------------ a reference reader


def _split(text: str, seps: str) -> tuple[str, str, str]:
    """(head, separator, rest) at the first unescaped char of `seps` ('' if none)."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            i += 2
            continue
        if c in seps:
            return text[:i], c, text[i + 1 :]
        i += 1
    return text, "", ""


def _unescape(text: str, escapable: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in escapable:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _field_value(text: str):
    if text.startswith('"'):
        assert text.endswith('"') and len(text) >= 2
        return _unescape(text[1:-1], '"\\'), ""
    if text in ("true", "false"):
        return text == "true", ""
    if text.endswith("i"):
        return int(text[:-1]), ""
    return float(text), ""


def read_line(line: str):
    """(measurement, tags, fields, timestamp) of one line-protocol line."""
    assert "\n" not in line
    head, sep, rest = _split(line, ", ")
    measurement = _unescape(head, ", \\")
    tags = {}
    while sep == ",":
        pair, sep, rest = _split(rest, ", ")
        key, eq, value = _split(pair, "=")
        assert eq == "="
        tags[_unescape(key, ",= \\")] = _unescape(value, ",= \\")
    fields = {}
    body, sep, stamp = rest.rpartition(" ")
    while body:
        key, eq, body = _split(body, "=")
        assert eq == "="
        if body.startswith('"'):
            end = 1
            while body[end] != '"':
                end += 2 if body[end] == "\\" else 1
            raw, body = body[: end + 1], body[end + 2 :]
        else:
            raw, _, body = body.partition(",")
        fields[_unescape(key, ",= \\")] = _field_value(raw)[0]
    return measurement, tags, fields, int(stamp)


@settings(max_examples=200, deadline=None)
@given(
    measurement=texts,
    tags=st.dictionaries(texts, tag_values, max_size=3),
    fields=st.dictionaries(texts, field_values, max_size=3),
    stamp=st.integers(-(2**63), 2**63 - 1),
)
def test_a_point_reads_back_equal_or_is_refused(measurement, tags, fields, stamp):
    present_tags = {k: tag_str(v) for k, v in tags.items() if v is not None}
    present_fields = {k: v for k, v in fields.items() if v is not None}
    carriable = (
        carriable_name(measurement)
        and all(carriable_name(k) and carriable_tag(tags[k]) for k in present_tags)
        and all(carriable_name(k) and carriable_field(v) for k, v in present_fields.items())
        and bool(present_fields)
    )
    try:
        line = encode_point(measurement, list(tags.items()), list(fields.items()), stamp)
    except RecordError:
        assert not carriable
        return
    assert carriable
    got = read_line(line.decode("utf-8"))
    assert got == (measurement, present_tags, present_fields, stamp)


# ------------------------------------------------------------ through the server


def test_what_reaches_victoria_metrics_reads_back_equal(victoria_metrics):
    prefix = "p" + uuid.uuid4().hex[:10]
    base = time.time_ns() // 1_000_000 * 1_000_000 - 3_600_000_000_000
    written: list[tuple[str, dict, int]] = []  # (measurement, record, timestamp ms)
    cases = iter(range(10**6))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        suffix=carriable_texts,
        records=st.lists(
            st.fixed_dictionaries(
                {
                    "t1": tag_values,
                    "t2": carriable_texts,
                    "n": st.integers(-(2**53), 2**53) | numbers,
                    "x": st.floats(-1e9, 1e9) | numbers,
                    "b": st.booleans(),
                    "s": field_values,
                }
            ),
            min_size=1,
            max_size=5,
        ),
    )
    def write_case(suffix, records):
        measurement = prefix + suffix
        for rec in records:
            rec["case"] = next(cases)
            rec["ts"] = dt.datetime.fromtimestamp(
                (base + rec["case"] * 1_000_000) / 1e9, dt.timezone.utc
            )
        ctx = StageContext("p", "influx (t.flow:1)", "t.flow:1")
        sink = InfluxSink(
            ctx,
            "b",
            measurement,
            tags=(("case",), ("t1",), ("t2",)),
            fields=(("n",), ("x",), ("b",), ("s",)),
            time=("ts",),
            url=victoria_metrics.url,
            retry_initial=0.01,
            retry_max=100,
        )

        async def run():
            await sink.start()
            try:
                return await sink.write([dict(r) for r in records])
            finally:
                await sink.close()

        rejected = asyncio.run(run())
        refused = {r.record["case"] for r in rejected}
        for rec in records:
            ok = all(v is None or carriable_tag(v) for v in (rec["t1"], rec["t2"])) and all(
                v is None or carriable_field(v) for v in (rec["n"], rec["x"], rec["s"])
            )
            # refused exactly when the protocol cannot carry it (the server refuses nothing)
            assert (rec["case"] in refused) == (not ok), rec
            if ok:
                written.append((measurement, rec, (base + rec["case"] * 1_000_000) // 1_000_000))

    write_case()
    expected = {}
    for measurement, rec, ms in written:
        tags = {"case": str(rec["case"])}
        tags.update({k: tag_str(rec[k]) for k in ("t1", "t2") if rec[k] is not None})
        for name in ("n", "x", "b"):
            if rec[name] is not None and not isinstance(rec[name], str):
                expected[(f"{measurement}_{name}", tags["case"])] = (
                    tags,
                    float(rec[name]),
                    ms,
                )
    got = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = victoria_metrics.export('{__name__=~"%s.*"}' % prefix)
        got = {}
        for row in rows:
            metric = dict(row["metric"])
            name = metric.pop("__name__")
            for value, ts in zip(row["values"], row["timestamps"]):
                got[(name, metric.get("case"))] = (metric, value, ts)
        if len(got) >= len(expected):
            break
        time.sleep(0.3)
    assert set(got) >= set(expected), sorted(set(expected) - set(got))[:5]
    for key, (tags, value, ms) in expected.items():
        got_tags, got_value, got_ms = got[key]
        assert got_tags == tags, key
        assert got_ms == ms, key
        # victoria-metrics keeps about 12 significant digits of a float
        assert math.isclose(got_value, value, rel_tol=1e-11, abs_tol=1e-12), (
            key,
            value,
            got_value,
        )
