"""checker.arguments.match_arguments: the one way a call's arguments meet
declared parameters (stages, options, builtins, env())."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flowlang import ast
from flowlang.checker.arguments import match_arguments
from flowlang.stages.spec import Param, ParamKind

NAMES = ("a", "b", "c", "d")


def _params(required: int, total: int) -> tuple[Param, ...]:
    return tuple(
        Param(n, ParamKind.VALUE, "", **({} if i < required else {"default": None}))
        for i, n in enumerate(NAMES[:total])
    )


def _arg(name: str | None, value: int) -> ast.Arg:
    return ast.Arg(name, ast.Literal(value))


def test_positional_then_keyword():
    params = _params(2, 3)
    m = match_arguments(params, (_arg(None, 1), _arg("c", 3)))
    assert {k: a.value.value for k, a in m.given.items()} == {"a": 1, "c": 3}
    assert [p.name for p in m.missing] == ["b"] and not m.misplaced


def test_problems_are_sorted_into_their_kinds():
    params = _params(1, 2)
    extra, unknown, again = _arg(None, 3), _arg("z", 4), _arg("a", 5)
    m = match_arguments(params, (_arg(None, 1), _arg(None, 2), extra, unknown, again))
    assert m.extra == [extra] and m.unknown == [unknown]
    assert m.repeated == [(again, params[0])] and m.given["a"].value.value == 1
    assert m.misplaced == [extra, unknown, again] and m.missing == []


@given(
    st.integers(0, 4).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(0, 5),
    st.lists(st.sampled_from(NAMES + ("zz",)), max_size=5),
)
def test_every_argument_lands_exactly_once(shape, positional, keywords):
    required, total = shape
    params = _params(required, total)
    args = tuple(_arg(None, i) for i in range(positional)) + tuple(
        _arg(k, 10 + i) for i, k in enumerate(keywords)
    )
    m = match_arguments(params, args)
    placed = list(m.given.values()) + m.misplaced
    assert sorted(a.value.value for a in placed) == sorted(a.value.value for a in args)
    for i, p in enumerate(params[:positional]):
        assert m.given[p.name].value.value == i  # the n-th positional gives the n-th parameter
    assert len(m.extra) == max(0, positional - total)
    assert [p.name for p in m.missing] == [
        p.name for p in params if p.required and p.name not in m.given
    ]
    assert all(p.name not in m.given for p in m.missing)
