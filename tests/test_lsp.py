"""`flowc lsp` driven over stdio by a real LSP client (pytest-lsp, with the
capabilities VS Code announces): diagnostics equal `flowc check`'s with
UTF-16 ranges, hover shows types and docs, completion offers stages, fields
of the point and parameters, definition finds pipelines and schemas, and
formatting gives `flowc fmt`'s text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from flowlang.checker import check_source
from flowlang.formatter import format_source
from flowlang.lsp.positions import LineIndex
from flowlang.source import SourceFile
from flowlang.stages import CATALOGUE

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = [sys.executable, "-m", "flowlang.cli", "lsp"]


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


_opened = 0


async def open_doc(client: LanguageClient, text: str, name: str = "doc.flow") -> str:
    """Open `text` as a new document; wait for its diagnostics."""
    global _opened
    _opened += 1
    return await open_file(client, Path("/tmp") / f"lsp{_opened}" / name, text)


async def open_file(client: LanguageClient, path: Path, text: str) -> str:
    """Open `text` as the document of `path` (whose imports are read from
    its folder); wait for its diagnostics."""
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="flow", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def position(text: str, needle: str, after: int = 0) -> types.Position:
    """The UTF-16 position of `needle` (plus `after` characters) in `text`."""
    line, char = LineIndex(text).position(text.index(needle) + after)
    return types.Position(line=line, character=char)


def end_of(text: str) -> types.Position:
    line, char = LineIndex(text).position(len(text))
    return types.Position(line=line, character=char)


BROKEN = """\
# café ☕ — the record type has a clef 𝄞 in it
schema Event {ts: time, email: str?, status: int}

pipeline p =
  source file("in.jsonl", format=json, schema=Event)
  | set note = "naïve 𝄞", x = emial
  | where status > "500"
  | sink stdout
"""


async def test_diagnostics_are_flowc_checks_with_utf16_ranges(client: LanguageClient):
    uri = await open_doc(client, BROKEN)
    got = client.diagnostics[uri]
    _, expected = check_source(SourceFile("/tmp/doc.flow", BROKEN))
    assert [(d.code, d.message.split("\n")[0]) for d in got] == [
        (e.code, e.message) for e in expected
    ]
    assert all(d.source == "flowc" for d in got)
    unknown = next(d for d in got if d.code == "E201")
    line = BROKEN.splitlines()[5]
    column = line.index("emial")
    # the clef before it is two UTF-16 code units, one Python character
    assert unknown.range == types.Range(
        start=types.Position(line=5, character=column + 1),
        end=types.Position(line=5, character=column + 1 + len("emial")),
    )
    assert unknown.severity == types.DiagnosticSeverity.Error
    e201 = next(e for e in expected if e.code == "E201")
    assert e201.hint and unknown.message == f"{e201.message}\n{e201.hint}"


async def test_a_change_that_fixes_the_file_clears_the_diagnostics(client: LanguageClient):
    uri = await open_doc(client, BROKEN)
    assert client.diagnostics[uri]
    await change(client, uri, BROKEN.replace("emial", "email").replace('"500"', "500"), 2)
    assert list(client.diagnostics[uri]) == []


QUICK = """\
schema Event {ts: time, ip: ip, email: str?, status: int}

pipeline events =
  source file("in.jsonl", format=json, schema=Event)
  | geoip(ip)
  | set slow = status >= 500
  | drop ip
  | sink stdout

pipeline failures =
  from events
  | where slow
  | sink null
