"""The runtime calling convention of a catalogue stage: how the bound
arguments of an `ir.CallStep` reach its runtime class's constructor.

Each parameter is a keyword argument of its name. A schema is passed as its
type descriptor (`types.to_descriptor`); an option (`ir.Choice`) as its name,
followed by `<param>_args`, a dict of the option's own arguments, when any
option of that parameter takes arguments.
"""

from __future__ import annotations

from typing import Any

from .. import ir
from ..stages import find
from ..stages.spec import Param, ParamKind, StageSpec
from ..types import RecordT, to_descriptor


def runtime_args(step: ir.CallStep) -> tuple[tuple[str, Any], ...]:
    """(keyword, value) pairs for the runtime class of `step`."""
    spec = find(step.role, step.name)
    assert spec is not None, step.name
    return _lower(spec.params, step.args)


def window_call(step: ir.SummarizeStep) -> tuple[StageSpec, tuple[tuple[str, Any], ...]]:
    """The declaration of `summarize` and the keyword arguments of its runtime
    class: its clauses by their declared names."""
    spec = find("window", "summarize")
    assert spec is not None
    clauses = {
        "aggregates": tuple((a.name, a.function, a.path) for a in step.aggregates),
        "keys": step.keys,
        "every": step.every_ms,
        "on": step.on,
        "allowed_lateness": step.allowed_lateness_ms,
    }
    return spec, tuple((p.name, clauses[p.name]) for p in spec.params)


def _lower(params: tuple[Param, ...], args: tuple[tuple[str, Any], ...]) -> tuple:
    values = dict(args)
    out: list[tuple[str, Any]] = []
    for param in params:
        value = values[param.name]
        if isinstance(value, ir.Choice):
            out.append((param.name, value.option))
            if param.kind is ParamKind.CHOICE and any(param.options.values()):
                option = param.options.get(value.option, ())
                out.append((param.name + "_args", dict(_lower(option, value.args))))
        elif isinstance(value, RecordT):
            out.append((param.name, to_descriptor(value)))
        else:
            out.append((param.name, value))
    return tuple(out)
