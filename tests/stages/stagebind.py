"""Stage instances built the way generated code builds them: the stage call is
checked by the real checker and its bound arguments passed to the runtime class
by the generator's calling convention."""

from __future__ import annotations

import importlib

from flowlang import ir
from flowlang.checker import check
from flowlang.codegen.calls import runtime_args
from flowlang.diagnostics import render_all
from flowlang.parser import parse
from flowlang.runtime.base import StageContext
from flowlang.source import SourceFile


def bound_args(stage_code: str, prelude: str = "") -> tuple[ir.CallStep, dict]:
    """The checked CallStep of `stage_code` (a processor as written) and the
    keyword arguments its runtime class gets."""
    text = f"{prelude}\nsource stdin(format=json)\n  | {stage_code}\n  | sink stdout\n"
    src = SourceFile("stage.flow", text)
    program, diags = parse(src)
    assert program is not None, render_all(diags, src)
    plan, more = check(program, src)
    assert plan is not None, render_all(list(diags) + list(more), src)
    step = plan.pipelines[0].steps[0]
    assert isinstance(step, ir.CallStep), step
    return step, dict(runtime_args(step))


def make_stage(stage_code: str, prelude: str = "", ctx: StageContext | None = None):
    """An instance of the runtime class of `stage_code`, bound like generated code does."""
    step, args = bound_args(stage_code, prelude)
    cls = getattr(importlib.import_module(step.module), step.runtime)
    ctx = ctx or StageContext("stage", f"{step.info.label} (stage.flow:3)", "stage.flow:3")
    return cls(ctx, **args)
