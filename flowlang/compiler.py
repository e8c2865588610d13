"""The one place where the compiler's stages are chained:

text ──parse──▶ ast.Program ──check──▶ ir.Plan ──generate──▶ Python source
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import ir
from .diagnostics import Diagnostic
from .names import python_identifier
from .source import SourceFile


@dataclass
class CompileResult:
    source: SourceFile
    module_name: str  # "web_flow" for web.flow
    code: str | None = None  # None when there were errors
    plan: ir.Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.code is not None


def module_name(path: str) -> str:
    """`web.flow` → `web_flow`: the generated module's name."""
    stem = os.path.basename(path)
    if stem.endswith(".flow"):
        stem = stem[: -len(".flow")]
    return python_identifier(stem) + "_flow"


def compile_source(src: SourceFile) -> CompileResult:
    """Parse, check and generate; diagnostics of every stage that ran."""
    from .checker import check
    from .parser import parse

    result = CompileResult(src, module_name(src.name))
    program, diagnostics = parse(src)
    result.diagnostics.extend(diagnostics)
    if program is None or any(d.is_error for d in diagnostics):
        return result
    plan, diagnostics = check(program, src)
    result.diagnostics.extend(diagnostics)
    if plan is None or any(d.is_error for d in diagnostics):
        return result
    from .codegen import generate

    result.plan = plan
    result.code = generate(plan)
    return result
