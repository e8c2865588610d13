"""`import "schemas.flow"`: the schemas of other files join a program's.
The diagnostics of each case are in tests/cases (e103_import_clash,
e110_imported_file_errors, e115_import_missing, e116_import_cycle,
ok_import_schemas); here, what takes more than one check: the files a
compile reads, the compile cache, `flowc check --format json`, `flowc fmt`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flowlang import ast, codes
from flowlang.checker import check_source
from flowlang.compiler import compile_source
from flowlang.formatter import format_source
from flowlang.parser import parse_text
from flowlang.source import SourceFile, read_file
from tests.flowrun import read_jsonl, run_flow_cli

FLOWC = str(Path(sys.executable).with_name("flowc"))

EVENT_INT = "schema Event { n: int }\n"
EVENT_STR = "schema Event { n: str }\n"
MAIN = (
    'import "shared/schemas.flow"\n'
    'source file("in.jsonl", format=json, schema=Event) | sink file("out.jsonl")\n'
)


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_imported_files_are_the_inputs_of_the_plan(tmp_path):
    _write(
        tmp_path,
        {
            "shared/schemas.flow": 'import "base/geo.flow"\n' + EVENT_INT,
            "shared/base/geo.flow": "schema Geo { city: str? }\n",
            "main.flow": MAIN,
        },
    )
    result = compile_source(read_file(tmp_path / "main.flow"))
    assert result.ok, result.diagnostics
    assert result.plan.inputs == (
        str(tmp_path / "shared" / "schemas.flow"),
        str(tmp_path / "shared" / "base" / "geo.flow"),
    )
    assert dict(result.plan.schemas).keys() == {"Event", "Geo"}


def test_a_changed_imported_file_is_compiled_again(tmp_path):
    """The cache keys a compile by the imported files' digests too: the
    second run sees the new schema."""
    _write(tmp_path, {"shared/schemas.flow": EVENT_INT, "main.flow": MAIN})
    (tmp_path / "in.jsonl").write_text('{"n": "seven"}\n', encoding="utf-8")
    env = {"FLOWC_CACHE_DIR": str(tmp_path / "cache")}
    first = run_flow_cli(tmp_path / "main.flow", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert read_jsonl(tmp_path / "out.jsonl") == []  # "seven" is no int: an error record
    (tmp_path / "shared" / "schemas.flow").write_text(EVENT_STR, encoding="utf-8")
    second = run_flow_cli(tmp_path / "main.flow", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert read_jsonl(tmp_path / "out.jsonl") == [{"n": "seven"}]


def test_json_diagnostics_name_the_file_they_are_about(tmp_path):
    _write(
        tmp_path,
        {"shared/schemas.flow": "\nschema Event { n: integer }\n", "main.flow": MAIN},
    )
    done = subprocess.run(
        [FLOWC, "check", "--format", "json", "main.flow"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    (found,) = [json.loads(line) for line in done.stdout.splitlines() + done.stderr.splitlines()
                if line.startswith("{")]  # fmt: skip
    assert (found["file"], found["line"], found["column"], found["code"]) == (
        os.path.join("shared", "schemas.flow"),
        2,
        19,
        codes.UNKNOWN_TYPE,
    )


def test_an_import_is_relative_to_the_importing_file_not_to_where_flowc_runs(tmp_path, monkeypatch):
    _write(tmp_path, {"project/shared/schemas.flow": EVENT_INT, "project/main.flow": MAIN})
    monkeypatch.chdir(tmp_path)
    _, diags = check_source(read_file(os.path.join("project", "main.flow")))
    assert diags == []
    _, diags = check_source(SourceFile("main.flow", MAIN))  # no such file from here
    assert [d.code for d in diags] == [codes.BAD_IMPORT]  # `Event` was to come from it


def test_after_a_failed_import_only_names_close_to_known_ones_are_reported(tmp_path):
    """A schema or type name the program does not know may be one of a file
    that could not be read or parsed: only the import's error is reported,
    unless the name is close to one the program knows (then it is a typo)."""
    uses = (
        "schema Local { at: time, event: Event }\n"
        'pipeline a = source file("in.jsonl", format=json, schema=Event) | sink file("a.jsonl")\n'
        'pipeline b = source file("in.jsonl", format=json, schema=Locl) | sink file("b.jsonl")\n'
    )
    cases = {
        "missing": ('import "shared/none.flow"\n', [codes.BAD_IMPORT, codes.UNKNOWN_SCHEMA]),
        "broken": ('import "shared/broken.flow"\n', [codes.SYNTAX, codes.UNKNOWN_SCHEMA]),
        "complete": (
            'import "shared/other.flow"\n',
            [codes.UNKNOWN_TYPE, codes.UNKNOWN_SCHEMA, codes.UNKNOWN_SCHEMA],
        ),
    }
    _write(
        tmp_path,
        {
            "shared/broken.flow": "schema Event { n: int\n",
            "shared/other.flow": "schema Geo { c: str }\n",
        },
    )
    for name, (imports, want) in cases.items():
        _write(tmp_path, {f"{name}.flow": imports + uses})
        _, diags = check_source(read_file(tmp_path / f"{name}.flow"))
        assert sorted(map(str, (d.code for d in diags))) == sorted(map(str, want)), (name, diags)
        typos = [d for d in diags if d.code == codes.UNKNOWN_SCHEMA and "`Locl`" in d.message]
        assert len(typos) == 1 and "Local" in typos[0].hint, (name, diags)


def test_only_schemas_are_imported(tmp_path):
    """The imported file's pipelines are its own: neither run nor named."""
    _write(
        tmp_path,
        {
            "shared/schemas.flow": EVENT_INT + "pipeline own = source stdin | sink stdout\n",
            "main.flow": MAIN + "pipeline other = from own | sink null\n",
        },
    )
    _, diags = check_source(read_file(tmp_path / "main.flow"))
    assert [d.code for d in diags] == [codes.UNKNOWN_PIPELINE]


def test_fmt_keeps_imports_and_parses_back_to_the_same_program():
    text = 'import  "a.flow"\nimport "b/c.flow"   # shared\nschema S { x: int }\n'
    out, diags = format_source(SourceFile("t.flow", text))
    assert diags == []
    assert out == 'import "a.flow"\nimport "b/c.flow"  # shared\n\nschema S {\n  x: int,\n}\n'
    assert parse_text(out)[0] == parse_text(text)[0]
    (first, second, _) = parse_text(out)[0].statements
    assert first == ast.Import("a.flow") and second == ast.Import("b/c.flow")


def test_import_is_a_reserved_word():
    program, diags = parse_text("source stdin | where import == 1 | sink stdout")
    assert program is None and diags[0].code == codes.SYNTAX
    program, diags = parse_text("source stdin | where `import` == 1 | sink stdout")
    assert program is not None and diags == []
