"""The checker's typing rules and the plan it produces."""

from __future__ import annotations

import pytest

from flowlang import ast, codes, ir
from flowlang.checker import check, check_source, pipeline_name_for_file
from flowlang.codegen.calls import runtime_args
from flowlang.source import NO_SPAN, SourceFile
from flowlang.stages.spec import EnvRef
from flowlang.types import (
    ANY,
    BOOL,
    DURATION,
    ERROR_RECORD,
    FLOAT,
    INT,
    IP,
    STR,
    TIME,
    ListT,
    Nullable,
    RecordT,
    to_descriptor,
)

SEED = 'source file("x.log") | geoip | anonymize(email) | sink elastic("idx")'


@pytest.fixture(autouse=True)
def _no_anon_key(monkeypatch):
    monkeypatch.delenv("FLOW_ANON_KEY", raising=False)


def checked(text: str, name: str = "t.flow") -> tuple[ir.Plan | None, list]:
    return check_source(SourceFile(name, text))


def plan_of(text: str, name: str = "t.flow") -> ir.Plan:
    plan, diags = checked(text, name)
    errors = [f"{d.code} {d.message}" for d in diags if d.is_error]
    assert plan is not None and not errors, errors
    return plan


def codes_of(text: str) -> list[str]:
    return [d.code for d in checked(text)[1]]


def pipeline(plan: ir.Plan, name: str) -> ir.PipelinePlan:
    return next(p for p in plan.pipelines if p.name == name)


def step_types(text: str, name: str = "t") -> dict[str, object]:
    """The output record type of a one-pipeline program, as a dict."""
    return dict(pipeline(plan_of(text), name).output_type.fields)


def set_types(prelude: str, assignments: str) -> dict[str, object]:
    """Types of the fields a `set` stage assigns, after `prelude` schemas."""
    text = f"{prelude}\nsource stdin(format=json, schema=R) | set {assignments} | sink stdout"
    return step_types(text)


R = (
    "schema R { i: int, f: float, s: str, b: bool, t: time, d: duration, ip: ip,"
    " ni: int?, ns: str?, xs: [int], rec: {a: int}, nrec: {a: int, b: str}? }"
)


# ---------------------------------------------------------------- the seed


@pytest.mark.parametrize("key", [None, "k"])
def test_seed_checks_clean_whether_or_not_the_key_is_set(monkeypatch, key):
    # checking is a function of the text: the key is the run's business (W501)
    if key is None:
        monkeypatch.delenv("FLOW_ANON_KEY", raising=False)
    else:
        monkeypatch.setenv("FLOW_ANON_KEY", key)
    plan, diags = checked(SEED)
    assert plan is not None and diags == []


def test_seed_plan_binds_arguments_with_defaults():
    plan = plan_of(SEED, "access-log.flow")
    (p,) = plan.pipelines
    assert p.name == "access_log" and plan.file == "access-log.flow"
    assert isinstance(p.head, ir.CallStep) and p.head.role == "source"
    head = dict(p.head.args)
    assert head["path"] == "x.log" and head["format"] == ir.Choice("auto")
    assert head["schema"] is None and head["follow"] is False
    geoip, anonymize, elastic = p.steps
    assert dict(geoip.args) == {"field": ("ip",), "into": "geo", "db": None}
    assert [k for k, _ in geoip.args] == ["field", "into", "db"]
    anon = dict(anonymize.args)
    assert anon["field"] == ("email",) and anon["method"] == ir.Choice("hash")
    assert isinstance(anon["key"], EnvRef) and anon["key"].name == "FLOW_ANON_KEY"
    sink = dict(elastic.args)
    assert elastic.role == "sink" and sink["index"] == "idx"
    assert sink["url"] == EnvRef("FLOW_ELASTIC_URL", "http://localhost:9200")
    assert elastic.output_type is None and elastic.input_type == p.output_type
    geo = p.output_type.get("geo")
    assert isinstance(geo, Nullable) and geo.inner.get("city") == Nullable(STR)


