"""parse: the case files in parse_cases/ (one per format, malformed and hostile
inputs included), run on the stage and through compiled pipelines."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.checker import check
from flowlang.parser import parse as parse_flow
from flowlang.runtime import jsonl, times
from flowlang.runtime.base import RecordError
from flowlang.runtime.lines import MAX_LINE
from flowlang.source import SourceFile
from flowlang.stages.parse import compile_regex
from flowlang.types import ANY, INT, STR, Nullable
from tests.flowrun import CompileFailed, run_flow
from tests.stages.stagebind import make_stage

CASES = Path(__file__).parent / "parse_cases"
FILES = sorted(CASES.glob("*.json"))


def expand(value):
    """Case-file shorthand: a list holding {"repeat": s, "times": n} pieces is one
    string; {"repeat_list": v, "times": n} is a list of n times v."""
    if isinstance(value, dict):
        if set(value) == {"repeat", "times"}:
            return value["repeat"] * value["times"]
        if set(value) == {"repeat_list", "times"}:
            return [expand(value["repeat_list"])] * value["times"]
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        if any(isinstance(v, dict) and set(v) == {"repeat", "times"} for v in value):
            return "".join(expand(v) for v in value)
        return [expand(v) for v in value]
    return value


@functools.cache
def case_file(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))


@functools.cache
def stage_of(name: str):
    data = case_file(name)
    return make_stage(data["stage"], data.get("schema", ""))


def input_of(case: dict):
    return expand(case["text"]) if "text" in case else case["value"]


def all_cases():
    for path in FILES:
        for i, case in enumerate(case_file(path.stem)["cases"]):
            yield pytest.param(path.stem, i, id=f"{path.stem}:{case['name']}")


def test_every_format_has_case_files_with_hostile_inputs():
    stems = {p.stem for p in FILES}
    assert {"json", "kv", "csv", "regex", "combined", "grok", "grok_combined"} <= stems
    for stem in ("json", "kv", "csv", "regex", "combined", "grok", "grok_combined"):
        names = " ".join(c["name"] for c in case_file(stem)["cases"])
        for hostile in ("NUL", "U+FFFD", "1 MB", "CRLF"):
            assert hostile in names, f"{stem}.json has no {hostile} case"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "index"), list(all_cases()))
def test_case(name, index):
    case = case_file(name)["cases"][index]
    times.use_clock(clock_of(case_file(name)))
    try:
        _check_case(name, case)
    finally:
        times.use_clock(None)


def clock_of(data: dict):
    """A case file's `now` (for formats whose times have no year), as a clock."""
    if "now" not in data:
        return None
    when = dt.datetime.fromisoformat(data["now"].replace("Z", "+00:00"))
    return lambda: when


