"""Every stage's runtime class agrees with its declaration: generated code
passes every declared argument (defaults filled in by the checker), so the
defaults in an `__init__` signature only matter when a class is built by
hand, and there they must not drift from the catalogue's."""

from __future__ import annotations

import importlib
import inspect

import pytest

from flowlang.stages import CATALOGUE
from flowlang.stages.spec import EnvRef, ParamKind

EMPTY = inspect.Parameter.empty


def _runtime_parameters(spec) -> dict[str, inspect.Parameter]:
    cls = getattr(importlib.import_module(spec.module), spec.runtime)
    params = dict(inspect.signature(cls.__init__).parameters)
    params.pop("self")
    assert list(params)[0] == "ctx", spec.name
    params.pop("ctx")
    return params


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: f"{s.role} {s.name}")
def test_runtime_defaults_are_the_declared_ones(spec):
    runtime = _runtime_parameters(spec)
    passed = set()
    for param in spec.params:
        assert param.name in runtime, f"{spec.runtime} does not take `{param.name}`"
        got = runtime[param.name].default
        passed.add(param.name)
        if param.required:
            assert got is EMPTY, f"`{param.name}` is required but defaults to {got!r}"
        elif isinstance(param.default, EnvRef):
            # generated code passes the variable's value, or this when it is unset
            assert got == param.default.default, param.name
        else:
            assert got == param.default, f"`{param.name}`: {got!r} != {param.default!r}"
        if param.kind is ParamKind.CHOICE and any(param.options.values()):
            # the option's own arguments; by hand, None stands for the default option's
            name = param.name + "_args"
            assert name in runtime and runtime[name].default is None, name
            passed.add(name)
    for name, extra in runtime.items():
        if name not in passed:
            # a knob for tests only: generated code never passes it
            assert extra.default is not EMPTY, f"{spec.runtime} needs `{name}`, never passed"


def test_option_argument_defaults_built_by_hand_are_the_declared_ones():
    """A class built by hand without `<name>_args` uses the option's declared
    defaults, read from the declaration rather than written again."""
    from flowlang.runtime.base import StageContext
    from flowlang.stages import anomaly, parse

    ctx = StageContext("p", "stage (t.flow:1)", "t.flow:1")
    (alpha,) = anomaly.SPEC.param("method").options["ewma"]
    assert anomaly.Anomaly(ctx, field=("x",), method="ewma")._alpha == alpha.default
    columns, delimiter = parse.SPEC.param("format").options["csv"]
    assert parse.Parse(ctx, "csv", {"columns": ["a"]}).delimiter == delimiter.default


def test_the_catalogue_index_names_each_stage_as_its_module_declares_it():
    """`find` and `names` read the index of (role, name) -> module without
    loading the modules; each module's SPEC must say the same, and every
    stage must be found by its own role and name."""
    from flowlang import stages

    assert len(CATALOGUE) == len(stages._MODULES)
    for (role, name), module in stages._MODULES.items():
        spec = importlib.import_module(f"flowlang.stages.{module}").SPEC
        assert (spec.role, spec.name) == (role, name), module
        assert stages.find(role, name) is spec
    for role in {s.role for s in CATALOGUE}:
        assert stages.names(role) == sorted(s.name for s in CATALOGUE if s.role == role)
    assert stages.find("sink", "geoip") is None
    assert stages.find("processor", "file") is None