def test_step_info_labels_and_lines():
    text = (
        "pipeline p =\n"
        '  source file("x.log")   # the input\n'
        "  | set a = 1,   # first\n"
        "        b = 2\n"
        '  | where message == "' + "x" * 80 + '"\n'
        "  | sink stdout\n"
    )
    p = pipeline(plan_of(text), "p")
    assert p.line == 1
    assert p.head.info == ir.StepInfo(0, 'source file("x.log")', 2)
    set_step, where, sink = p.steps
    assert set_step.info == ir.StepInfo(1, "set a = 1, b = 2", 3)
    assert len(where.info.label) == 60 and where.info.label.endswith("…")
    assert where.info.label.startswith('where message == "xxx')
    assert (where.info.index, where.info.line) == (2, 5)
    assert sink.info == ir.StepInfo(3, "sink stdout", 6)


@pytest.mark.parametrize(
    "filename, name",
    [
        ("access-log.flow", "access_log"),
        ("dir/web.flow", "web"),
        ("2024 logs.flow", "_2024_logs"),
        ("source.flow", "source_"),
        ("plain", "plain"),
    ],
)
def test_unnamed_chain_is_named_after_the_file(filename, name):
    assert pipeline_name_for_file(filename) == name
    assert plan_of("source stdin | sink stdout", filename).pipelines[0].name == name


# ---------------------------------------------------------------- pipelines


FANOUT = """
pipeline alerts = from enriched | where level == "ERROR" | sink stdout
pipeline failures = from raw.errors | sink stdout
pipeline enriched = from raw | set level = upper(level ?? "info")
pipeline raw = source file("in.log", format=json) | set n = 1
pipeline other = source stdin | sink null
"""


def test_pipelines_come_in_dependency_order_ties_in_source_order():
    plan = plan_of(FANOUT)
    assert [p.name for p in plan.pipelines] == [
        "raw",
        "failures",
        "enriched",
        "alerts",
        "other",
    ]


def test_readers_and_error_readers_are_filled():
    plan = plan_of(FANOUT)
    raw = pipeline(plan, "raw")
    assert raw.readers == ("enriched",) and raw.error_readers == ("failures",)
    assert pipeline(plan, "enriched").readers == ("alerts",)
    assert pipeline(plan, "alerts").readers == ()


def test_from_reads_the_producers_output_type_and_errors_type():
    plan = plan_of(FANOUT)
    raw, enriched = pipeline(plan, "raw"), pipeline(plan, "enriched")
    assert raw.output_type.get("n") == INT
    assert isinstance(enriched.head, ir.FromStep) and enriched.head.output_type == raw.output_type
    failures = pipeline(plan, "failures")
    assert failures.head.errors and failures.head.output_type == ERROR_RECORD
    # `any` may be null at run time, so a function of it may give null
    assert enriched.output_type.get("level") == Nullable(STR)


def test_a_pipeline_may_have_a_sink_and_readers():
    plan = plan_of("pipeline a = source stdin | sink stdout\npipeline b = from a | sink null")
    assert pipeline(plan, "a").readers == ("b",)


def test_error_readers_alone_do_not_consume_a_pipeline():
    text = "pipeline a = source stdin | set x = 1\npipeline b = from a.errors | sink null"
    assert codes_of(text) == [codes.NO_SINK]


def test_cycle_is_reported_once_and_stops_the_plan():
    plan, diags = checked("pipeline a = from b | sink stdout\npipeline b = from a")
    assert plan is None
    assert [d.code for d in diags] == [codes.CYCLE]
    assert "`a` → `b` → `a`" in diags[0].message


def test_unknown_pipeline_suggests_a_name():
    (d,) = checked("pipeline web = source stdin | sink stdout\npipeline b = from wbe | sink null")[
        1
    ]
    assert d.code == codes.UNKNOWN_PIPELINE and d.hint == "did you mean `web`?"


# ---------------------------------------------------------------- schemas


def test_schema_types_resolve_nested_schemas_in_any_order():
    text = (
        "schema Outer { inner: Inner?, tags: [str], extra: {k: int, ..}, `user-agent`: str }\n"
        "schema Inner { lat: float }\n"
        "source stdin(format=json, schema=Outer) | sink stdout"
    )
    p = plan_of(text).pipelines[0]
    out = p.output_type
    assert out.get("inner") == Nullable(RecordT((("lat", FLOAT),)))
    assert out.get("tags") == ListT(STR)
    assert out.get("extra") == RecordT((("k", INT),), open=True)
    assert out.get("user-agent") == STR and not out.open
    assert out.name == "Outer"


