"""`flowc lsp`: the language server over stdio (pygls). It translates between
the protocol and `editing` (what to show) and `positions` (offsets ↔
positions); the checker does the work, so diagnostics are exactly those of
`flowc check`."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__, ast
from ..checker import Analysis, analyze
from ..checker.imports import imported_path
from ..diagnostics import Diagnostic
from ..formatter import format_source
from ..source import SourceFile, Span
from . import editing
from .positions import LineIndex

_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}
_KINDS = {
    "stage": types.CompletionItemKind.Class,
    "keyword": types.CompletionItemKind.Keyword,
    "field": types.CompletionItemKind.Field,
    "function": types.CompletionItemKind.Function,
    "parameter": types.CompletionItemKind.Property,
    "option": types.CompletionItemKind.EnumMember,
    "pipeline": types.CompletionItemKind.Reference,
    "schema": types.CompletionItemKind.Struct,
    "value": types.CompletionItemKind.Value,
}


class FlowServer(LanguageServer):
    """A LanguageServer that keeps, per document, the analysis of its text
    and the last analysis of a text that parsed (completion falls back on it
    while the text does not)."""

    def __init__(self) -> None:
        super().__init__(
            "flowc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full
        )
        # uri -> (its text, the stamps of the files it depends on, its analysis)
        self.current: dict[str, tuple[str, tuple, Analysis]] = {}
        self.parsed: dict[str, Analysis] = {}

    def source(self, uri: str) -> SourceFile:
        document = self.workspace.get_text_document(uri)
        return SourceFile(document.path or uri, document.source)

    def analysis(self, uri: str) -> Analysis:
        src = self.source(uri)
        cached = self.current.get(uri)
        if cached is not None and cached[0] == src.text and cached[1] == _stamps(cached[2]):
            return cached[2]
        analysis = analyze(src)
        self.current[uri] = (src.text, _stamps(analysis), analysis)
        if analysis.parsed:
            self.parsed[uri] = analysis
        return analysis

    def lines(self, text: str) -> LineIndex:
        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return LineIndex(text, str(getattr(encoding, "value", encoding)))

    def range(self, lines: LineIndex, span: Span) -> types.Range:
        start, end = lines.position(span.start), lines.position(span.end)
        return types.Range(
            start=types.Position(line=start[0], character=start[1]),
            end=types.Position(line=end[0], character=end[1]),
        )

    def offset(self, text: str, position: types.Position) -> int:
        return self.lines(text).offset(position.line, position.character)

    def publish(self, uri: str) -> None:
        analysis = self.analysis(uri)
        lines = self.lines(analysis.src.text)
        diagnostics = [
            self.diagnostic(uri, lines, _at_import(analysis, d)) for d in analysis.diagnostics
        ]
        version = self.workspace.get_text_document(uri).version
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def diagnostic(self, uri: str, lines: LineIndex, d: Diagnostic) -> types.Diagnostic:
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri, range=self.range(lines, label.span)),
                message=label.message,
            )
            for label in d.labels
        ]
        return types.Diagnostic(
            range=self.range(lines, d.span),
            message=d.message + (f"\n{d.hint}" if d.hint else ""),
            severity=_SEVERITY[d.severity],
            code=d.code,
            source="flowc",
            related_information=related or None,
            data={"hint": d.hint} if d.hint else None,
        )


def _stamps(analysis: Analysis) -> tuple:
    """What the files an analysis depends on (imported, or read by a stage)
    look like on disk now: a changed, new or removed file is a new stamp."""
    stamps = []
    for path in analysis.inputs:
        try:
            st = os.stat(path)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamps)


def _at_import(analysis: Analysis, d: Diagnostic) -> Diagnostic:
    """`d` as the analysed file shows it: one about an imported file stands
    at the import that reads that file (or the first import), naming where
    it is; labels in other files are left out."""
    src = analysis.src
    labels = tuple(label for label in d.labels if label.file in (None, src))
    if d.file is None or d.file.name == src.name:
        return dataclasses.replace(d, labels=labels)
    imports = [s for s in analysis.program.statements if isinstance(s, ast.Import)]
    if not imports:
        return dataclasses.replace(d, labels=labels)
    at = next((s for s in imports if imported_path(src, s.path) == d.file.name), imports[0])
    line, column = d.file.line_col(d.span.start)
    return dataclasses.replace(
        d,
        message=f"{d.file.name}:{line}:{column}: {d.message}",
        span=at.span,
        labels=labels,
        file=src,
    )


server = FlowServer()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: FlowServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: FlowServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.publish(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: FlowServer, params: types.DidSaveTextDocumentParams) -> None:
    """A saved file may be one that other open documents import: each of
    them is checked again if a file it depends on changed on disk."""
    saved = params.text_document.uri
    ls.publish(saved)
    for uri, (_, stamps, analysis) in list(ls.current.items()):
        if uri != saved and stamps != _stamps(analysis):
            ls.publish(uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: FlowServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    ls.current.pop(uri, None)
    ls.parsed.pop(uri, None)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: FlowServer, params: types.HoverParams) -> types.Hover | None:
    analysis = ls.analysis(params.text_document.uri)
    text = analysis.src.text
    found = editing.hover(analysis, ls.offset(text, params.position))
    if found is None:
        return None
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=found.markdown),
        range=ls.range(ls.lines(text), found.span),
    )


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION,
    types.CompletionOptions(trigger_characters=["|", " ", ".", "(", ",", "="]),
)
def completion(ls: FlowServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    src = ls.source(uri)
    ls.analysis(uri)  # keeps the last analysis that parsed up to date
    found = editing.completions(
        src.name, src.text, ls.offset(src.text, params.position), ls.parsed.get(uri)
    )
    items = [
        types.CompletionItem(
            label=c.label,
            kind=_KINDS[c.kind],
            detail=c.detail or None,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=c.doc)
            if c.doc
            else None,
            insert_text=c.insert if c.insert is not None and c.insert != c.label else None,
            sort_text=f"{i:04d}",
        )
        for i, c in enumerate(found)
    ]
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: FlowServer, params: types.DefinitionParams) -> types.Location | None:
    uri = params.text_document.uri
    analysis = ls.analysis(uri)
    text = analysis.src.text
    offset = ls.offset(text, params.position)
    span = editing.definition(analysis, offset)
    if span is None:
        return None
    where = editing.definition_file(analysis, offset)
    if where is not analysis.src:  # an imported schema
        uri = Path(os.path.abspath(where.name)).as_uri()
        text = where.text
    return types.Location(uri=uri, range=ls.range(ls.lines(text), span))


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: FlowServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
    src = ls.source(params.text_document.uri)
    text, _ = format_source(src)
    if text is None or text == src.text:
        return []
    whole = ls.range(ls.lines(src.text), Span(0, len(src.text)))
    return [types.TextEdit(range=whole, new_text=text)]


def main() -> int:
    """Serve one client on stdin/stdout until it exits."""
    server.start_io()
    return 0
