"""Matching the arguments of a call to declared parameters, once for every
kind of call: stages and their options, builtin functions, env() and the
aggregates of summarize. Each caller words the problems in its own terms and
turns the matched arguments into values of its parameters' kinds."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import ast
from ..stages.spec import Param


@dataclass
class Matched:
    """`given`: the argument written for each parameter, by name. The rest
    are problems: positional arguments past the last parameter, keyword
    arguments naming no parameter, a second argument for a parameter (with
    that parameter), and the required parameters nothing was given for."""

    given: dict[str, ast.Arg] = field(default_factory=dict)
    extra: list[ast.Arg] = field(default_factory=list)
    unknown: list[ast.Arg] = field(default_factory=list)
    repeated: list[tuple[ast.Arg, Param]] = field(default_factory=list)
    missing: list[Param] = field(default_factory=list)

    @property
    def misplaced(self) -> list[ast.Arg]:
        """The arguments that fill no parameter."""
        return self.extra + self.unknown + [arg for arg, _ in self.repeated]


def match_arguments(params: tuple[Param, ...], args: tuple[ast.Arg, ...]) -> Matched:
    """The n-th positional argument gives the n-th parameter, a keyword
    argument the parameter it names (the parser puts positional ones first)."""
    by_name = {p.name: p for p in params}
    matched = Matched()
    positional = 0
    for arg in args:
        if arg.name is None:
            if positional >= len(params):
                matched.extra.append(arg)
                continue
            param = params[positional]
            positional += 1
        else:
            found = by_name.get(arg.name)
            if found is None:
                matched.unknown.append(arg)
                continue
            param = found
        if param.name in matched.given:
            matched.repeated.append((arg, param))
            continue
        matched.given[param.name] = arg
    matched.missing = [p for p in params if p.required and p.name not in matched.given]
    return matched


def count(n: int) -> str:
    """`1 argument`, `2 arguments`."""
    return f"{n} argument" + ("" if n == 1 else "s")