def test_schema_argument_is_its_type_in_the_plan_and_a_descriptor_at_run_time():
    text = "schema S { a: int, b: str? }\nsource stdin(format=json, schema=S) | sink stdout"
    p = plan_of(text).pipelines[0]
    schema = RecordT((("a", INT), ("b", Nullable(STR))))
    assert dict(p.head.args)["schema"] == schema
    assert dict(runtime_args(p.head))["schema"] == to_descriptor(schema)
    assert p.head.output_type == schema


# ---------------------------------------------------------------- arguments


def test_value_arguments_are_converted():
    text = (
        'source stdin(format=csv(delimiter=";"))\n'
        "| dedup([user, geo.city], within=1m)\n"
        "| anomaly(latency, threshold=4, method=ewma(alpha=0.5), window=5, by=host)\n"
        '| parse(csv(columns=["a", "b"]), field=line)\n'
        '| sink file(env("OUT"))'
    )
    p = plan_of(text).pipelines[0]
    assert dict(p.head.args)["format"] == ir.Choice(
        "csv", (("header", True), ("delimiter", ";"), ("columns", None))
    )
    dedup, anomaly, parse, sink = p.steps
    assert dict(dedup.args)["fields"] == (("user",), ("geo", "city"))
    assert dict(dedup.args)["within"] == 60_000 and dedup.may_drop
    args = dict(anomaly.args)
    assert args["threshold"] == 4.0 and isinstance(args["threshold"], float)
    assert args["method"] == ir.Choice("ewma", (("alpha", 0.5),))
    assert args["window"] == 5 and args["by"] == (("host",),)
    parsed = dict(parse.args)
    assert parsed["format"] == ir.Choice("csv", (("columns", ("a", "b")), ("delimiter", ",")))
    assert parsed["field"] == ("line",)
    assert dict(sink.args)["path"] == EnvRef("OUT", None)


def test_choice_args_follow_choices_whose_options_take_arguments():
    # at run time, `<param>_args` follows a choice only when some option takes arguments
    p = plan_of('source file("x") | parse(combined) | sink stdout(format=pretty)').pipelines[0]
    parse, sink = p.steps
    assert [k for k, _ in parse.args] == ["format", "field", "schema", "on_error", "error_field"]
    args = runtime_args(parse)
    assert [k for k, _ in args][:4] == ["format", "format_args", "field", "schema"]
    assert dict(args)["format"] == "combined"
    # combined's options, with their defaults filled in
    assert dict(args)["format_args"] == {"time_format": None, "timezone": "UTC"}
    assert runtime_args(sink) == (("format", "pretty"),)
    head = [k for k, _ in runtime_args(p.head)]
    assert head == [
        "path",
        "format",
        "format_args",
        "schema",
        "follow",
        "start",
        "path_field",
        "host_field",
    ]
    csv = plan_of('source file("x", format=csv(delimiter=";")) | sink stdout').pipelines[0]
    assert dict(runtime_args(csv.head))["format_args"] == {
        "header": True,
        "delimiter": ";",
        "columns": None,
    }


def test_parse_combined_types_its_fields():
    p = plan_of('source file("a.log", format=lines) | parse(combined) | sink stdout').pipelines[0]
    out = p.output_type
    # parts a server may leave out (`"-"` request, status `-`, a host name) are nullable
    assert out.get("status") == Nullable(INT) and out.get("ip") == Nullable(IP)
    assert out.get("client") == STR and out.get("time") == TIME
    assert out.get("method") == Nullable(STR) and out.get("request") == Nullable(STR)
    assert out.get("message") == STR and not out.open


def test_argument_errors_are_all_reported():
    found = codes_of(
        'source file("x", bogus=1, follow="no") | anonymize(email, method=scramble)'
        ' | geoip(ip, geo, "db", 4) | sink elastic(index)'
    )
    assert sorted(found) == sorted(
        [
            codes.UNKNOWN_PARAM,
            codes.BAD_ARG_VALUE,
            codes.UNKNOWN_OPTION,
            codes.TOO_MANY_ARGS,
            codes.NOT_CONSTANT,
        ]
    )


