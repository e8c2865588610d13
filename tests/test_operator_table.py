"""types.OPERATORS is the one statement of which operand types each operator
takes and what it gives; the checker and the generator read it. The runtime
may not import the compiler, so `runtime.ops` keeps its own dynamic dispatch,
and these tests walk the table to hold the two together: every rule's
operands go through ops and give the rule's result kind, every mix no rule
names is a run-time type error, and where a rule says Python's own operator
computes it (the generated fast path), it computes exactly what ops does.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator

import pytest

from flowlang.runtime import RecordError, ops
from flowlang.types import (
    BOOL,
    DURATION,
    FLOAT,
    INT,
    IP,
    NEGATION,
    NULL_GIVES_NULL,
    OPERATORS,
    STR,
    TIME,
    ListT,
    OperatorRule,
    RecordT,
)

UTC = dt.timezone.utc

# values of each type as the runtime holds them (an ip is its canonical text)
SAMPLES = {
    INT: (7, -3, 0, 2**20),
    FLOAT: (2.5, -0.5, 0.0, 1e10),
    STR: ("a", "10.0.0.2", ""),
    BOOL: (True, False),
    TIME: (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), dt.datetime(1999, 12, 31, tzinfo=UTC)),
    DURATION: (dt.timedelta(seconds=90), dt.timedelta(milliseconds=-250)),
    IP: ("10.0.0.1", "::1", "9.0.0.1"),
    ListT(INT): ([1, 2], []),
    RecordT((("a", INT),)): ({"a": 1}, {}),
}
# the run-time kind (ops._kind) of a value of each type
KIND = {
    INT: "int",
    FLOAT: "float",
    STR: "str",
    BOOL: "bool",
    TIME: "time",
    DURATION: "duration",
    IP: "str",
    ListT(INT): "list",
    RecordT((("a", INT),)): "record",
}

HELPERS = {
    "+": ops.add,
    "-": ops.sub,
    "*": ops.mul,
    "/": ops.div,
    "%": ops.mod,
    "<": ops.lt,
    "<=": ops.le,
    ">": ops.gt,
    ">=": ops.ge,
    "==": ops.eq,
    "!=": ops.ne,
}
PYTHON = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _rules(python: bool | None = None) -> list:
    return [
        pytest.param(op, rule, id=f"{rule.operands[0]} {op} {rule.operands[1]}")
        for op, rules in OPERATORS.items()
        for rule in rules
        if python is None or rule.python == python
    ]


def _apply(helper, *values):
    try:
        return helper(*values)
    except RecordError as exc:
        if exc.code == "arithmetic":  # by zero: the operator applies, the value does not
            return exc
        raise


def _meaning(op: str, rule: OperatorRule, a, b):
    """What `a op b` means: the ops helper, with ips ordered by address as
    generated code does (ops.ip_key)."""
    if rule.operands == (IP, IP) and op in ("<", "<=", ">", ">="):
        a, b = ops.ip_key(a), ops.ip_key(b)
    return _apply(HELPERS[op], a, b)


def test_every_operator_has_a_runtime_helper():
    assert set(OPERATORS) == set(HELPERS)


@pytest.mark.parametrize(("op", "rule"), _rules())
def test_runtime_computes_each_rule(op, rule):
    """Every mix of the rule's sample operands goes through ops and gives a
    value of the rule's result type."""
    left, right = rule.operands
    for a, b in itertools.product(SAMPLES[left], SAMPLES[right]):
        result = _meaning(op, rule, a, b)
        if isinstance(result, RecordError):
            assert op in ("/", "%") and b == 0, (op, a, b)
            continue
        assert ops._kind(result) == KIND[rule.result], (op, a, b, result)


@pytest.mark.parametrize(("op", "rule"), _rules(python=True))
def test_python_operator_equals_the_runtime_where_the_rule_says_so(op, rule):
    """The generated fast path applies Python's operator: same value, same kind."""
    left, right = rule.operands
    for a, b in itertools.product(SAMPLES[left], SAMPLES[right]):
        fast, slow = PYTHON[op](a, b), _meaning(op, rule, a, b)
        assert type(fast) is type(slow) and fast == slow, (op, a, b)


