"""Every operator, builtin function and relational stage form on every mix of
value kinds, compiled and run against the reference interpreter.

One program holds one pipeline per operation, all reading the same records,
and the pipelines are compared one by one: a compact way to cover the whole
table. One table is over untyped fields (null and absent included), the other
over fields of known types, where the generated code takes its fast paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.flowrun import read_jsonl, run_flow
from tests.reference import run_reference_detailed
from tests.test_differential import ENV, FLOW_NAME, as_written, check_text, same

UTC = dt.timezone.utc

ABSENT = object()
MATRIX_VALUES = (
    ABSENT,
    None,
    True,
    False,
    0,
    1,
    -7,
    2.5,
    -0.0,
    1e308,
    2**31,
    "",
    "a",
    " 12 ",
    "1.5",
    "nan",
    "2024-01-02T03:04:05Z",
    "aB c",
    [1, True, "a"],
    [],
    {"a": 1},
    {},
)
MATRIX_STAGES = [
    *(
        f"set v = a {op} b"
        for op in (
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "+",
            "-",
            "*",
            "/",
            "%",
            "??",
            "and",
            "or",
            "in",
        )
    ),
    'set v = a in "xa1 12 "',
    'set v = a in [1, true, "a", null, 1.0, []]',
    r'set v = a =~ r"^\s*\d"',
    "set v = -a",
    "set v = not a",
    "set v = if a then 1 else 2",
    "set v = a + 1, w = v * 2.0",
    *(
        f"set v = {fn}(a)"
        for fn in ("lower", "upper", "trim", "len", "to_int", "to_float", "to_str", "parse_time")
    ),
    *(f"set v = {fn}(a, b)" for fn in ("starts_with", "ends_with", "contains")),
    'set v = parse_time(a, "%Y-%m-%dT%H:%M:%SZ")',
    'set v = parse_time("2024-01-01T00:00:00Z") + 90s, w = v - parse_time("2023-12-31T00:00:00Z")',
    'set v = parse_time("2024-01-01T00:00:00Z"), w = v < a, u = to_str(v)',
    "where a",
    "where a == b",
    "where a.a > 0",
    "set v = a.a",
    "set a.z = 1, b.z.y = a",
    "set v = a, a.a = 5",
    "drop a.a, b",
    "keep a.a, b",
    "rename a.a as c",
    "rename a as b.q",
    "rename a as c, b as a",
]


def _matrix_records() -> list[dict]:
    records = []
    for a in MATRIX_VALUES:
        for b in MATRIX_VALUES:
            rec = {}
            if a is not ABSENT:
                rec["a"] = a
            if b is not ABSENT:
                rec["b"] = b
            records.append(rec)
    return records


def compare_each_pipeline(tmp_path, schema: str, stages: list[str], records: list[dict]) -> None:
    """Run `source | stage | sink` for every stage in one program; each
    pipeline's output and error records must equal the reference's."""
    source = 'source file("input.jsonl", format=json' + (", schema=T)" if schema else ")")
    lines = [schema] + [
        f'pipeline p{i} = {source} | {stage} | sink file("out{i}.jsonl")'
        for i, stage in enumerate(stages)
    ]
    text = "\n".join(lines) + "\n"
    plan = check_text(text)
    assert plan is not None, text
    result = run_flow(text, tmp_path, records=records, env=ENV, name=FLOW_NAME)
    assert result.exit_code == 0, result.stderr
    failures = []
    for i, stage in enumerate(stages):
        pipeline = next(p for p in plan.pipelines if p.name == f"p{i}")
        expected = run_reference_detailed(pipeline, records, env=ENV)
        got = read_jsonl(tmp_path / f"out{i}.jsonl")
        want = [as_written(r) for r in expected.output]
        got_errors = [e["record"] for e in result.errors if e["pipeline"] == f"p{i}"]
        want_errors = [as_written(rec) for _, rec in expected.errors]
        for kind, g, w in (("output", got, want), ("errors", got_errors, want_errors)):
            wrong = [(x, y) for x, y in zip(g, w) if not same(x, y)]
            if len(g) != len(w) or wrong:
                failures.append((stage, kind, len(g), len(w), wrong[:2]))
    assert not failures, "\n".join(map(repr, failures))


def test_every_operator_on_every_kind(tmp_path):
    """Untyped fields: every operation on every pair of kinds, null and absent included."""
    compare_each_pipeline(tmp_path, "", MATRIX_STAGES, _matrix_records())


TYPED_SCHEMA = (
    "schema T { i: int, j: int, f: float, g: float, s: str, t: str, b: bool, c: bool, "
    "ni: int?, nf: float?, ns: str?, nb: bool?, tm: time, tn: time?, l: [int], ls: [str]?, "
    "r: {a: int, s: str?}?, x: any }"
)
TYPED_VALUES = {
    "i": (0, 1, -7, 3, 2**31),
    "j": (0, 1, -7, 3, 2**31),
    "f": (0.0, -0.0, 2.5, -1.5, 1e308),
    "g": (0.0, 2.5, -1.5),
    "s": ("", "a", "A b", " 12 ", "2024-01-02T03:04:05Z", "abc"),
    "t": ("", "a", "abc", " "),
    "b": (True, False),
    "c": (True, False),
    "ni": (None, 0, 2, -3),
    "nf": (None, 0.0, 1.5),
    "ns": (None, "", "a", "2024"),
    "nb": (None, True, False),
    "tm": tuple(
        dt.datetime(*d, tzinfo=UTC) for d in ((2024, 1, 2, 3, 4, 5), (2000, 1, 1), (2030, 6, 1, 12))
    ),
    "tn": (
        None,
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        dt.datetime(1999, 1, 1, tzinfo=UTC),
    ),
    "l": ((), (1, 2), (0, -7, 3)),
    "ls": (None, (), ("a", "abc")),
    "r": (None, {"a": 1, "s": None}, {"a": -7, "s": "a"}),
    "x": (None, 1, "a", 2.5, True, (1,), {"a": 1}),
}
TYPED_EXPRESSIONS = (
    "i == j|i != f|i < j|f <= i|s > t|s >= t|tm < tn|ni < i|ni <= nf|nf > f|ns < s|ns == s|"
    "ni == null|ni != i|nb == b|b == c|tn == tm|r == null|l == [1, 2]|x == i|"
    "i + j|i - j|i * j|i / j|i % j|f + i|f - g|f * g|f / g|f % g|s + t|-i|-f|tm - tm|"
    "tm + 5m|tm - 1h|(tn ?? tm) - tm|nb and b|b or nb|not nb|not b|nb or c|"
    'if nb then 1 else 2|if b then s else t|ns =~ r"a"|s =~ r"^\\s"|ni in [1, 2]|i in l|'
    's in ls|ns in "abc"|s in t|f in [1, 2.5]|b in [true]|lower(ns)|upper(s)|trim(ns)|'
    'len(ns)|len(l)|len(ls)|starts_with(s, t)|ends_with(ns, "a")|contains(ls, s)|'
    "contains(l, ni)|contains(s, t)|to_int(f)|to_int(s)|to_int(ni)|to_float(i)|to_float(ns)|"
    'to_str(b)|to_str(tm)|to_str(f)|to_str(tn)|to_str(nb)|parse_time(s)|parse_time(ns, "%Y")|'
    'ni ?? 0|nf ?? i|ns ?? s|r.a|r.s|(r.a ?? 0) + 1|r.s ?? "none"|x + 1|x ?? i'
).split("|")
# expressions that can fail at run time get a pipeline each; the others are
# grouped, several assignments to a `set`, to keep the program small
TYPED_FALLIBLE = (
    "i / j",
    "i % j",
    "f / g",
    "f % g",
    "to_int(s)",
    "to_float(ns)",
    "parse_time(s)",
    'parse_time(ns, "%Y")',
    "x + 1",
)
_TYPED_SAFE = [e for e in TYPED_EXPRESSIONS if e not in TYPED_FALLIBLE]
TYPED_STAGES = (
    [f"set v = {e}" for e in TYPED_FALLIBLE]
    + [
        "set " + ", ".join(f"v{k} = {e}" for k, e in enumerate(_TYPED_SAFE[i : i + 6]))
        for i in range(0, len(_TYPED_SAFE), 6)
    ]
    + [
        "where nb",
        "where ni < 3",
        'where ns =~ r"a"',
        "where r.a > 0",
        "set r.a = i, v = r",
        "set v = r, r.s = s",
        "keep r.s, ns",
        "rename r.a as z",
        "drop r.a, ns",
    ]
)


def _typed_records(count: int = 60) -> list[dict]:
    """Records of schema T; each field cycles through its values at its own
    stride, so that the pairs of fields meet in many combinations."""
    records = []
    for k in range(count):
        rec = {}
        for n, (name, values) in enumerate(TYPED_VALUES.items()):
            value = values[(k * (2 * n + 1) + n) % len(values)]
            rec[name] = fresh_list(value)
        records.append(rec)
    return records


def fresh_list(value: Any) -> Any:
    """Tuples above stand for JSON lists (kept immutable in the table)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def test_typed_operators(tmp_path):
    """Fields of known types (the generated code's fast paths), nullable ones
    included: every operation against the reference."""
    compare_each_pipeline(tmp_path, TYPED_SCHEMA, TYPED_STAGES, _typed_records())


def test_addresses_order_by_number_not_text(tmp_path):
    from tests.flowrun import run_flow

    program = (
        "schema Hit { a: ip, b: ip? }\n"
        'source file("input.jsonl", format=json, schema=Hit)\n'
        "  | set lt = a < b ?? a, ge = a >= b ?? a\n"
        '  | sink file("output.jsonl")\n'
    )
    records = [
        {"a": "9.0.0.1", "b": "10.0.0.2"},  # as text "9…" > "1…"; as addresses 9 < 10
        {"a": "::1", "b": "255.255.255.255"},  # every IPv6 after every IPv4
        {"a": "10.0.0.1", "b": None},
    ]
    result = run_flow(program, tmp_path, records=records)
    assert [(r["lt"], r["ge"]) for r in result.output] == [
        (True, False),
        (False, True),
        (False, True),
    ]