def test_negative_numbers_are_constants():
    plan, diags = checked("source stdin | anomaly(x, window=-1) | sink stdout")
    # bound as the int -1: the stage's own rule then rejects it, naming the parameter
    assert [(d.code, d.message) for d in diags] == [
        (codes.BAD_ARG_VALUE, "`window` must be at least 2 values")
    ]


def test_null_is_accepted_where_the_default_is_none():
    p = plan_of('source stdin | geoip(db=null) | sink elastic("i", id=null)').pipelines[0]
    assert dict(p.steps[0].args)["db"] is None and dict(p.steps[1].args)["id"] is None


def test_set_is_sequential_and_creates_records():
    types = set_types(R, "a = i + 1, b = a * 2.0, n.m.k = s, i = s")
    assert types["a"] == INT and types["b"] == FLOAT and types["i"] == STR
    assert types["n"] == RecordT((("m", RecordT((("k", STR),))),))


def test_set_through_a_nullable_record_makes_the_record_non_null():
    types = set_types(R, 'nrec.b = "x"')
    assert types["nrec"] == RecordT((("a", Nullable(INT)), ("b", STR)))


def test_drop_keep_rename_types():
    text = f"{R}\nsource stdin(format=json, schema=R)"
    out = step_types(text + " | drop s, rec.a | rename i as j, nrec.b as nrec.c | sink stdout")
    assert "s" not in out and out["rec"] == RecordT(())
    assert out["j"] == INT and "i" not in out
    assert out["nrec"] == Nullable(RecordT((("a", INT), ("c", STR))))
    kept = pipeline(plan_of(text + " | keep i, nrec.a | sink stdout"), "t").output_type
    assert kept == RecordT((("i", INT), ("nrec", Nullable(RecordT((("a", INT),))))))


def test_keep_of_an_open_record_is_closed_with_any_for_unknown_fields():
    out = pipeline(plan_of("source stdin | set a = 1 | keep a, b | sink stdout"), "t").output_type
    assert out == RecordT((("a", INT), ("b", ANY))) and not out.open


def test_relational_errors():
    text = f"{R}\nsource stdin(format=json, schema=R)"
    assert codes_of(text + " | drop zz | sink stdout") == [codes.UNKNOWN_FIELD]
    assert codes_of(text + " | rename i as s | sink stdout") == [codes.FIELD_EXISTS]
    assert codes_of(text + " | keep i, i | sink stdout") == [codes.DUPLICATE_FIELD]
    assert codes_of(text + " | where i.x == 1 | sink stdout") == [codes.NOT_A_RECORD]


# ---------------------------------------------------------------- expressions


def test_expression_types():
    types = set_types(
        R,
        "div = i / 2, mod = i % 2, fmod = f % 2, gap = t - t, later = t + d, earlier = t - 1s,"
        " dd = d + d, neg = -d, cat = s + s, dflt = ni ?? 0, nn = ns ?? null,"
        " pick = if b then i else f, lst = [1, 2.5], cmp = i < f, has = i in xs,"
        ' sub = "a" in s, m = s =~ r"^a", nul = null, eq = ip == "10.0.0.1"',
    )
    assert types["div"] == FLOAT and types["mod"] == INT and types["fmod"] == FLOAT
    assert types["gap"] == DURATION and types["later"] == TIME and types["earlier"] == TIME
    assert types["dd"] == DURATION and types["neg"] == DURATION and types["cat"] == STR
    assert types["dflt"] == INT and types["nn"] == Nullable(STR)
    assert types["pick"] == FLOAT and types["lst"] == ListT(FLOAT)
    assert all(types[k] == BOOL for k in ("cmp", "has", "sub", "m", "eq"))
    assert str(types["nul"]) == "null"


def test_any_is_checked_at_run_time():
    types = step_types("source stdin | set a = x + 1, b = x / y, c = x.y.z, d = -x | sink stdout")
    assert types["a"] == ANY and types["b"] == Nullable(FLOAT) and types["c"] == ANY
    assert types["d"] == ANY


def test_function_return_types_follow_nullability():
    types = set_types(
        R,
        "a = lower(s), b = lower(ns), c = len(xs), d = to_int(s), e = now(),"
        ' f = parse_time(s, format="%Y"), g = contains(xs, 1), h = env("A"), k = env("A", "b")',
    )
    assert types["a"] == STR and types["b"] == Nullable(STR) and types["c"] == INT
    assert types["d"] == INT and types["e"] == TIME and types["f"] == TIME
    assert types["g"] == BOOL and types["h"] == Nullable(STR) and types["k"] == STR