def _check_case(name, case):
    value = input_of(case)
    rec = {"message": value}
    if "error" in case:
        with pytest.raises(RecordError) as raised:
            stage_of(name)(rec)
        assert raised.value.code == case["error"]["code"]
        assert case["error"]["message"] in raised.value.message
        if isinstance(value, str):
            assert raised.value.raw == value
    else:
        out = stage_of(name)(rec)
        expected = {"message": value, **expand(case["fields"])}
        assert jsonl.loads(jsonl.dumps(out)) == expected


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", [p.stem for p in FILES])
def test_case_file_through_a_compiled_pipeline(tmp_path, name):
    data = case_file(name)
    cases = data["cases"]
    program = (
        f"{data.get('schema', '')}\n"
        'source file("input.jsonl", format=json)\n'
        f"  | {data['stage']}\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [{"message": input_of(c)} for c in cases]
    result = run_flow(program, tmp_path, records=records, clock=clock_of(data))
    assert result.exit_code == 0, result.stderr
    # the file source itself refuses input lines over its 1 MiB limit
    too_long = [len(jsonl.dumps(r)) > MAX_LINE for r in records]
    passed = [c for c, long in zip(cases, too_long) if "fields" in c and not long]
    wanted = [{"message": input_of(c), **expand(c["fields"])} for c in passed]
    assert result.output == [jsonl.loads(jsonl.dumps(r)) for r in wanted]
    limited = [e for e in result.errors if e["code"] == "limit"]
    assert len(limited) == sum(too_long)
    assert all(e["stage"].startswith("source file") for e in limited)
    failing = [c for c, long in zip(cases, too_long) if "error" in c and not long]
    parse_errors = [e for e in result.errors if e["code"] != "limit"]
    assert len(parse_errors) == len(failing)
    for error, case in zip(parse_errors, failing):
        assert error["code"] == case["error"]["code"]
        assert case["error"]["message"] in error["message"]
        assert error["stage"].startswith("parse(")
        if isinstance(input_of(case), str):
            assert error["raw"] == input_of(case)


# ---------------------------------------------------------------- hostile text, any format

HOSTILE = [
    "\0" * 64,
    "a\0b=c",
    "ok=1 \ufffd\ufffd",
    "\ufffd",
    "x" * (1 << 20),
    "\r\n" * 1000,
    "a=1\rb=2",
    '"' * 100_000,
    "\\" * 100_000,
    "{" * 100_000,
    "[" + "1," * 100_000,
    "\udc80\udcff surrogate escapes",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", [p.stem for p in FILES])
@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_hostile_text_never_crashes(name, index):
    text = HOSTILE[index]
    try:
        out = stage_of(name)({"message": text})
    except RecordError as exc:
        assert exc.message and exc.code in ("parse", "schema")
        assert exc.raw == text
    else:
        assert isinstance(out, dict) and out["message"] == text


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from([p.stem for p in FILES]), text=st.text(max_size=200))
def test_arbitrary_text_parses_or_goes_to_the_error_stream(name, text):
    try:
        out = stage_of(name)({"message": text})
    except RecordError as exc:
        assert exc.raw == text and exc.message
    else:
        assert out["message"] == text


KV_DELIMITERS = [(" ", "="), (",", ":"), ("&", "="), (";", "=>"), (" | ", ":")]


@settings(max_examples=200, deadline=None)
@given(
    delimiters=st.sampled_from(KV_DELIMITERS),
    pairs=st.dictionaries(
        st.text(
            alphabet=st.characters(
                blacklist_categories=("Cs", "Zs", "Cc"),
                blacklist_characters="=\"'\\\ufffd\x85\u2028\u2029\x1c\x1d\x1e\x1f,:&;>|",
            ),
            min_size=1,
            max_size=10,
        ),
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\ufffd"),
            max_size=20,
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_kv_reads_back_what_a_writer_quotes(delimiters, pairs):
    """Law: for any delimiters, pairs written with quoted values (backslash
    and quote escaped) read back as the same map."""
    field, value = delimiters

    def quote(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    line = field.join(f"{k}{value}{quote(v)}" for k, v in pairs.items())
    stage = make_stage(
        f"parse(kv(field_delimiter={field!r}, value_delimiter={value!r}))".replace("'", '"')
    )
    out = stage({"message": line})
    assert {k: out[k] for k in pairs} == pairs


# ---------------------------------------------------------------- regexes


@pytest.mark.timeout(30)
def test_catastrophic_pattern_does_not_stall():
    # ^(a|a)*$ backtracks 2^n ways in engines like Python's `re`; RE2 is linear
    stage = make_stage(r'parse(regex(r"^(?P<run>(a|a)*)$"))')
    for _ in range(1000):
        with pytest.raises(RecordError):
            stage({"message": "a" * 49 + "b"})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(?P<a>x)\1", "invalid escape sequence"),
        (r"(?P<a>x)(?=y)", "invalid perl operator"),
        (r"(?P<a>x{1001})", "bad repetition"),
        (r"(?P<a>[z-a])", "invalid character class range"),
        (r"(?P<a>unclosed", "missing )"),
    ],
)
def test_patterns_re2_cannot_compile_are_compile_time_errors(tmp_path, pattern, reason):
    with pytest.raises(ValueError, match="."):
        compile_regex(pattern)
    program = f'source stdin | parse(regex(r"{pattern}")) | sink stdout'
    with pytest.raises(CompileFailed, match=r"E306.*invalid regular expression"):
        run_flow(program, tmp_path, records=[])


def test_a_pattern_without_named_groups_is_a_compile_time_error(tmp_path):
    with pytest.raises(CompileFailed, match="no named groups"):
        run_flow('source stdin | parse(regex(r"a+")) | sink stdout', tmp_path, records=[])


def test_a_csv_delimiter_must_be_one_character(tmp_path):
    program = 'source stdin | parse(csv(columns=["a"], delimiter=";;")) | sink stdout'
    with pytest.raises(CompileFailed, match="one character"):
        run_flow(program, tmp_path, records=[])


def test_parsed_fields_are_typed_for_the_checker(tmp_path):
    # status is an int after parse(combined): arithmetic on it checks clean
    program = (
        'source file("input.jsonl", format=json)\n'
        "  | parse(combined)\n"
        "  | where status >= 500\n"
        "  | set kb = bytes ?? 0\n"
        '  | sink file("output.jsonl")\n'
    )
    lines = [
        '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 503 - "-" "-"',
        '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 10 "-" "-"',
    ]
    result = run_flow(program, tmp_path, records=[{"message": m} for m in lines])
    assert result.exit_code == 0, result.stderr
    assert [(r["status"], r["kb"]) for r in result.output] == [(503, 0)]


def test_nested_field_and_null_text(tmp_path):
    stage = make_stage("parse(kv, field=log.line)")
    assert stage({"log": {"line": "a=1"}})["a"] == "1"
    with pytest.raises(RecordError, match="`log.line` is null or missing"):
        stage({"log": None})


def test_hostile_bytes_from_a_real_file(tmp_path):
    """Bytes as a damaged log holds them, read by the file source and parsed."""
    good = b'192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"'
    lines = [
        good,
        good + b"\r",  # CRLF file
        b"\0" * 4096,  # pre-allocated space after a crash
        b"\0" * 8 + good,
        good.replace(b"ua", b"caf\xe9\xff"),  # not UTF-8
        b"x" * 1_000_000,  # long garbage, under the source's limit
        b"y" * (MAX_LINE + 10),  # over it
        good.replace(b"/ ", b"/" + b"a" * 900_000 + b" "),  # a long but valid request
        b"",
        good,
    ]
    (tmp_path / "access.log").write_bytes(b"\n".join(lines) + b"\n")
    program = (
        'source file("access.log", format=lines)\n'
        "  | parse(combined)\n"
        "  | drop message\n"
        '  | sink file("output.jsonl")\n'
    )
    result = run_flow(program, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert len(result.output) + len(result.errors) == len(lines)
    assert [len(r["path"]) for r in result.output] == [1, 1, 900_001, 1]
    reasons = [(e["code"], e["message"]) for e in result.errors]
    assert all(message for _, message in reasons)
    assert ("parse", "the text contains a NUL character") in reasons
    assert reasons.count(("parse", "the text contains a NUL character")) == 2
    assert ("limit" in {code for code, _ in reasons}) and ("decode" in {c for c, _ in reasons})
    metrics = result.metrics["test"]
    assert metrics["in"] == len(lines) and metrics["errors"] == len(result.errors)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('field_delimiter=",", value_delimiter=","', "must differ"),
        ('value_delimiter="=>", field_delimiter="="', "must differ"),
        ('field_delimiter=""', "cannot be empty"),
        ('value_delimiter="\'"', "quotes or backslashes"),
        ('whitespace="loose"', 'whitespace must be "lenient" or "strict"'),
    ],
)
def test_kv_options_that_cannot_work_are_compile_time_errors(options, message):
    from flowlang import codes
    from flowlang.checker import check_source
    from flowlang.source import SourceFile

    text = f"source stdin | parse(kv({options})) | sink stdout\n"
    plan, diags = check_source(SourceFile("kv.flow", text))
    assert plan is None
    assert [(d.code, message in d.message) for d in diags] == [(codes.BAD_ARG_VALUE, True)]


@pytest.mark.parametrize("depth", [0, -1, 129, 201])
def test_json_max_depth_outside_what_is_read_is_a_compile_time_error(depth):
    from flowlang import codes
    from flowlang.checker import check_source
    from flowlang.source import SourceFile

    text = f"source stdin | parse(json(max_depth={depth})) | sink stdout\n"
    plan, diags = check_source(SourceFile("json.flow", text))
    assert plan is None
    assert [(d.code, "max_depth must be between 1 and 128" in d.message) for d in diags] == [
        (codes.BAD_ARG_VALUE, True)
    ]


def test_a_regex_without_names_needs_numeric_groups():
    from flowlang import codes
    from flowlang.checker import check_source
    from flowlang.source import SourceFile

    def diagnostics(stage: str):
        text = f"source stdin | {stage} | sink stdout\n"
        return check_source(SourceFile("re.flow", text))[1]

    (d,) = diagnostics(r'parse(regex(r"(\d+)"))')
    assert d.code == codes.BAD_REGEX and "numeric_groups=true" in d.hint
    assert diagnostics(r'parse(regex(r"(\d+)", numeric_groups=true))') == []


def test_an_error_log_zone_that_does_not_exist_is_a_compile_time_error():
    from flowlang import codes
    from flowlang.checker import check_source
    from flowlang.source import SourceFile

    text = 'source stdin | parse(nginx_error(timezone="Europe/Prage")) | sink stdout\n'
    plan, diags = check_source(SourceFile("tz.flow", text))
    assert plan is None
    (d,) = diags
    assert d.code == codes.BAD_ARG_VALUE and 'did you mean "Europe/Prague"' in d.message


# ---------------------------------------------------------------- on_error=pass


def test_on_error_pass_keeps_records_and_counts_them_out(tmp_path):
    program = (
        'source file("input.jsonl", format=json)\n'
        '  | parse(csv(columns=["host", "status"]), on_error=pass)\n'
        "  | set failed = parse_error != null\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [{"message": "web-1,200"}, {"message": "a,b,c"}, {"message": None}]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    assert result.errors == []
    assert [(r["host"], r["failed"], r["parse_error"]) for r in result.output] == [
        ("web-1", False, None),
        (None, True, "expected at most 2 columns, got 3"),
        (None, True, "nothing to parse: `message` is null or missing"),
    ]
    stats = result.metrics["test"]
    assert (stats["in"], stats["out"], stats["dropped"], stats["errors"]) == (3, 3, 0, 0)


def test_on_error_pass_makes_the_parsed_fields_nullable(tmp_path):
    # client is str after parse(combined); with on_error=pass it may be null
    strict = 'source stdin | parse(combined) | set c = client + "!" | sink stdout'
    run_flow(strict, tmp_path, records=[])
    with pytest.raises(CompileFailed, match="client"):
        run_flow(strict.replace("parse(combined)", "parse(combined, on_error=pass)"), tmp_path)


def test_on_error_pass_types_the_reason_field():
    def parsed(stage: str, source: str = "stdin(format=json, schema=S)"):
        text = f"schema S {{ message: str, n: int }}\nsource {source} | {stage} | sink stdout\n"
        src = SourceFile("t.flow", text)
        plan, diags = check(parse_flow(src)[0], src)
        assert plan is not None and not diags, diags
        return plan.pipelines[0].steps[0].output_type

    out = parsed("parse(nginx_error, on_error=pass, error_field=why)")
    assert out.get("why") == Nullable(STR)
    assert out.get("pid") == Nullable(INT) and out.get("n") == INT
    assert out.get("message") == Nullable(STR)  # the text, or the parsed message
    # a text of unknown type is left as it was: what it was is not known
    assert parsed("parse(nginx_error, on_error=pass)", "stdin").get("message") == ANY
    assert parsed("parse(nginx_error)").get("message") == STR
    assert parsed("parse(kv)").get("parse_error") is None  # only with on_error=pass


def test_error_field_without_on_error_pass_is_a_compile_time_error(tmp_path):
    with pytest.raises(CompileFailed, match="only written with on_error=pass"):
        run_flow("source stdin | parse(kv, error_field=why) | sink stdout", tmp_path)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.none(), st.text(max_size=80)))
