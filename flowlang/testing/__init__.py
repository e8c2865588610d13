"""Testing flowlang programs: what `flowc test` runs, as a Python API.

    from flowlang.testing import load

    program = load("access.flow")
    result = program.run({"events": [{"status": 500, ...}]})
    result.outputs["slow"]          # the records pipeline `slow` emitted
    result.errors["events"]         # the error records of `events`

    @given(st.lists(program.records("Event")))   # a Hypothesis strategy
    def test_slow_only_5xx(events):
        assert all(r["status"] >= 500 for r in program.run({"events": events}).outputs["slow"])

`program.run_tests()` runs the `test` and `property` blocks of the file.
The run is the real generated module on the real runtime, in this process,
with sources replaced by the given records and sinks by ones that accept
everything (see `harness`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

from .. import ir
from ..checker.tests import COUNT_PARTS, DEFAULT_NOW, count_key
from ..diagnostics import Diagnostic, render_all
from ..runtime.base import RecordError
from ..runtime.coerce import coercer
from ..source import SourceFile, read_file
from ..types import Type, to_descriptor
from .harness import RunResult, run_module
from .suite import TestOutcome, run_tests

__all__ = [
    "CompileError",
    "FlowProgram",
    "RunResult",
    "TestOutcome",
    "load",
    "load_text",
    "records",
]


class CompileError(Exception):
    """The program (or its tests) did not compile; `diagnostics` say why."""

    def __init__(self, src: SourceFile, diagnostics: list[Diagnostic]):
        super().__init__(render_all(diagnostics, src))
        self.src = src
        self.diagnostics = diagnostics


def load(path: str | os.PathLike) -> "FlowProgram":
    """Compile the `.flow` file at `path` for testing (`source.Unreadable`
    if it cannot be read as source text)."""
    return FlowProgram(read_file(path))


def load_text(text: str, name: str = "test.flow") -> "FlowProgram":
    """Compile program text for testing; `name` is used in messages."""
    return FlowProgram(SourceFile(name, text))


def records(t: Type, where: ir.TExpr | None = None):
    """A Hypothesis strategy of run-time records of flowlang type `t`."""
    from .strategies import records as strategy

    return strategy(t, where)


class FlowProgram:
    """A compiled program and its tests, ready to run on given records."""

    def __init__(self, src: SourceFile):
        from ..codegen.checks import generate_checks
        from ..compiler import compile_source

        result = compile_source(src)
        errors = [d for d in result.diagnostics if d.is_error]
        if errors or result.plan is None or result.code is None:
            raise CompileError(src, errors or result.diagnostics)
        self.src = src
        self.warnings = [d for d in result.diagnostics if not d.is_error]
        self.plan: ir.Plan = result.plan
        self.module = _load(src, result.module_name, result.code)
        self.checks = _load(src, result.module_name + "_checks", generate_checks(self.plan))
        self.source_types: dict[str, Type] = {
            p.name: p.head.output_type
            for p in self.plan.pipelines
            if isinstance(p.head, ir.CallStep) and p.head.output_type is not None
        }
        self.sources = {name: to_descriptor(t) for name, t in self.source_types.items()}
        self.output_types = {p.name: p.output_type for p in self.plan.pipelines}
        self._coercers = {name: coercer(d) for name, d in self.sources.items()}
        from .strategies import program_constants

        self.pool = program_constants(self.plan)

    @property
    def tests(self) -> tuple[ir.TestPlan, ...]:
        return self.plan.tests

    def source_pipelines(self) -> list[str]:
        return list(self.sources)

    def schema(self, name: str) -> Type:
        """The record type of schema `name`."""
        return dict(self.plan.schemas)[name]

    def records(self, name: str):
        """A Hypothesis strategy of the records a source produces: `name` is a
        schema or a pipeline with a source."""
        schemas = dict(self.plan.schemas)
        from .strategies import records as strategy

        if name in schemas:
            return strategy(schemas[name], pool=self.pool)
        if name in self.source_types:
            return strategy(self.source_types[name], pool=self.pool)
        raise KeyError(f"no schema or source pipeline named {name!r}")

    def run(
        self,
        inputs: Mapping[str, list] | None = None,
        *,
        now: _dt.datetime = DEFAULT_NOW,
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run every pipeline once on `inputs` (pipeline → records for its
        source; the others get none)."""
        inputs = dict(inputs or {})
        unknown = [name for name in inputs if name not in self.sources]
        if unknown:
            raise KeyError(
                f"{unknown[0]!r} is not a pipeline with a source "
                f"(those are: {', '.join(self.sources)})"
            )
        return run_module(self.module, self.sources, inputs, now=now, env=env or {})

    def run_tests(
        self, pattern: str | None = None, *, examples: int | None = None, seed: int | None = None
    ) -> list[TestOutcome]:
        """Run the file's tests (those whose name matches `pattern`)."""
        return run_tests(self, pattern=pattern, examples=examples, seed=seed)

    # used by the suite

    def check(self, test: int, kind: str, position: int):
        from ..codegen.checks import check_name

        return getattr(self.checks, check_name(test, kind, position))

    def given_strategy(self, test: int, position: int, given: ir.GivenPlan):
        from .strategies import records as strategy

        predicate = self.check(test, "g", position) if given.where is not None else None
        return strategy(given.type, given.where, predicate, self.pool)

    def count_keys(self) -> dict[str, tuple[str, str | None]]:
        return {
            count_key(p.name, part): (p.name, part)
            for p in self.plan.pipelines
            for part in (None, *COUNT_PARTS)
        }

    def coerce_input(self, pipeline: str, rec: Any) -> Any:
        """`rec` as the source of `pipeline` would produce it (None if it cannot)."""
        try:
            return self._coercers[pipeline](rec)
        except RecordError:
            return None


def _load(src: SourceFile, name: str, code: str):
    """Import generated `code` from a file in the cache, so tracebacks show it."""
    from ..cachedir import cache_dir
    from ..compile_cache import load_module
    from ..runtime.atomic import replace_file

    digest = hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    folder = cache_dir() / "tests" / digest
    path = Path(folder) / f"{name}.py"
    if not path.is_file():
        replace_file(path, code.encode("utf-8"))
    return load_module(path)