def test_defaults_of_null_do_not_make_a_result_nullable():
    # parse_time's format and timezone default to null, which means ISO 8601 and UTC
    types = set_types(
        R,
        'a = parse_time(s, timezone="Europe/Prague"), b = parse_time(s, ns),'
        ' c = parse_time(ns, timezone="UTC"), d = parse_time(s, null, ns)',
    )
    assert types["a"] == TIME and types["b"] == TIME and types["d"] == TIME
    assert types["c"] == Nullable(TIME)


def test_a_literal_time_zone_is_checked():
    text = f"{R}\nsource stdin(format=json, schema=R)"
    assert codes_of(f'{text} | set t = parse_time(s, "%b %d", "Mars/Olympus") | sink stdout') == [
        codes.BAD_ARG_VALUE
    ]
    assert codes_of(f"{text} | set t = parse_time(s, timezone=s) | sink stdout") == []


def test_function_calls_are_lowered():
    text = (
        f"{R}\nsource stdin(format=json, schema=R)"
        ' | set a = parse_time(format="%Y", s=s), h = env("A") | sink stdout'
    )
    set_step, _ = pipeline(plan_of(text), "t").steps
    (_, parse_time), (_, env) = set_step.assignments
    assert parse_time == ir.Call(
        "parse_time", (ir.FieldRef(("s",), STR), ir.Literal("%Y", STR)), TIME
    )
    assert env == ir.EnvCall("A", None, Nullable(STR))


def test_where_conditions():
    text = f"{R}\nsource stdin(format=json, schema=R)"
    for ok in ("b", "ns == null", "not b", "ni > 1", "b and i > 0", "nrec.a > 1"):
        assert codes_of(f"{text} | where {ok} | sink stdout") == [], ok
    assert codes_of(f"{text} | where i | sink stdout") == [codes.NOT_BOOL]
    assert codes_of("source stdin | where x | sink stdout") == []  # any
    assert codes_of(f"{text} | where false | sink stdout") == [codes.UNREACHABLE]


def test_typing_errors():
    text = f"{R}\nsource stdin(format=json, schema=R) | set v = "
    cases = {
        "ni + 1": [codes.NULLABLE_OPERAND],
        "s == 1": [codes.BAD_OPERANDS],
        "s < 1": [codes.BAD_OPERANDS],
        "s * 2": [codes.NOT_NUMERIC],
        "b + 1": [codes.BAD_OPERANDS],
        's =~ r"(?<=a)b"': [codes.BAD_REGEX],
        "lower(i)": [codes.TYPE_MISMATCH],
        "lowr(s)": [codes.UNKNOWN_FUNCTION],
        "upper()": [codes.MISSING_ARG],
        "upper(s, s)": [codes.TOO_MANY_ARGS],
        'i in ["a"]': [codes.BAD_OPERANDS],
        "if i then 1 else 2": [codes.NOT_BOOL],
        "i and b": [codes.TYPE_MISMATCH],
        "1 + null": [codes.NULLABLE_OPERAND],
    }
    for expr, expected in cases.items():
        assert codes_of(text + expr + " | sink stdout") == expected, expr


ANY_OPERANDS = "schema A { d: duration, b: bool, s: str, t: time, ip: ip, xs: [int], x: any }"


def test_an_any_operand_is_accepted_where_some_rule_could_apply():
    """An `any` operand stands for a value of any type: the operator is
    accepted when some rule of types.OPERATORS fits the other operand, and
    rejected when none can (so `d * x` checks, `b + x` does not)."""
    text = f"{ANY_OPERANDS}\nsource stdin(format=json, schema=A) | set v = "
    accepted = (
        "d * x",
        "x * d",
        "x * 2.5",
        "t - x",
        "x - d",
        "x + s",
        "ip < x",
        "s >= x",
        "x < x",
        "-x",
        "x % 2",
    )
    for expr in accepted:
        assert codes_of(text + expr + " | sink stdout") == [], expr
    rejected = {
        "b + x": [codes.BAD_OPERANDS],
        'x - "a"': [codes.BAD_OPERANDS],
        "xs + x": [codes.BAD_OPERANDS],
        "b < x": [codes.BAD_OPERANDS],
        "xs >= x": [codes.BAD_OPERANDS],
        '"a" * x': [codes.NOT_NUMERIC],
        "d / x": [codes.NOT_NUMERIC],
        "-b": [codes.NOT_NUMERIC],
    }
    for expr, expected in rejected.items():
        assert codes_of(text + expr + " | sink stdout") == expected, expr
    types = set_types(
        ANY_OPERANDS.replace("schema A", "schema R"),
        "a = d * x, q = x / 2, c = x < 1, m = x % 2, n = -x",
    )
    assert types["a"] == ANY and types["q"] == Nullable(FLOAT) and types["c"] == BOOL
    assert types["m"] == ANY and types["n"] == ANY