@pytest.mark.parametrize(("op", "rule"), _rules(python=False))
def test_python_operator_is_wrong_somewhere_where_the_rule_says_so(op, rule):
    """A rule kept off the fast path has a reason: on some operands Python's
    own operator fails or answers differently (by zero; ips as text)."""
    left, right = rule.operands
    python = PYTHON.get(op, {"/": operator.truediv, "%": operator.mod}.get(op))
    differs = []
    for a, b in itertools.product(SAMPLES[left], SAMPLES[right]):
        try:
            fast = python(a, b)
        except ZeroDivisionError:
            differs.append((a, b))
            continue
        if fast != _meaning(op, rule, a, b):
            differs.append((a, b))
    assert differs, (op, rule)


def test_runtime_rejects_every_mix_no_rule_names():
    """Arithmetic and ordering on operands no rule takes is a record error;
    equality of such operands is false (values of different kinds are unequal)."""
    for op, helper in HELPERS.items():
        taken = {(KIND[r.operands[0]], KIND[r.operands[1]]) for r in OPERATORS[op]}
        for left, right in itertools.product(SAMPLES, SAMPLES):
            if (KIND[left], KIND[right]) in taken:
                continue
            if op in ("==", "!=") and {KIND[left], KIND[right]} <= {"list", "record"}:
                continue  # equal item by item (types.may_equal)
            for a, b in itertools.product(SAMPLES[left], SAMPLES[right]):
                if op in ("==", "!="):
                    assert helper(a, b) is (op == "!="), (op, a, b)
                else:
                    with pytest.raises(RecordError) as caught:
                        helper(a, b)
                    assert caught.value.code == "type", (op, a, b)


def test_null_gives_null_in_arithmetic_and_false_in_comparisons():
    for op, helper in HELPERS.items():
        for value in (None, 1, "a"):
            if op in ("==", "!="):
                continue  # null is a value: null == null
            expected = None if op in NULL_GIVES_NULL else False
            assert helper(None, value) is expected and helper(value, None) is expected, op


def test_negation_rules():
    for rule in NEGATION:
        (operand,) = rule.operands
        for value in SAMPLES[operand]:
            assert ops.neg(value) == -value and ops._kind(ops.neg(value)) == KIND[rule.result]
    taken = {KIND[r.operands[0]] for r in NEGATION}
    for typ, values in SAMPLES.items():
        if KIND[typ] not in taken:
            for value in values:
                with pytest.raises(RecordError):
                    ops.neg(value)
    assert ops.neg(None) is None and "-" in NULL_GIVES_NULL


def test_generated_code_uses_python_operators_exactly_where_the_table_says():
    """Known, non-null operands of a python rule compile to the bare operator;
    every other mix (nullable, `any`, rules kept off the fast path) to ops."""
    from flowlang import ir
    from flowlang.codegen.exprs import ExprCompiler, Hoister
    from flowlang.types import ANY, Nullable, python_operator

    types = [*SAMPLES, Nullable(INT), Nullable(STR), ANY]
    for op in OPERATORS:
        for lt, rt in itertools.product(types, types):
            e = ir.Binary(op, ir.FieldRef(("a",), lt), ir.FieldRef(("b",), rt), ANY)
            code = ExprCompiler(Hoister()).expr(e)
            plain = code == f"(rec.get('a') {op} rec.get('b'))"
            assert plain == python_operator(op, lt, rt), (op, lt, rt, code)
            assert plain or code.startswith("_ops."), code
            if plain:
                assert any(r.operands == (lt, rt) and r.python for r in OPERATORS[op])
    for t in types:
        code = ExprCompiler(Hoister()).expr(ir.Unary("-", ir.FieldRef(("a",), t), ANY))
        assert (code == "(-rec.get('a'))") == any(r.operands == (t,) for r in NEGATION), t