"""


async def hover_at(client: LanguageClient, uri: str, pos: types.Position) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos)
    )
    assert result is not None
    return result.contents.value


async def test_hover_on_a_stage_name_shows_its_signature_docs_and_types(client: LanguageClient):
    uri = await open_doc(client, QUICK)
    text = await hover_at(client, uri, position(QUICK, "geoip(ip)", 2))
    assert "geoip(field=ip, into=geo, db=…)" in text
    assert "MaxMind" in text  # its doc, from the stage's declaration
    record_in, record_out = text.split("record in:")[1].split("record out:")
    assert "geo:" not in record_in and "geo: {country_iso: str?" in record_out


async def test_hover_on_a_relational_stage_shows_the_record_after_it(client: LanguageClient):
    uri = await open_doc(client, QUICK)
    text = await hover_at(client, uri, position(QUICK, "drop ip", 1))
    record_in, record_out = text.split("record in:")[1].split("record out:")
    assert "  ip: ip," in record_in and "  ip: ip," not in record_out
    assert "  slow: bool," in record_out


async def test_hover_on_a_field_and_on_a_builtin(client: LanguageClient):
    text = QUICK.replace("| where slow", '| where slow and lower("A") == "a"')
    uri = await open_doc(client, text)
    assert "slow: bool" in await hover_at(client, uri, position(text, "where slow", 7))
    builtin = await hover_at(client, uri, position(text, "lower(", 1))
    assert "lower(s: str) -> str" in builtin


async def complete(client: LanguageClient, uri: str, pos: types.Position) -> list[str]:
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=pos)
    )
    assert isinstance(result, types.CompletionList)
    return [item.label for item in result.items]


async def test_completion_after_a_pipe_lists_the_stages(client: LanguageClient):
    text = 'source file("in.jsonl") | '
    labels = await complete(client, await open_doc(client, text), end_of(text))
    processors = [s.name for s in CATALOGUE if s.role == "processor"]
    assert processors and set(processors) <= set(labels)
    assert {"where", "set", "drop", "keep", "rename", "summarize", "sink"} <= set(labels)
    assert "file" not in labels  # a source and a sink, not a processor


async def test_completion_after_where_lists_the_fields_of_that_point(client: LanguageClient):
    text = QUICK.replace("  | drop ip\n", "  | drop ip\n  | where \n")
    uri = await open_doc(client, text)
    labels = await complete(client, uri, position(text, "| where ", len("| where ")))
    assert {"ts", "email", "status", "geo", "slow"} <= set(labels)
    assert "ip" not in labels  # dropped just before
    assert "lower" in labels  # builtins are expressions too
    # before the drop, `ip` is there
    text = QUICK.replace("  | drop ip\n", "  | where \n  | drop ip\n")
    uri = await open_doc(client, text)
    assert "ip" in await complete(client, uri, position(text, "| where ", len("| where ")))


async def test_completion_of_parameters_options_and_nested_fields(client: LanguageClient):
    text = QUICK.replace("| drop ip", "| anonymize(email, method=")
    uri = await open_doc(client, text)
    at = position(text, "method=", len("method="))
    assert await complete(client, uri, at) == ["hash", "mask", "redact"]
    text = QUICK.replace("| drop ip", "| anonymize(")
    uri = await open_doc(client, text)
    labels = await complete(client, uri, position(text, "anonymize(", len("anonymize(")))
    assert {"field=", "method=", "key=", "email"} <= set(labels)
    assert "status" not in labels  # an int: anonymize takes text
    text = QUICK.replace("| drop ip", "| where geo.")
    uri = await open_doc(client, text)
    labels = await complete(client, uri, position(text, "geo.", len("geo.")))
    assert labels == ["country_iso", "country", "city", "lat", "lon"]


async def test_completion_after_from_and_sink(client: LanguageClient):
    text = QUICK + "\npipeline more =\n  from "
    labels = await complete(client, await open_doc(client, text), end_of(text))
    assert labels == ["events", "failures"]
    text = 'source file("in.jsonl") | sink '
    labels = await complete(client, await open_doc(client, text), end_of(text))
    assert set(labels) == {s.name for s in CATALOGUE if s.role == "sink"}


async def test_definition_of_from_and_of_a_schema(client: LanguageClient):
    uri = await open_doc(client, QUICK)
    for at, target in (("from events", "events ="), ("schema=Event", "Event {")):
        result = await client.text_document_definition_async(
            types.DefinitionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=position(QUICK, at, len(at) - 2),
            )
        )
        start = position(QUICK, target)
        name = target.split()[0]
        assert result == types.Location(
            uri=uri,
            range=types.Range(
                start=start,
                end=types.Position(line=start.line, character=start.character + len(name)),
            ),
        )


async def test_formatting_gives_flowc_fmt_text(client: LanguageClient):
    messy = 'source   file("in.jsonl")|where status>500   |sink stdout # out\n'
    uri = await open_doc(client, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    expected, _ = format_source(SourceFile("doc.flow", messy))
    assert expected is not None and expected != messy
    assert list(edits) == [
        types.TextEdit(
            range=types.Range(start=types.Position(line=0, character=0), end=end_of(messy)),
            new_text=expected,
        )
    ]


async def test_hover_on_from_shows_what_the_pipeline_reads(client: LanguageClient):
    uri = await open_doc(client, QUICK)
    text = await hover_at(client, uri, position(QUICK, "from events", len("from e")))
    assert text.startswith("pipeline `events`") and "  slow: bool," in text
    # a keyword argument's name is not a field: the stage is shown
    text = await hover_at(client, uri, position(QUICK, "format=json", 1))
    assert "file(path" in text and "format: " not in text


async def change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)


async def test_completion_while_another_statement_does_not_parse(client: LanguageClient):
    uri = await open_doc(client, QUICK)
    broken = QUICK.replace("  | drop ip\n", "  | drop ip\n  | set fresh = 1\n  | where \n")
    broken = broken.replace("| where slow\n", "| where slow ==\n")
    await change(client, uri, broken, 2)
    assert client.diagnostics[uri]  # the syntax error is reported
    labels = await complete(client, uri, position(broken, "| where ", len("| where ")))
    # the statement being written is checked as it is now, the broken one left out
    assert {"ts", "email", "geo", "slow", "fresh"} <= set(labels) and "ip" not in labels
    # hover works in the statements that parse
    broken = QUICK.replace("| where slow\n", "| where slow ==\n")
    await change(client, uri, broken, 3)
    text = await hover_at(client, uri, position(broken, "geoip(ip)", 1))
    assert "geo: {country_iso: str?" in text


async def test_completion_while_the_chain_before_does_not_parse(client: LanguageClient):
    uri = await open_doc(client, QUICK)
    broken = QUICK.replace("  | drop ip\n", "  | drop ip\n  | where \n").replace(
        "set slow = status >= 500", "set slow = status >="
    )
    await change(client, uri, broken, 2)
    labels = await complete(client, uri, position(broken, "| where ", len("| where ")))
    # the fields come from the last text that parsed
    assert {"ts", "email", "geo", "slow"} <= set(labels) and "ip" not in labels


async def test_completion_in_a_source_call(client: LanguageClient):
    text = QUICK.replace("format=json, schema=Event)", "format=json, schema=")
    uri = await open_doc(client, text)
    assert await complete(client, uri, position(text, "schema=", len("schema="))) == ["Event"]
    text = QUICK.replace("format=json, schema=Event)", "format=")
    uri = await open_doc(client, text)
    labels = await complete(client, uri, position(text, "format=", len("format=")))
    assert {"auto", "json", "lines", "csv"} <= set(labels)


async def test_definition_of_an_imported_schema_is_in_its_file(client: LanguageClient, tmp_path):
    shared = "# the team's schemas\nschema Event { n: int }\n"
    (tmp_path / "schemas.flow").write_text(shared, encoding="utf-8")
    text = 'import "schemas.flow"\nsource stdin(format=json, schema=Event) | sink stdout\n'
    uri = await open_file(client, tmp_path / "main.flow", text)
    assert not client.diagnostics[uri]
    result = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position(text, "schema=Event", len("schema=E")),
        )
    )
    start = position(shared, "Event")
    assert result == types.Location(
        uri=(tmp_path / "schemas.flow").as_uri(),
        range=types.Range(start=start, end=types.Position(line=1, character=start.character + 5)),
    )


async def test_an_error_in_an_imported_file_stands_at_the_import(client: LanguageClient, tmp_path):
    (tmp_path / "schemas.flow").write_text("schema Event { n: integer }\n", encoding="utf-8")
    text = '# shared\nimport "schemas.flow"\nsource stdin | sink stdout\n'
    uri = await open_file(client, tmp_path / "other.flow", text)
    (found,) = client.diagnostics[uri]
    assert found.code == "E110" and found.message.startswith(
        f"{tmp_path / 'schemas.flow'}:1:19: unknown type `integer`"
    )
    assert found.range.start == types.Position(line=1, character=0)


async def test_a_saved_imported_file_checks_the_files_that_import_it_again(
    client: LanguageClient, tmp_path
):
    """The diagnostics of an open file follow the files it imports: saving
    a fixed schema file clears them, and an imported file that changed on
    disk is read again at the next change of the importing one."""
    import asyncio

    shared = tmp_path / "schemas.flow"
    shared.write_text("schema Event { n: integer }\n", encoding="utf-8")
    text = 'import "schemas.flow"\nsource stdin(format=json, schema=Event) | sink stdout\n'
    uri = await open_file(client, tmp_path / "main.flow", text)
    assert [d.code for d in client.diagnostics[uri]] == ["E110"]

    fixed = "schema Event { n: int }\n"
    shared.write_text(fixed, encoding="utf-8")
    shared_uri = await open_file(client, shared, fixed)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=shared_uri))
    )
    async with asyncio.timeout(30):
        while client.diagnostics[uri]:
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []

    # changed behind the editor's back: the next change of main.flow sees it
    shared.write_text("schema Event { n: integr }\n", encoding="utf-8")
    await change(client, uri, text + "# edited\n", 2)
    assert [d.code for d in client.diagnostics[uri]] == ["E110"]
