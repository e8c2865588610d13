"""One chain: its head, then each stage in turn, threading the record type
through and lowering every stage into a plan step."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from .. import ast, codes, ir
from ..formatter import format_expr
from ..source import SourceFile, Span
from ..stages import find
from ..stages.spec import StageSpec
from ..syntax import path_label
from ..types import OPEN_RECORD, RecordT, Type
from .calls import CallChecker, plan_args
from .exprs import ExprChecker, const_bool, is_condition
from .reads import declared, unproven_reads
from .records import as_record, keep_paths, lookup, remove_path, rename_path, set_path
from .report import Reporter, pick_span, stage_label
from .summarize import check_summarize


@dataclass(frozen=True)
class StageTypes:
    """The record types around one stage of a chain as the checker found
    them, errors or not (what an editor shows at a point of a chain)."""

    node: ast.Head | ast.Stage
    before: RecordT | None  # None for a head
    after: RecordT | None  # None for a sink


@dataclass
class ChainResult:
    head: ir.Head | None  # None when the head could not be resolved
    steps: list[ir.Step]
    output_type: RecordT  # after the last processor
    has_sink: bool
    types: list[StageTypes]  # the head, then each stage, in order
    route: ast.RouteStage | None = None  # its `route { … }`, if it routes


HeadType = Callable[[ast.FromHead], Type]


class ChainChecker:
    """Checks chains of one file."""

    def __init__(
        self,
        src: SourceFile,
        rep: Reporter,
        comments: list[Span],
        calls: CallChecker,
        exprs: ExprChecker,
    ) -> None:
        self.src = src
        self.rep = rep
        self.comments = comments
        self.calls = calls
        self.exprs = exprs

    def check(self, chain: ast.Chain, head_type: HeadType) -> ChainResult:
        """Check `chain`; `head_type` gives the record type `from NAME` reads."""
        head, record = self._head(chain.head, head_type)
        types = [StageTypes(chain.head, None, record)]
        steps: list[ir.Step] = []
        last = len(chain.stages)
        has_sink = False
        route = None
        for index, stage in enumerate(chain.stages, start=1):
            info = self._info(index, stage.span, lambda stage=stage: _fallback_label(stage))
            if isinstance(stage, ast.RouteStage):
                if index != last:
                    self.rep.error(
                        codes.ROUTE_NOT_LAST,
                        "`route` must be the last stage of a chain",
                        stage.span,
                        hint="it hands every record on to its routes' pipelines; "
                        "put the stages after it into those pipelines",
                    )
                if route is None:
                    route = stage
                step = self._route(stage, record, info)
                reads = unproven_reads(step, record)
                if reads:
                    step = replace(step, info=replace(step.info, unproven_reads=reads))
                steps.append(step)
                types.append(StageTypes(stage, record, None))
                continue
            if isinstance(stage, ast.SinkStage):
                has_sink = True
                if index != last:
                    self.rep.error(
                        codes.SINK_NOT_LAST,
                        "a sink must be the last stage of a chain",
                        pick_span(stage.span, stage.call.span),
                        hint="the stages after it would never see a record",
                    )
                step = self._call_step("sink", stage.call, record, info)
                if step is not None:
                    steps.append(step)
                types.append(StageTypes(stage, record, None))
                continue
            before = record
            step, record = self._stage(stage, record, info)
            types.append(StageTypes(stage, before, record))
            if step is not None:
                reads = unproven_reads(step, before)
                if reads:
                    step = replace(step, info=replace(step.info, unproven_reads=reads))
                steps.append(step)
            elif index == last and _names_a_sink(stage):
                has_sink = True  # `| file("o")`: a sink was meant, and E109 says so
        return ChainResult(head, steps, record, has_sink, types, route)

    def _info(self, index: int, span: Span, fallback) -> ir.StepInfo:
        line = self.src.line_col(span.start)[0]
        return ir.StepInfo(index, stage_label(self.src, span, self.comments, fallback), line)

    # ------------------------------------------------------------ heads and calls

    def _head(self, head: ast.Head, head_type: HeadType) -> tuple[ir.Head | None, RecordT]:
        if isinstance(head, ast.FromHead):
            suffix = ".errors" if head.errors else ""
            info = self._info(0, head.span, lambda: f"from {head.name}{suffix}")
            record = as_record(head_type(head))
            return ir.FromStep(info, head.name, head.errors, record), record
        info = self._info(0, head.span, lambda: f"source {head.call.name}")
        step = self._call_step("source", head.call, None, info)
        if step is None or not isinstance(step.output_type, RecordT):
            return step, OPEN_RECORD
        return step, step.output_type

    def _call_step(
        self, role: str, call: ast.Call, record: RecordT | None, info: ir.StepInfo
    ) -> ir.CallStep | None:
        spec = self.calls.find_stage(role, call)
        if spec is None:
            return None
        bound, out = self.calls.check_stage(spec, call, record)
        if not bound.ok:
            return _call(spec, (), info, record, out)
        return _call(spec, plan_args(spec.params, bound.values), info, record, out)

    # ------------------------------------------------------------ stages

    def _stage(
        self, stage: ast.Stage, record: RecordT, info: ir.StepInfo
    ) -> tuple[ir.Step | None, RecordT]:
        if isinstance(stage, ast.ProcessorStage):
            step = self._call_step("processor", stage.call, record, info)
            if step is None:
                # an unknown processor may add anything: keep what is known, open the rest
                return None, RecordT(record.fields, open=True)
            return step, as_record(step.output_type)
        if isinstance(stage, ast.WhereStage):
            return self._where(stage, record, info), record
        if isinstance(stage, ast.SetStage):
            return self._set(stage, record, info)
        if isinstance(stage, ast.DropStage):
            return self._drop(stage, record, info)
        if isinstance(stage, ast.KeepStage):
            return self._keep(stage, record, info)
        if isinstance(stage, ast.RenameStage):
            return self._rename(stage, record, info)
        if isinstance(stage, ast.SummarizeStage):
            return check_summarize(stage, record, info, self.rep)
        raise TypeError(f"not a stage node: {type(stage).__name__}")

    def _where(self, stage: ast.WhereStage, record: RecordT, info: ir.StepInfo) -> ir.WhereStep:
        cond = self.exprs.check(stage.cond, record)
        span = pick_span(stage.cond.span, stage.span)
        if not is_condition(cond.type):
            self.rep.error(
                codes.NOT_BOOL,
                f"`where` needs a bool condition; this is {cond.type}",
                span,
                hint="compare it, e.g. `where status >= 500`",
            )
        elif const_bool(cond) is False:
            self.rep.warn(
                codes.UNREACHABLE,
                "this `where` never passes a record",
                pick_span(stage.span, span),
                hint="its condition is always false (null counts as false)",
            )
        return ir.WhereStep(info, cond)

    def _route(self, stage: ast.RouteStage, record: RecordT, info: ir.StepInfo) -> ir.RouteStep:
        """Type each route's condition; warn of routes no record can take:
        after `else` or an always-true condition, with an always-false
        condition, or with the same condition as an earlier route."""
        routes: list[tuple[str, ir.TExpr | None]] = []
        takes_all: str | None = None  # the route before that takes every record
        seen: list[tuple[ast.Expr, str]] = []  # earlier conditions (spans aside) and routes
        for route in stage.routes:
            at = pick_span(route.name_span, route.span)
            cond = None
            if route.cond is not None:
                cond = self.exprs.check(route.cond, record)
                if not is_condition(cond.type):
                    self.rep.error(
                        codes.NOT_BOOL,
                        f"route `{route.target}` needs a bool condition; this is {cond.type}",
                        pick_span(route.cond.span, route.span),
                        hint="compare it, e.g. `alerts: status >= 500`",
                    )
            routes.append((route.target, cond))
            why = None
            if takes_all is not None:
                why = f"route `{takes_all}` before it takes every record"
            elif cond is not None and const_bool(cond) is False:
                why = "its condition is always false (null counts as false)"
            elif (same := next((t for c, t in seen if c == route.cond), None)) is not None:
                why = f"route `{same}` before it has the same condition"
            if why is not None:
                self.rep.warn(
                    codes.ROUTE_UNREACHABLE,
                    f"route `{route.target}` can never take a record",
                    at,
                    hint=why,
                )
            if route.cond is None or (cond is not None and const_bool(cond) is True):
                takes_all = takes_all or route.target
            else:
                seen.append((route.cond, route.target))
        texts = tuple("else" if r.cond is None else format_expr(r.cond) for r in stage.routes)
        return ir.RouteStep(info, tuple(routes), texts)

    def _set(self, stage: ast.SetStage, record: RecordT, info: ir.StepInfo):
        assignments = []
        seen: set[tuple[str, ...]] = set()
        for a in stage.assignments:
            path = a.target.path
            span = pick_span(a.target.span, a.span)
            value = self.exprs.check(a.value, record)
            if path in seen:
                self._twice(path, "set", span)
            seen.add(path)
            record = set_path(record, path, value.type, span, self.rep)
            assignments.append((path, value))
        return ir.SetStep(info, tuple(assignments)), record

    def _drop(self, stage: ast.DropStage, record: RecordT, info: ir.StepInfo):
        paths = []
        for f in stage.fields:
            if f.path in paths:
                self._twice(f.path, "drop", f.span)
                continue
            paths.append(f.path)
            if lookup(record, f.path, f.span, self.rep) is not None:
                record = remove_path(record, f.path)
        return ir.DropStep(info, tuple(paths)), record

    def _keep(self, stage: ast.KeepStage, record: RecordT, info: ir.StepInfo):
        paths, kept = [], []
        for f in stage.fields:
            if f.path in paths:
                self._twice(f.path, "keep", f.span)
                continue
            paths.append(f.path)
            if lookup(record, f.path, f.span, self.rep) is not None:
                kept.append(f.path)
        return ir.KeepStep(info, tuple(paths)), keep_paths(record, kept)

    def _rename(self, stage: ast.RenameStage, record: RecordT, info: ir.StepInfo):
        pairs = []
        olds: set[tuple[str, ...]] = set()
        news: set[tuple[str, ...]] = set()
        for pair in stage.pairs:
            old, new = pair.old.path, pair.new.path
            old_span = pick_span(pair.old.span, pair.span)
            new_span = pick_span(pair.new.span, pair.span)
            if old in olds:
                self._twice(old, "rename", old_span)
            if new in news:
                self._twice(new, "rename", new_span)
            olds.add(old)
            news.add(new)
            pairs.append((old, new))
            typ = lookup(record, old, old_span, self.rep)
            if typ is None:
                continue
            if declared(record, new):
                self.rep.error(
                    codes.FIELD_EXISTS,
                    f"cannot rename `{path_label(old)}` as `{path_label(new)}`: "
                    f"`{path_label(new)}` already exists",
                    new_span,
                    hint=f"drop `{path_label(new)}` first, or choose another name",
                )
                continue
            record = rename_path(record, old, new, typ, new_span, self.rep)
        return ir.RenameStep(info, tuple(pairs)), record

    def _twice(self, path: tuple[str, ...], stage: str, span: Span) -> None:
        self.rep.error(
            codes.DUPLICATE_FIELD, f"`{path_label(path)}` is named twice in one `{stage}`", span
        )


def _names_a_sink(stage: ast.Stage) -> bool:
    return isinstance(stage, ast.ProcessorStage) and find("sink", stage.call.name) is not None


def _call(
    spec: StageSpec, args: tuple, info: ir.StepInfo, record: RecordT | None, out: Type | None
) -> ir.CallStep:
    return ir.CallStep(
        info, spec.role, spec.name, spec.module, spec.runtime, args, spec.may_drop, record, out
    )


_RELATIONAL_WORDS = {
    ast.WhereStage: "where",
    ast.SetStage: "set",
    ast.DropStage: "drop",
    ast.KeepStage: "keep",
    ast.RenameStage: "rename",
    ast.SummarizeStage: "summarize",
    ast.RouteStage: "route",
}


def _fallback_label(stage: ast.Stage) -> str:
    if isinstance(stage, ast.ProcessorStage):
        return stage.call.name
    if isinstance(stage, ast.SinkStage):
        return f"sink {stage.call.name}"
    return _RELATIONAL_WORDS.get(type(stage), "stage")
