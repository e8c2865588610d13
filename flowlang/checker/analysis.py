"""What an editor asks of a checked program: the diagnostics `flowc check`
reports, and what the checker found on the way, errors or not: the record
type before and after every stage of every chain, and where each pipeline
and schema is named."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .. import ast, ir
from ..diagnostics import Diagnostic
from ..source import SourceFile, Span
from ..types import RecordT
from .imports import imported_path


@dataclass(frozen=True)
class StagePoint:
    """One stage of a chain (index 0: its head) and the record types around it."""

    pipeline: str
    index: int
    node: ast.Head | ast.Stage
    before: RecordT | None  # None for a head
    after: RecordT | None  # None for a sink

    @property
    def span(self) -> Span:
        return self.node.span


@dataclass(frozen=True)
class Analysis:
    src: SourceFile
    # the statements that parse (when the text has a syntax error, the
    # statements that parse on their own, checked only for their types)
    program: ast.Program
    parsed: bool  # no syntax error: `diagnostics` are the checker's too
    plan: ir.Plan | None  # None when there are errors
    diagnostics: tuple[Diagnostic, ...]
    stages: tuple[StagePoint, ...] = ()  # in source order
    pipelines: dict[str, Span] = field(default_factory=dict)  # name -> where it is named
    # name -> its type and where it is named, in `src` or in `schema_files[name]`
    schemas: dict[str, tuple[RecordT, Span]] = field(default_factory=dict)
    schema_files: dict[str, SourceFile] = field(default_factory=dict)  # imported ones
    # the other files the diagnostics depend on: those imported or read by a
    # stage, and the direct imports that could not be read (an editor checks
    # again when one of them changes)
    inputs: tuple[str, ...] = ()

    def stage_at(self, offset: int) -> StagePoint | None:
        """The stage whose text holds `offset` (its end included)."""
        for point in self.stages:
            if point.span.start <= offset <= point.span.end:
                return point
        return None

    def stage_before(self, offset: int) -> StagePoint | None:
        """The last stage that ends at or before `offset`."""
        found = None
        for point in self.stages:
            if point.span.end <= offset and (found is None or point.span.end > found.span.end):
                found = point
        return found


def collect(
    src: SourceFile,
    program: ast.Program,
    plan: ir.Plan | None,
    diagnostics: list[Diagnostic],
    checker,
    parsed: bool = True,
) -> Analysis:
    """The Analysis of a program from what its `ProgramChecker` kept."""
    stages = [
        StagePoint(name, index, t.node, t.before, t.after)
        for name, result in checker.chains
        for index, t in enumerate(result.types)
    ]
    stages.sort(key=lambda p: (p.span.start, p.span.end))
    schemas = {
        name: (checker.schemas[name], node.name_span)
        for name, (node, _) in checker.schema_decls.items()
        if name in checker.schemas
    }
    files = {
        name: where
        for name, (_, where) in checker.schema_decls.items()
        if name in schemas and where is not src
    }
    imports = [
        os.path.abspath(imported_path(src, stmt.path))
        for stmt in program.statements
        if isinstance(stmt, ast.Import)
    ]
    return Analysis(
        src,
        program,
        parsed,
        plan,
        tuple(diagnostics),
        tuple(stages),
        dict(checker.pipelines),
        schemas,
        files,
        tuple(dict.fromkeys([*checker.inputs, *imports])),
    )
