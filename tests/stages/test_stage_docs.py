"""docs/stages.md is rendered from the catalogue and up to date; every stage
example checks clean; every processor example with input and output records
gives exactly that output through a compiled pipeline.

After a deliberate change: `python -m flowlang.stagedocs` (or
`python -m tests.regen tests.stages.test_stage_docs`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from flowlang import stagedocs
from flowlang.builtins import FUNCTIONS
from flowlang.checker import check
from flowlang.diagnostics import render_all
from flowlang.names import is_identifier
from flowlang.parser import parse
from flowlang.runtime import jsonl
from flowlang.source import SourceFile
from flowlang.stages import CATALOGUE, summarize
from flowlang.stages.spec import ParamKind
from tests.flowrun import run_flow

DOCS = Path(__file__).resolve().parents[2] / "docs" / "stages.md"


def regenerate() -> list[Path]:
    """Rewrite docs/stages.md from the catalogue."""
    text = stagedocs.render()
    if not DOCS.exists() or DOCS.read_text(encoding="utf-8") != text:
        DOCS.write_text(text, encoding="utf-8")
        return [DOCS]
    return []


def all_examples():
    for spec in CATALOGUE:
        for i, example in enumerate(spec.examples):
            yield pytest.param(spec.role, example, id=f"{spec.name}:{i}")


EXAMPLES = list(all_examples())
WITH_RECORDS = [p for p in EXAMPLES if p.values[1].input is not None]


def program_of(role: str, code: str, schema: str = "", source_args: str = "") -> str:
    if role not in ("processor", "window"):  # a source or sink example is a whole program
        return code
    return (
        f'{schema}\nsource file("input.jsonl", format=json{source_args})\n'
        f'  | {code}\n  | sink file("output.jsonl")\n'
    )


def test_stages_md_is_up_to_date():
    assert DOCS.read_text(encoding="utf-8") == stagedocs.render(), (
        "docs/stages.md is out of date: run python -m flowlang.stagedocs"
    )


def test_stagedocs_check_command(tmp_path):
    stale = tmp_path / "stages.md"
    stale.write_text("old\n")
    assert stagedocs.main(["--check", "-o", str(stale)]) == 1
    assert stagedocs.main(["-o", str(stale)]) == 0
    assert stagedocs.main(["--check", "-o", str(stale)]) == 0
    assert stale.read_text() == stagedocs.render()


def test_every_stage_function_and_aggregate_is_documented():
    text = stagedocs.render()
    for spec in CATALOGUE:
        assert f"### `{spec.name}`" in text
        assert spec.doc in text
        assert spec.examples, f"{spec.name} has no example"
        for param in spec.params:
            if param.kind is ParamKind.SYNTAX:  # a clause, listed by its doc
                assert f"- {param.doc}\n" in text
            else:
                assert f"| `{param.name}` |" in text
    assert "### `summarize`" in text and f"`{summarize.SPEC.form}`" in text
    for name in FUNCTIONS:
        assert f"| `{name}(" in text
    for name in ("p95(field)", "distinct_count(field)", "count()"):
        assert f"| `{name}` |" in text


def test_rendering_is_deterministic():
    assert stagedocs.render() == stagedocs.render()


@pytest.mark.parametrize(("role", "example"), EXAMPLES)
def test_example_checks_clean(role, example):
    text = program_of(role, example.code)
    src = SourceFile("example.flow", text)
    program, diags = parse(src)
    assert program is not None, render_all(diags, src)
    _, more = check(program, src)
    errors = [d for d in list(diags) + list(more) if d.is_error]
    assert not errors, render_all(errors, src)


def _type_name(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "time"
    if isinstance(value, str):
        return "str"
    return "any"


def input_schema(records) -> str:
    """A schema that reads back the times of example inputs (JSON has no time type)."""
    if not any(isinstance(v, dt.datetime) for r in records for v in r.values()):
        return ""
    names: dict[str, set] = {}
    for rec in records:
        for key, value in rec.items():
            names.setdefault(key, set()).add(_type_name(value))
    fields = []
    for key, types in names.items():
        nullable = None in types or any(key not in r for r in records)
        types.discard(None)
        typ = "float" if types == {"int", "float"} else types.pop() if len(types) == 1 else "any"
        label = key if is_identifier(key) else f"`{key}`"
        fields.append(f"{label}: {typ}{'?' if nullable and typ != 'any' else ''}")
    return "schema ExampleInput { " + ", ".join(fields) + " }"


@pytest.mark.parametrize(("role", "example"), WITH_RECORDS)
def test_example_output_through_a_compiled_pipeline(tmp_path, role, example):
    schema = input_schema(example.input)
    text = program_of(role, example.code, schema, ", schema=ExampleInput" if schema else "")
    result = run_flow(text, tmp_path, records=example.input)
    assert result.exit_code == 0, result.stderr
    assert result.errors == []
    assert result.output == [jsonl.loads(jsonl.dumps(r)) for r in example.output]