def test_env_call_errors():
    """env() takes one or two literal strings, positionally."""
    text = "source stdin | set v = "
    cases = {
        'env(name="A")': (codes.UNKNOWN_PARAM, "env() takes no keyword argument `name`"),
        "env(x)": (codes.NOT_CONSTANT, "env() takes literal strings"),
        'env("A", x, y)': (codes.NOT_CONSTANT, "env() takes literal strings"),
        "env()": (codes.MISSING_ARG, "env() needs the name of an environment variable"),
        'env("A", "b", "c")': (codes.TOO_MANY_ARGS, "env() takes at most 2 arguments, got 3"),
        'env("", "b")': (codes.BAD_ARG_VALUE, "env() needs a non-empty variable name"),
    }
    for expr, expected in cases.items():
        diags = checked(text + expr + " | sink stdout")[1]
        assert [(d.code, d.message) for d in diags] == [expected], expr
    plan = plan_of(text + 'env("A", "b") | sink stdout')
    assert pipeline(plan, "t").steps[0].assignments[0][1] == ir.EnvCall("A", "b", STR)


def test_set_field_lowering_keeps_the_expression_tree():
    text = f"{R}\nsource stdin(format=json, schema=R) | set v = -(i + 2) ?? 0 | sink stdout"
    set_step, _ = pipeline(plan_of(text), "t").steps
    ((path, value),) = set_step.assignments
    assert path == ("v",)
    assert value == ir.Binary(
        "??",
        ir.Unary("-", ir.Binary("+", ir.FieldRef(("i",), INT), ir.Literal(2, INT), INT), INT),
        ir.Literal(0, INT),
        INT,
    )


# ---------------------------------------------------------------- summarize


def test_summarize_output_and_plan():
    text = (
        "schema Q { ts: time, host: str, code: int, ms: float?, n: int }\n"
        "source stdin(format=json, schema=Q)\n"
        "| summarize c = count(), s = sum(n), a = avg(ms), lo = min(n), hi = max(ms),"
        " p = p95(ms), dc = distinct_count(host) by host, status = code every 1m on ts"
        " allowed_lateness = 5s\n"
        "| sink stdout"
    )
    p = pipeline(plan_of(text), "t")
    step = p.steps[0]
    assert isinstance(step, ir.SummarizeStep)
    assert step.keys == (("host", ("host",)), ("status", ("code",)))
    assert step.every_ms == 60_000 and step.on == ("ts",) and step.allowed_lateness_ms == 5_000
    assert [(a.name, a.function, a.path) for a in step.aggregates][:2] == [
        ("c", "count", None),
        ("s", "sum", ("n",)),
    ]
    assert p.output_type == RecordT(
        (
            ("window_start", TIME),
            ("window_end", TIME),
            ("host", STR),
            ("status", INT),
            ("c", INT),
            ("s", INT),
            ("a", Nullable(FLOAT)),
            ("lo", Nullable(INT)),
            ("hi", Nullable(FLOAT)),
            ("p", Nullable(FLOAT)),
            ("dc", INT),
        )
    )
    assert not p.output_type.open


def test_summarize_without_on_uses_processing_time():
    step = (
        plan_of("source stdin | summarize n = count() every 10s | sink stdout")
        .pipelines[0]
        .steps[0]
    )
    assert step.on is None and step.allowed_lateness_ms == 0 and step.every_ms == 10_000


