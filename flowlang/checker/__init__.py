"""The type checker: ast.Program -> ir.Plan, with every diagnostic of the file.

    check(program, src)   the checker proper
    check_source(src)     parse, then check (what `flowc check` runs)
    analyze(src)          check_source, and the types around every stage (for editors)

The parts: `program` (schemas, pipeline graph, plan), `chain` (stages in
order), `calls` (catalogue stages and their arguments), `exprs`
(expressions), `summarize`, `records` (record types under set/drop/keep/
rename) and `report` (collecting and wording diagnostics).
"""

from __future__ import annotations

from .. import ast, codes, ir
from ..diagnostics import Diagnostic
from ..source import SourceFile
from .analysis import Analysis, StagePoint, collect
from .program import ProgramChecker, pipeline_name_for_file

__all__ = [
    "Analysis",
    "StagePoint",
    "analyze",
    "check",
    "check_source",
    "pipeline_name_for_file",
]


def check(program: ast.Program, src: SourceFile) -> tuple[ir.Plan | None, list[Diagnostic]]:
    """Type-check `program` (parsed from `src`): the plan, or None when there
    are errors, and all diagnostics (errors and warnings) in source order."""
    return _run(ProgramChecker(program, src), program, src)


def _run(
    checker: ProgramChecker, program: ast.Program, src: SourceFile
) -> tuple[ir.Plan | None, list[Diagnostic]]:
    try:
        return checker.run()
    except Exception as exc:  # noqa: BLE001 - reported as what it is, a checker bug
        # The one place a bug in the checker is caught: it becomes a plainly
        # labelled internal error next to what was found before it, never a
        # disguised user error and never a crash of `flowc`.
        found = checker.rep.sorted()
        internal = Diagnostic(
            codes.INTERNAL,
            "error",
            f"internal compiler error: the checker failed with {type(exc).__name__}: {exc}",
            program.span,
            hint="this is a bug in flowc, not in your program; please report it with this file",
            file=src,
        )
        return None, found + [internal]


def check_source(src: SourceFile) -> tuple[ir.Plan | None, list[Diagnostic]]:
    """Parse and check `src`. Syntax errors stop before checking."""
    from ..parser import parse

    program, diags = parse(src)
    if program is None or any(d.is_error for d in diags):
        return None, list(diags)
    plan, checked = check(program, src)
    return plan, list(diags) + checked


def analyze(src: SourceFile) -> Analysis:
    """`check_source(src)` for an editor: the same diagnostics, and the record
    types around every stage and the declared names, errors or not. When
    the text does not parse, the statements that do are checked for their
    types (what the checker says of them is not reported: `flowc check`
    stops at syntax errors)."""
    from ..parser import parse_partial

    program, diags = parse_partial(src)
    checker = ProgramChecker(program, src)
    if any(d.is_error for d in diags):
        _run(checker, program, src)
        return collect(src, program, None, list(diags), checker, parsed=False)
    plan, checked = _run(checker, program, src)
    return collect(src, program, plan, list(diags) + checked, checker)
