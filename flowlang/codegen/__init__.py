"""ir.Plan → Python module source (Jinja2 template, then Black).

The template sees only the view built here: names already sanitised, literals
already rendered by `pyrepr`, comments by `comment_text`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache

from .. import __version__, ir
from ..names import python_identifier
from .calls import runtime_args, window_call
from .exprs import ExprCompiler, Hoister, runtime_function, step_lines, watch_lines
from .literals import comment_text, pyrepr

_FUSABLE = (ir.WhereStep, ir.SetStep, ir.DropStep, ir.KeepStep, ir.RenameStep, ir.RouteStep)


@dataclass(frozen=True)
class _Block:
    index: int
    comment: str
    lines: list[str]


@dataclass(frozen=True)
class _Segment:
    name: str
    first: int
    setup: list[str]
    blocks: list[_Block]
    slots: list[int]  # the watch slots its stages note (see step_lines)
    routes: int = 0  # ends with `route { … }`: returns this many lists, one per route

    @property
    def tappable(self) -> bool:
        """Its factory also builds `run_tapped` (a tap on a stage before its last)."""
        return len(self.blocks) > 1


@dataclass(frozen=True)
class _Call:
    comment: str
    code: str


@dataclass(frozen=True)
class _Pipeline:
    var: str
    comment: str
    name_literal: str
    line: int
    stages_literal: str
    calls: list[_Call]


@dataclass(frozen=True)
class _Import:
    module: str
    alias: str


@lru_cache(maxsize=1)
def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("flowlang.codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("module.py.jinja")


def generate(plan: ir.Plan) -> str:
    """The Black-formatted module for `plan`; byte-identical for the same plan."""
    gen = _Generator(plan)
    source = _template().render(
        version=__version__,
        file_comment=comment_text(plan.file),
        file_literal=pyrepr(plan.file),
        imports=gen.imports,
        segments=gen.segments,
        pipelines=gen.pipelines,
    )
    return _black(source)


def _black(source: str) -> str:
    import black

    return black.format_str(source, mode=black.Mode(target_versions={black.TargetVersion.PY311}))


def _location(plan: ir.Plan, info: ir.StepInfo) -> str:
    return comment_text(f"{plan.file}:{info.line} {info.label}")


class _Generator:
    def __init__(self, plan: ir.Plan) -> None:
        self.plan = plan
        self.imports: list[_Import] = []
        self.segments: list[_Segment] = []
        self.pipelines: list[_Pipeline] = []
        self._aliases: dict[str, str] = {}
        used: set[str] = set()
        for p in plan.pipelines:
            var = python_identifier(p.name, prefix="p_")
            while var in used:
                var += "_"
            used.add(var)
            self.pipelines.append(self._pipeline(p, var))
        self.imports.sort(key=lambda imp: imp.module)

    def _alias(self, module: str) -> str:
        short = module.rsplit(".", 1)[-1]
        if module not in self._aliases:
            assert module == f"flowlang.stages.{short}", module
            alias = python_identifier(short, prefix="_st_")
            self._aliases[module] = alias
            self.imports.append(_Import(python_identifier(short), alias))
        return self._aliases[module]

    def _function(self, fn) -> str:
        """How the module names `fn`, a module-level function of a stage
        module or of flowlang.runtime (the rule an env() value is held to)."""
        module = fn.__module__
        if module.startswith("flowlang.stages."):
            assert getattr(sys.modules[module], fn.__name__, None) is fn, fn
            return f"{self._alias(module)}.{fn.__name__}"
        return runtime_function(fn)

    def _call(self, method: str, step: ir.CallStep) -> str:
        return self._construct(method, step.info, step.module, step.runtime, runtime_args(step))

    def _construct(
        self, method: str, info: ir.StepInfo, module: str, runtime: str, args: tuple
    ) -> str:
        """`method(index, <runtime class>, keyword=value, …)`."""
        alias = self._alias(module)
        written = "".join(f", {python_identifier(k)}={pyrepr(v, self._function)}" for k, v in args)
        return f"{method}({info.index}, {alias}.{python_identifier(runtime)}{written})"

    def _pipeline(self, p: ir.PipelinePlan, var: str) -> _Pipeline:
        infos = [p.head.info] + [s.info for s in p.steps]
        stages = tuple((i.label, i.line) for i in infos)
        calls: list[_Call] = []
        head = p.head
        if isinstance(head, ir.FromStep):
            method = "read_errors_from" if head.errors else "read_from"
            calls.append(
                _Call(_location(self.plan, head.info), f"{var}.{method}({pyrepr(head.pipeline)})")
            )
        else:
            calls.append(_Call(_location(self.plan, head.info), self._call(f"{var}.source", head)))
        run: list[ir.Step] = []
        self._watches: list[tuple[int, ir.Path]] = []
        for step in p.steps:
            if isinstance(step, _FUSABLE) or (
                isinstance(step, ir.CallStep) and step.role == "processor"
            ):
                run.append(step)
                continue
            self._flush_segment(p, var, run, calls)
            run = []
            if isinstance(step, ir.SummarizeStep):
                calls.append(_Call(_location(self.plan, step.info), self._window(var, step)))
            else:  # the sink
                calls.append(
                    _Call(_location(self.plan, step.info), self._call(f"{var}.sink", step))
                )
        self._flush_segment(p, var, run, calls)
        last = p.steps[-1] if p.steps else None
        if isinstance(last, ir.RouteStep):
            targets = tuple(target for target, _ in last.routes)
            calls.append(_Call("", f"{var}.route({last.info.index}, {pyrepr(targets)})"))
        if self._watches:
            calls.append(_Call("", f"{var}.watch({pyrepr(tuple(self._watches))})"))
        return _Pipeline(
            var=var,
            comment=comment_text(f"{self.plan.file}:{p.line} pipeline {p.name}"),
            name_literal=pyrepr(p.name),
            line=p.line,
            stages_literal=pyrepr(stages),
            calls=calls,
        )

    def _slots(self, step: ir.Step) -> list[tuple[int, ir.Path]]:
        """Watch slots for the step's unproven reads: (slot, path) each."""
        slots = []
        for path in step.info.unproven_reads:
            slots.append((len(self._watches), path))
            self._watches.append((step.info.index, path))
        return slots

    def _window(self, var: str, step: ir.SummarizeStep) -> str:
        self._slots(step)
        spec, args = window_call(step)
        return self._construct(f"{var}.window", step.info, spec.module, spec.runtime, args)

    def _flush_segment(self, p, var, run, calls) -> None:
        if not run:
            return
        first, last = run[0].info.index, run[-1].info.index
        name = f"_{var}_segment_{first}"
        hoist = Hoister()
        exprs = ExprCompiler(hoist, self._function)
        blocks = []
        segment_slots: list[int] = []
        for step in run:
            stage_var = None
            if isinstance(step, ir.CallStep):
                stage_var = f"{python_identifier(step.name)}_{step.info.index}"
                hoist.lines.append(f"{stage_var} = stages[{step.info.index}]")
                calls.append(
                    _Call(_location(self.plan, step.info), self._call(f"{var}.processor", step))
                )
            slots = self._slots(step)
            segment_slots += [slot for slot, _ in slots]
            lines = watch_lines(slots) + step_lines(step, exprs, stage_var)
            blocks.append(_Block(step.info.index, _location(self.plan, step.info), lines))
        routes = len(run[-1].routes) if isinstance(run[-1], ir.RouteStep) else 0
        segment = _Segment(name, first, hoist.lines, blocks, segment_slots, routes)
        self.segments.append(segment)
        flags = (", watched=True" if segment_slots else "") + (
            ", tappable=True" if segment.tappable else ""
        )
        calls.append(_Call("", f"{var}.segment({name}, first={first}, last={last}{flags})"))
