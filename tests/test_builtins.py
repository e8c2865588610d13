"""The builtin functions' declarations (flowlang.builtins) and their
implementations agree: each declaration names a function of runtime.ops,
which generated code calls, taking the declared parameters in order with the
declared defaults, and giving null for a null argument."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.builtins import FUNCTIONS
from flowlang.runtime import ops

EMPTY = inspect.Parameter.empty


@pytest.mark.parametrize("fn", FUNCTIONS.values(), ids=lambda f: f.name)
def test_each_function_names_its_implementation_in_ops(fn):
    assert getattr(ops, fn.impl.__name__, None) is fn.impl, fn.name
    params = list(inspect.signature(fn.impl).parameters.values())
    assert len(params) == len(fn.params), fn.name
    for declared, actual in zip(fn.params, params):
        assert actual.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, actual
        if declared.required:
            assert actual.default is EMPTY, (fn.name, declared.name)
        else:
            assert actual.default == declared.default, (fn.name, declared.name)


@pytest.mark.parametrize("fn", [f for f in FUNCTIONS.values() if f.params], ids=lambda f: f.name)
def test_a_null_argument_gives_null(fn):
    """What Function.result_type assumes: a nullable argument, a nullable result."""
    required = [p for p in fn.params if p.required]
    for i in range(len(required)):
        args = ["a"] * len(required)
        args[i] = None
        assert fn.impl(*args) is None, (fn.name, args)


def test_the_summarize_runtime_knows_exactly_the_declared_aggregates():
    """stages/summarize.py implements the aggregates by name; the numeric
    ones are those whose field parameter accepts only numbers."""
    from flowlang.builtins import AGGREGATES
    from flowlang.stages import summarize
    from flowlang.types import STR

    assert summarize._FUNCTIONS == set(AGGREGATES)
    numeric = {a.name for a in AGGREGATES.values() if a.params and not a.params[0].admits(STR)}
    assert summarize._NUMERIC == numeric


def test_case_insensitive_text_tests_through_a_compiled_pipeline(tmp_path):
    from tests.flowrun import run_flow

    program = (
        'source file("input.jsonl", format=json)\n'
        '  | set a = starts_with(s, "GET", case_sensitive=false),'
        ' b = ends_with(s, ".PHP", case_sensitive=false),'
        ' c = contains(s, "Admin", case_sensitive=false),'
        ' d = contains(tags, "PROD", case_sensitive=false),'
        ' e = starts_with(s, "GET")\n'
        '  | sink file("output.jsonl")\n'
    )
    records = [{"s": "get /admin/index.php", "tags": ["prod", 1]}]
    result = run_flow(program, tmp_path, records=records)
    assert result.exit_code == 0, result.stderr
    (out,) = result.output
    assert (out["a"], out["b"], out["c"], out["d"], out["e"]) == (True, True, True, True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.text(max_size=4))
def test_ignoring_case_is_comparing_lower_cased_text(s, p):
    from flowlang.runtime import ops

    assert ops.fn_starts_with(s, p, False) == s.lower().startswith(p.lower())
    assert ops.fn_ends_with(s, p, False) == s.lower().endswith(p.lower())
    assert ops.fn_contains(s, p, False) == (p.lower() in s.lower())
    assert ops.fn_starts_with(s, p) == s.startswith(p)
