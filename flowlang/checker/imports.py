"""`import "schemas.flow"`: the schemas of other files.

An import names a file relative to the directory of the file that imports
it. The imported file is parsed like any other; its schemas, and those of the
files it imports in turn, join the program's (one name space: a name
declared twice is E103, wherever the two are). Only schemas: the imported
file's pipelines and tests are not part of the importing program, so a
team's schema file can also be a program of its own. A file imported twice
(directly, or through two others) is read once; files that import each
other are E116, the chain shown; a file that cannot be read is E115 at the
import. When an import could not be read or parsed, a schema name the
program does not know, and that is close to no name it knows, is not
reported (E107, E110): it may well be one of the missing file's, and the
import's own error says what to fix. Every file read is noted
(`ir.Plan.inputs`), so a cached compile is redone when one of them changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import ast, codes
from ..source import SourceFile, Unreadable, read_file
from .report import Reporter, pick_span


@dataclass
class Imported:
    """The schemas of the imported files; `complete` is False when one of
    them could not be read or parsed (so some of its schemas are missing)."""

    schemas: list["ImportedSchema"]
    complete: bool = True


@dataclass(frozen=True)
class ImportedSchema:
    """A schema declared in an imported file, and that file."""

    schema: ast.Schema
    src: SourceFile


def imported_path(importer: SourceFile, path: str) -> str:
    """The file `import "path"` in `importer` names, as it is shown in
    messages: relative to the importer's directory."""
    return os.path.normpath(os.path.join(os.path.dirname(importer.name), path))


def load_imports(
    program: ast.Program, src: SourceFile, rep: Reporter, inputs: list[str]
) -> Imported:
    """The schemas of the files `program` imports, directly or not, in the
    order they are met; their problems are reported with their own file."""
    found: list[ImportedSchema] = []
    result = Imported(found)
    done: set[str] = set()
    chain: list[tuple[str, str]] = [(os.path.abspath(src.name), src.name)]

    def visit(program: ast.Program, src: SourceFile) -> None:
        for stmt in program.statements:
            if not isinstance(stmt, ast.Import):
                continue
            shown = imported_path(src, stmt.path)
            where = os.path.abspath(shown)
            span = pick_span(stmt.path_span, stmt.span)
            keys = [key for key, _ in chain]
            if where in keys:
                cycle = [name for _, name in chain[keys.index(where) :]] + [shown]
                with rep.in_file(src):
                    rep.error(
                        codes.IMPORT_CYCLE,
                        "files import each other: " + " → ".join(cycle),
                        span,
                        hint="move the schemas they share into a file that imports neither",
                    )
                continue
            if where in done:
                continue
            done.add(where)
            try:
                imported = read_file(shown)
            except Unreadable as exc:
                with rep.in_file(src):
                    rep.error(codes.BAD_IMPORT, str(exc), span, hint=_hint(stmt.path))
                result.complete = False
                continue
            if where not in inputs:
                inputs.append(where)
            from ..parser import parse

            parsed, diagnostics = parse(imported)
            rep.add(diagnostics)
            if parsed is None:
                result.complete = False
                continue
            found.extend(
                ImportedSchema(s, imported) for s in parsed.statements if isinstance(s, ast.Schema)
            )
            chain.append((where, shown))
            visit(parsed, imported)
            chain.pop()

    visit(program, src)
    return result


def _hint(path: str) -> str:
    if os.path.isabs(path):
        return "the path is the file's own"
    return "the path is taken from the directory of the importing file"