def test_on_error_pass_either_parses_as_error_would_or_marks_the_reason(text):
    """A record passes whole either way: what parses gives the same fields as
    on_error=error and a null reason; what does not keeps its text, with the
    reason the error stream would have had."""
    strict = make_stage('parse(csv(columns=["a", "b"]))')
    lenient = make_stage('parse(csv(columns=["a", "b"]), on_error=pass)')
    out = lenient({"message": text})
    try:
        expected = strict({"message": text})
    except RecordError as exc:
        assert out == {"message": text, "a": None, "b": None, "parse_error": exc.message}
    else:
        assert out == {**expected, "parse_error": None}


@settings(max_examples=150, deadline=None)
@given(
    when=st.datetimes(
        min_value=dt.datetime(1971, 1, 1),
        max_value=dt.datetime(2999, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    fmt=st.sampled_from(
        [
            "%Y-%m-%d %H:%M:%S",
            "%d/%b/%Y:%H:%M:%S %z",
            "%Y-%m-%dT%H:%M:%S%z",
            "%s",
            "%d.%m.%Y %H:%M:%S",
        ]
    ),
)
def test_combined_reads_back_a_time_format_time_writes(when, fmt):
    """parse(combined(time_format=F)) of a line whose time format_time wrote
    with F gives that time again (to the second, which F keeps)."""
    when = when.replace(microsecond=0)
    stage = make_stage(f"parse(combined(time_format={json.dumps(fmt)}))")
    text = times.format_time(when, fmt)
    line = f'10.0.0.1 - - [{text}] "GET / HTTP/1.1" 200 1 "-" "-"'
    assert stage({"message": line})["time"] == when


def _request_parts(request: str) -> tuple:
    """The request's method, path and protocol as documented: split on
    spaces; a first part that is a method, then a last that is a protocol."""
    import re

    parts = request.split(" ")
    if len(parts) < 2 or not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", parts[0], re.A):
        return None, None, None
    if len(parts) >= 3 and re.fullmatch(r"[A-Za-z][A-Za-z0-9.+-]*/[0-9][0-9.]*", parts[-1], re.A):
        return parts[0], " ".join(parts[1:-1]), parts[-1]
    return parts[0], " ".join(parts[1:]), None


@settings(max_examples=300, deadline=None)
@given(
    request=st.lists(
        st.sampled_from(["GET", "get", "/a", "?q=1", "HTTP/1.1", "H/2", "1/1", "-", "", "é", "\t"]),
        min_size=1,
        max_size=5,
    ).map(" ".join),
)
def test_combined_reads_any_request_as_method_path_and_protocol(request):
    # one match reads the common request; others are split and tested: both alike
    stage = make_stage("parse(combined)")
    line = f'10.0.0.1 - - [01/Mar/2024:10:00:00 +0000] "{request}" 200 1 "-" "-"'
    out = stage({"message": line})
    want = (None, None, None) if request == "-" else _request_parts(request)
    assert (out["method"], out["path"], out["protocol"]) == want
    assert out["request"] == (None if request == "-" else request)


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(min_value=dt.datetime(1000, 1, 2), max_value=dt.datetime(9998, 12, 30)),
    minutes=st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
def test_combined_reads_a_local_time_and_its_offset_as_the_instant_they_name(when, minutes):
    when = when.replace(microsecond=0)
    sign, m = ("-" if minutes < 0 else "+"), abs(minutes)
    text = when.strftime("%d/%b/%Y:%H:%M:%S ") + f"{sign}{m // 60:02d}{m % 60:02d}"
    stage = make_stage("parse(combined)")
    out = stage({"message": f'10.0.0.1 - - [{text}] "GET / HTTP/1.1" 200 1 "-" "-"'})
    zone = dt.timezone(dt.timedelta(minutes=minutes))
    assert out["time"] == when.replace(tzinfo=zone).astimezone(dt.UTC)
    assert out["time"].utcoffset() == dt.timedelta(0)


def test_a_combined_time_the_offset_moves_out_of_the_calendar_is_an_error():
    stage = make_stage("parse(combined)")
    with pytest.raises(RecordError, match="out of range"):
        stage({"message": '10.0.0.1 - - [01/Jan/0001:00:30:00 +0100] "GET / HTTP/1.1" 200 1'})