def test_an_aggregate_binds_its_field_like_any_call():
    # positionally or by its parameter's name (`field`), as stages and functions do
    base = "schema Q { n: int }\nsource stdin(format=json, schema=Q) | summarize "
    plans = [plan_of(base + f"s = sum({arg}) every 1m | sink stdout") for arg in ("n", "field = n")]
    steps = [p.pipelines[0].steps[0] for p in plans]
    assert steps[0].aggregates == steps[1].aggregates
    assert steps[0].aggregates[0].path == ("n",) and steps[0].aggregates[0].type == INT


def test_summarize_errors():
    base = "schema Q { ts: str, host: str }\nsource stdin(format=json, schema=Q) | summarize "
    assert codes_of(base + "s = sum(host) every 1m | sink stdout") == [codes.NOT_NUMERIC]
    assert codes_of(base + "c = count() every 1m on ts | sink stdout") == [codes.TYPE_MISMATCH]
    assert codes_of(base + "s = sum(1) every 1m | sink stdout") == [codes.BAD_AGGREGATE]
    assert codes_of(base + "s = total(host) every 1m | sink stdout") == [codes.BAD_AGGREGATE]
    assert codes_of(base + "host = count() by host every 1m | sink stdout") == [
        codes.DUPLICATE_FIELD
    ]


# ---------------------------------------------------------------- robustness


def test_errors_do_not_cascade_after_an_unknown_stage():
    text = (
        "schema S { a: int }\n"
        "source stdin(format=json, schema=S) | enrich(a) | where b > 1 | sink stdout"
    )
    assert codes_of(text) == [codes.UNKNOWN_STAGE]


def test_every_error_in_the_file_is_reported_in_source_order():
    text = (
        "pipeline a = source stdin | geoipp | sink stdout\n"
        "pipeline b = source stdin | set x = lowr(y) | sink stdout\n"
        "pipeline c = from nobody | sink stdout\n"
    )
    plan, diags = checked(text)
    assert plan is None
    assert [d.code for d in diags] == [
        codes.UNKNOWN_STAGE,
        codes.UNKNOWN_FUNCTION,
        codes.UNKNOWN_PIPELINE,
    ]
    assert [d.span.start for d in diags] == sorted(d.span.start for d in diags)


def test_hand_built_program_without_spans_checks():
    program = ast.Program(
        (
            ast.Pipeline(
                "p",
                ast.Chain(
                    ast.SourceHead(ast.Call("stdin", parens=False)),
                    (
                        ast.WhereStage(ast.Binary(">", ast.FieldRef(("n",)), ast.Literal(1))),
                        ast.SinkStage(ast.Call("stdout", parens=False)),
                    ),
                ),
            ),
        )
    )
    plan, diags = check(program, SourceFile("hand.flow", ""))
    assert diags == [] and plan is not None
    p = plan.pipelines[0]
    assert p.head.info.label == "source stdin" and p.steps[0].info.label == "where"
    assert p.steps[1].info.label == "sink stdout"


def test_an_internal_failure_is_one_plainly_labelled_diagnostic():
    class NotAStage:
        span = NO_SPAN

    program = ast.Program(
        (ast.Pipeline("p", ast.Chain(ast.SourceHead(ast.Call("stdin")), (NotAStage(),))),)
    )
    plan, diags = check(program, SourceFile("bug.flow", ""))
    assert plan is None
    assert [d.code for d in diags] == [codes.INTERNAL]
    assert diags[0].message.startswith("internal compiler error")
    assert "not a stage node: NotAStage" in diags[0].message
    assert "bug in flowc" in diags[0].hint


def test_checking_is_deterministic():
    text = open(__file__.replace("test_checker.py", "cases/multi_errors_in_one_file.flow")).read()
    first, second = checked(text), checked(text)
    assert first == second
    assert [d.hint for d in first[1]] == [d.hint for d in second[1]]


def test_the_benchmark_program_checks_clean_in_dependency_order(monkeypatch):
    from bench.frontend import generate

    monkeypatch.setenv("FLOW_ANON_KEY", "k")
    text = generate(300)
    plan = plan_of(text, "bench.flow")
    names = [p.name for p in plan.pipelines]
    assert len(names) == 4 * text.count("pipeline raw")
    assert names.index("raw0") < names.index("alerts0") and "failures0" in names
    stats = pipeline(plan, "stats0").output_type
    assert stats.names[:4] == ("window_start", "window_end", "server", "label")
