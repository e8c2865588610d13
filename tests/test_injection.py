"""Hostile text in every place a program can hold text.

Each payload goes through string literals, field names, regular expressions,
pipeline and schema names, env() names and defaults, file paths and the
`.flow` file's own name. Whatever the text, either the front end rejects it
with a diagnostic (only where the language cannot express it), or the program
compiles to a module whose syntax tree holds nothing but the expected kinds of
statements and no dangerous names, and which, when run, gives the text back
unchanged.
"""

from __future__ import annotations

import ast
import os
import string

import pytest

from flowlang.compiler import compile_source
from flowlang.formatter import quote
from flowlang.source import SourceFile
from tests.flowrun import read_jsonl, run_flow

PAYLOADS = [
    "plain",
    '"',
    "'",
    '"""',
    "'''",
    "\\",
    '\\"',
    "end\\",
    "{}",
    "{{ x }}",
    "{% if true %}x{% endif %}",
    "{#",
    "%s",
    "%(x)s %d",
    "$x ${x}",
    "\x00",
    "a\x00b",
    "\n",
    "\r",
    "\r\n",
    "line\nimport os",
    "x\rimport os",
    "\u2028",
    "\u2029",
    "\x85",
    "\x0c\x0b",
    "\x1b[31mred",
    "\t",
    "\ud800",
    "\udfff",
    "a\udc80b",
    "__import__('os').system('x')",
    '"); import os; ("',
    "'); import os; ('",
    '"""); import os; ("""',
    "\\'); import os; #",
    "# not a comment",
    "ｅｖａｌ",  # fullwidth letters: NFKC makes this `eval` in Python identifiers
    "раураl",  # Cyrillic look-alikes
    "é",
    "🙂",
    "class",
    "def",
    "None",
    "__class__",
    "rec",
    "out",
    "batch",
    "fail",
    "at",
    "exc",
    "append",
    "dropped",
    "rt",
    "_ops",
    "__builtins__",
]

# Python identifiers (not flowlang keywords) used as pipeline and schema names
NAMES = [
    "class",
    "def",
    "None",
    "True",
    "__class__",
    "__name__",
    "__import__",
    "__builtins__",
    "rec",
    "out",
    "batch",
    "fail",
    "at",
    "exc",
    "append",
    "dropped",
    "run",
    "rt",
    "prog",
    "build",
    "ctx",
    "stages",
    "_ops",
    "ops",
    "main",
    "eval",
    "exec",
    "print",
    "lambda",
    "async",
    "await",
    "match",
    "case",
    "type",
    "_",
    "self",
    "str",
    "int",
    "nonlocal",  # (`import`, Python's too, is a reserved word of flowlang)
    "return",
    "yield",
    "global",
]

FORBIDDEN = {
    "eval",
    "exec",
    "compile",
    "__import__",
    "getattr",
    "setattr",
    "delattr",
    "open",
    "globals",
    "locals",
    "vars",
    "os",
    "sys",
    "subprocess",
    "system",
    "builtins",
    "__builtins__",
    "importlib",
    "breakpoint",
    "input",
}


def is_surrogate(ch: str) -> bool:
    return 0xD800 <= ord(ch) <= 0xDFFF


def has_surrogate(text: str) -> bool:
    return any(is_surrogate(ch) for ch in text)


# ---------------------------------------------------------------- writing text


def re2_escape(text: str) -> str:
    """A raw-string RE2 pattern that matches exactly `text`."""
    out = []
    for ch in text:
        if ch in string.ascii_letters or ch in string.digits or ch == "_":
            out.append(ch)
        elif ch in string.punctuation or ch == " ":
            out.append("\\" + ch)
        elif ord(ch) < 0x80 or not ch.isprintable():
            out.append(f"\\x{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


def backtick(name: str) -> str:
    return f"`{name}`"


def writable_in_backticks(name: str) -> bool:
    """Can the language spell this field name? (no backtick, no newline and
    none of the control characters the lexer rejects)"""
    return not any(
        ch in "`\n"
        or is_surrogate(ch)
        or (ord(ch) < 0x20 and ch not in "\t\r\x0c")
        or ord(ch) == 0x7F
        for ch in name
    )


# ---------------------------------------------------------------- the module's shape


def _flowlang_module(name: str | None) -> bool:
    return name is not None and (name == "flowlang" or name.startswith("flowlang."))


def _is_main_guard(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return (
        isinstance(node, ast.If)
        and isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def assert_safe_module(code: str) -> ast.Module:
    """The generated module parses and compiles; its top level holds only a
    docstring, imports of flowlang, function definitions and the main guard;
    nowhere does it import anything else or name a dangerous builtin."""
    tree = ast.parse(code)
    compile(code, "<generated>", "exec")
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            assert isinstance(node.value.value, str)
            continue
        assert isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef)) or _is_main_guard(
            node
        ), ast.dump(node)[:300]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert _flowlang_module(node.module) and node.level == 0, ast.dump(node)
        elif isinstance(node, ast.Import):
            assert all(_flowlang_module(alias.name) for alias in node.names), ast.dump(node)
        elif isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN, node.id
        elif isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN, node.attr
        elif isinstance(node, (ast.Global, ast.Nonlocal, ast.Lambda, ast.AsyncFunctionDef)):
            raise AssertionError(f"unexpected {type(node).__name__}")
    # the main guard only calls the runtime's entry point
    guard = tree.body[-1]
    assert _is_main_guard(guard)
    assert ast.unparse(guard.body) == "rt.main(build)"
    return tree


def constants(tree: ast.Module) -> list:
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)]


def compiled(text: str, name: str = "test.flow"):
    return compile_source(SourceFile(name, text))


def safe_compiled(text: str, name: str = "test.flow") -> list:
    """Compile `text`, check the module's shape, return its constants."""
    result = compiled(text, name)
    assert result.ok, result.diagnostics
    return constants(assert_safe_module(result.code))


def json_safe(text: str) -> bool:
    """Can JSON lines carry the text (lone surrogates cannot be encoded)?"""
    return not has_surrogate(text)


SOURCE = 'source file("input.jsonl", format=json)'
SINK = 'sink file("output.jsonl")'


# ---------------------------------------------------------------- string literals


def test_string_literals_round_trip(tmp_path):
    """Every payload as a string literal: the module holds it as a constant
    and the record comes out with exactly that text."""
    sets = ", ".join(
        f"v{i} = {quote(p)}, same{i} = v{i} == {quote(p)}, n{i} = len(v{i})"
        for i, p in enumerate(PAYLOADS)
    )
    unencodable = ", ".join(f"v{i}" for i, p in enumerate(PAYLOADS) if not json_safe(p))
    text = f"{SOURCE}\n  | set {sets}\n  | drop {unencodable}\n  | {SINK}\n"
    found = safe_compiled(text)
    assert all(p in found for p in PAYLOADS)
    run = run_flow(text, tmp_path, records=[{}])
    assert run.exit_code == 0 and run.errors == [], run.stderr
    (out,) = run.output
    for i, payload in enumerate(PAYLOADS):
        assert out[f"same{i}"] is True and out[f"n{i}"] == len(payload), ascii(payload)
        if json_safe(payload):
            assert out[f"v{i}"] == payload, ascii(payload)


RAW_BREAKS = [
    "a\rb",
    "\rimport os",
    "\x0cx",
    "x\u2028import os",
    "\x85",
    "é\u2029#",
    "tab\there",
]


def test_unescaped_line_breaks_inside_literals_stay_inside(tmp_path):
    """Characters that end a line for some tools, written raw inside literals
    and backticks; the lexer accepts them, and they stay data."""
    sets = ", ".join(f'v{i} = "{p}", `{p}` = {i}' for i, p in enumerate(RAW_BREAKS))
    text = f"{SOURCE}\n  | set {sets}\n  | {SINK}\n"
    found = safe_compiled(text)
    assert all(p in found for p in RAW_BREAKS)
    run = run_flow(text, tmp_path, records=[{}])
    assert run.output == [
        {k: v for i, p in enumerate(RAW_BREAKS) for k, v in ((f"v{i}", p), (p, i))}
    ]


@pytest.mark.parametrize("text", ['"x\r\nimport os"', '"a\nb"', "`a\nb`", "`\r\n`"], ids=ascii)
def test_newlines_inside_literals_are_diagnosed(text):
    """A literal cannot span lines: a diagnostic, never a second statement."""
    result = compiled(f"{SOURCE}\n  | set v = {text}\n  | {SINK}\n")
    assert not result.ok
    assert any(d.is_error and d.code.startswith("E0") for d in result.diagnostics)


# ---------------------------------------------------------------- field names

FIELD_NAMES = [p for p in PAYLOADS if writable_in_backticks(p)]


def test_field_names_round_trip(tmp_path):
    """Every writable payload as a field name: read, written, nested, renamed."""
    names = [backtick(p) for p in FIELD_NAMES]
    where = " and ".join(f'{n} == "in"' for n in names)
    copies = ", ".join(f"copy.{n} = {n}" for n in names)
    sets = ", ".join(f"{n} = {quote(p)}" for n, p in zip(names, FIELD_NAMES))
    deep = ", ".join(f"deep.{n}.{n} = 1" for n in names)
    text = (
        f"{SOURCE}\n  | where {where}\n  | set {copies}\n  | set {sets}\n"
        f"  | set {deep}\n  | rename copy as moved\n  | {SINK}\n"
    )
    found = safe_compiled(text)
    assert all(p in found for p in FIELD_NAMES)
    record = {p: "in" for p in FIELD_NAMES}
    run = run_flow(text, tmp_path, records=[record, {**record, FIELD_NAMES[0]: "out"}])
    assert run.exit_code == 0 and run.errors == [], run.stderr
    assert run.output == [
        {
            **{p: p for p in FIELD_NAMES},
            "moved": {p: "in" for p in FIELD_NAMES},
            "deep": {p: {p: 1} for p in FIELD_NAMES},
        }
    ]


@pytest.mark.parametrize("name", [p for p in PAYLOADS if not writable_in_backticks(p)], ids=ascii)
def test_field_names_the_lexer_cannot_spell_are_diagnosed(name):
    result = compiled(f"{SOURCE}\n  | set {backtick(name)} = 1\n  | {SINK}\n")
    assert not result.ok
    assert any(d.is_error and d.code.startswith("E0") for d in result.diagnostics)


def test_keyword_field_names_keep_and_drop(tmp_path):
    """Python keywords and the generated code's own local names as fields."""
    names = [
        "class",
        "def",
        "None",
        "__class__",
        "rec",
        "out",
        "batch",
        "fail",
        "at",
        "exc",
    ]
    record = {n: i for i, n in enumerate(names)}
    fields = ", ".join(backtick(n) for n in names[:4])
    text = (
        f"{SOURCE}\n"
        f"  | keep {fields}, `rec`.`out`\n"
        "  | drop `None`\n"
        "  | set `def` = `class` + 100, `batch` = `rec`\n"
        f"  | {SINK}\n"
    )
    safe_compiled(text)
    run = run_flow(text, tmp_path, records=[record, dict(record, rec={"out": "x"})])
    # `rec.out` on an int: the first record fails at `keep`
    assert [(e["code"], e["record"]) for e in run.errors] == [("type", record)]
    assert run.output == [
        {
            "class": 0,
            "def": 100,
            "__class__": 3,
            "rec": {"out": "x"},
            "batch": {"out": "x"},
        }
    ]


# ---------------------------------------------------------------- regular expressions


def test_regexes_match_exactly_their_payload(tmp_path):
    """Every payload as an escaped, anchored RE2 pattern: pattern i matches
    the record holding payload j exactly when i == j."""
    patterns = [re2_escape(p) for p in PAYLOADS]
    sets = ", ".join(f'm{i} = v =~ r"{pat}"' for i, pat in enumerate(patterns))
    text = f"{SOURCE}\n  | set {sets}\n  | drop v\n  | {SINK}\n"
    found = safe_compiled(text)
    assert all(pat in found for pat in patterns)
    carried = [p for p in PAYLOADS if json_safe(p)]
    run = run_flow(text, tmp_path, records=[{"v": p} for p in carried] + [{"v": None}])
    assert run.exit_code == 0 and run.errors == [], run.stderr
    for out, value in zip(run.output, carried + [None]):
        matched = [PAYLOADS[i] for i in range(len(PAYLOADS)) if out[f"m{i}"]]
        assert matched == ([] if value is None else [value]), ascii(value)


@pytest.mark.parametrize("pattern", ['"); import os; ("', "{}", "%s", "'''", "\\\\", "{{x}}"])
def test_regex_text_is_only_a_pattern(pattern):
    """Raw regex text with quotes and braces: a pattern or a diagnostic, never code."""
    result = compiled(f'{SOURCE}\n  | where v =~ r"{pattern}"\n  | {SINK}\n')
    if result.ok:
        assert pattern in constants(assert_safe_module(result.code))
    else:
        assert any(d.is_error for d in result.diagnostics)


# ---------------------------------------------------------------- pipeline and schema names


def test_pipeline_names(tmp_path):
    """Python keywords, builtins and the generated code's own names as
    pipeline names, all in one program: each reads the one before it."""
    names = [n for n in NAMES]
    lines = [f"pipeline {names[0]} = {SOURCE} | set v0 = n * 2"]
    lines += [
        f"pipeline {name} = from {names[i]} | set v{i + 1} = v{i} + 1"
        for i, name in enumerate(names[1:])
    ]
    lines.append(f"pipeline sink_all = from {names[-1]} | {SINK}")
    lines += [
        f'pipeline e_{i} = from {n}.errors | keep code | sink file("errs.jsonl")'
        for i, n in enumerate(names[:3])
    ]
    text = "\n".join(lines) + "\n"
    safe_compiled(text)
    run = run_flow(text, tmp_path, records=[{"n": 1}, {"n": "x"}], collect_errors=False)
    assert run.exit_code == 0, run.stderr
    assert run.output == [{"n": 1, **{f"v{i}": 2 + i for i in range(len(names))}}]
    assert read_jsonl(tmp_path / "errs.jsonl") == [{"code": "type"}]
    for name in names:
        assert run.metrics[name]["in"] == (2 if name == names[0] else 1), name


@pytest.mark.parametrize("name", ["__", "__1", "__9x", "___", "_"])
def test_pipeline_names_made_only_of_underscores_and_digits(name, tmp_path):
    """Names whose Python form needs more than cleaning (a leading digit once
    the underscores are gone)."""
    text = f"pipeline {name} = {SOURCE} | set v = 1 | {SINK}\n"
    safe_compiled(text)
    run = run_flow(text, tmp_path, records=[{}])
    assert run.output == [{"v": 1}]


@pytest.mark.parametrize("name", ["ｅｖａｌ", "раураl", "é", "a-b", "x.y", "1st", "`x`"])
def test_names_that_are_not_identifiers_are_diagnosed(name):
    result = compiled(f"pipeline {name} = source stdin | sink stdout\n")
    assert not result.ok
    assert any(d.is_error for d in result.diagnostics)


def test_schema_names(tmp_path):
    """Every name as a schema, each used by its own source."""
    names = [n for n in NAMES if n not in ("str", "int")]
    schemas = [f"schema {n} {{ n: int, `class`: str? }}" for n in names]
    pipelines = [
        f'pipeline p{i} = source file("input.jsonl", format=json, schema={n})'
        f' | set m = n + 1 | sink file("out{i}.jsonl")'
        for i, n in enumerate(names)
    ]
    text = "\n".join(schemas + pipelines) + "\n"
    safe_compiled(text)
    run = run_flow(text, tmp_path, records=[{"n": 1, "class": None}, {"n": "x", "class": "c"}])
    assert run.exit_code == 0, run.stderr
    for i, name in enumerate(names):
        assert read_jsonl(tmp_path / f"out{i}.jsonl") == [{"n": 1, "class": None, "m": 2}], name
    assert sorted(e["pipeline"] for e in run.errors) == sorted(f"p{i}" for i in range(len(names)))
    assert {e["code"] for e in run.errors} == {"schema"}


@pytest.mark.parametrize("name", ["str", "int", "any", "time"])
def test_schema_named_like_a_type(name, tmp_path):
    """A schema named like a builtin type: a diagnostic, or it works as written."""
    text = f"schema {name} {{ n: int }}\n{SOURCE[:-1]}, schema={name})\n  | {SINK}\n"
    result = compiled(text)
    if not result.ok:
        assert any(d.is_error for d in result.diagnostics)
        return
    assert_safe_module(result.code)
    run = run_flow(text, tmp_path, records=[{"n": 1}, {"n": "x"}])
    assert run.output == [{"n": 1}]
    assert [e["code"] for e in run.errors] == ["schema"]


# ---------------------------------------------------------------- env names and defaults


def _env_name_allowed(name: str) -> bool:
    return "=" not in name and "\x00" not in name and not has_surrogate(name)


def _env_name(i: int, payload: str) -> str:
    # a lone surrogate cannot be an environment variable's name: see the next test
    return f"FLOWTEST_{i}" if has_surrogate(payload) else "FLOWTEST_" + payload


def test_env_names_and_defaults(tmp_path):
    """Payloads as env() names and defaults: set variables are read, unset
    ones give the default, and neither is ever code."""
    sets = ", ".join(
        f"v{i} = env({quote(_env_name(i, p))}, {quote(p)}), "
        f"w{i} = env({quote(_env_name(i, p) + '_UNSET')}, {quote(p)})"
        for i, p in enumerate(PAYLOADS)
    )
    unencodable = [f"{k}{i}" for i, p in enumerate(PAYLOADS) if not json_safe(p) for k in "vw"]
    text = f"{SOURCE}\n  | set {sets}\n  | drop {', '.join(unencodable)}\n  | {SINK}\n"
    found = safe_compiled(text)
    assert all(p in found for p in PAYLOADS)
    env = {
        _env_name(i, p): "value of " + p.replace("\x00", "")
        for i, p in enumerate(PAYLOADS)
        if _env_name_allowed(_env_name(i, p)) and json_safe(p)
    }
    run = run_flow(text, tmp_path, records=[{}], env=env)
    assert run.exit_code == 0 and run.errors == [], run.stderr
    (out,) = run.output
    for i, payload in enumerate(PAYLOADS):
        if json_safe(payload):
            assert out[f"v{i}"] == env.get(_env_name(i, payload), payload), ascii(payload)
            assert out[f"w{i}"] == payload, ascii(payload)


def test_env_name_with_a_lone_surrogate(tmp_path):
    """No environment variable can have this name: either the checker says
    so, or the program runs and takes the default."""
    text = f'{SOURCE}\n  | set v = env("FLOWTEST_\\ud800", "default")\n  | {SINK}\n'
    result = compiled(text)
    if not result.ok:
        assert any(d.is_error for d in result.diagnostics)
        return
    assert_safe_module(result.code)
    run = run_flow(text, tmp_path, records=[{}])
    assert run.exit_code == 0, run.stderr
    assert run.output == [{"v": "default"}]


# ---------------------------------------------------------------- file paths


def _path_allowed(payload: str) -> bool:
    return not any(ch in payload for ch in "/\x00*?[") and not has_surrogate(payload)


def test_file_paths(tmp_path):
    """Payloads inside source and sink paths: each pipeline reads its own
    file and writes its own, named with the payload."""
    usable = [p for p in PAYLOADS if _path_allowed(p)]
    lines = [
        f"pipeline p{i} = source file({quote(f'in {p}.jsonl')}, format=json)"
        f" | set seen = {i} | sink file({quote(f'out {p}.jsonl')})"
        for i, p in enumerate(usable)
    ]
    text = "\n".join(lines) + "\n"
    found = safe_compiled(text)
    assert all(f"in {p}.jsonl" in found and f"out {p}.jsonl" in found for p in usable)
    for p in usable:
        (tmp_path / f"in {p}.jsonl").write_bytes(b'{"n": 1}\n')
    run = run_flow(text, tmp_path)
    assert run.exit_code == 0, run.stderr
    for i, p in enumerate(usable):
        assert read_jsonl(tmp_path / f"out {p}.jsonl") == [{"n": 1, "seen": i}], ascii(p)


def test_unusable_file_paths_still_compile_to_safe_code():
    """Paths no file system holds (NUL, lone surrogates) are still only data."""
    for payload in [p for p in PAYLOADS if not _path_allowed(p)]:
        found = safe_compiled(f"source file({quote(payload)}) | sink file({quote(payload)})\n")
        assert payload in found, ascii(payload)


# ---------------------------------------------------------------- the .flow file's name

FILE_NAMES = [p for p in PAYLOADS if "/" not in p] + [
    "__init__",
    "rt",
    "build",
    "1st",
    "a b",
    "",
]
RUN_FILE_NAMES = [
    '"); import os; ("',
    "line\nimport os",
    "\ud800",
    "class",
    "1st",
    "",
    "{{ x }}",
]


@pytest.mark.parametrize("stem", FILE_NAMES, ids=ascii)
def test_flow_file_name_compiles_to_safe_code(stem):
    name = stem + ".flow"
    text = f"{SOURCE} | set v = 1 | {SINK}\n"
    result = compiled(text, name)
    assert result.ok, result.diagnostics
    assert result.module_name.isidentifier()
    assert name in constants(assert_safe_module(result.code))
    assert result.code.startswith("# generated from ")


@pytest.mark.parametrize("stem", RUN_FILE_NAMES, ids=ascii)
def test_flow_file_name_runs(stem, tmp_path):
    run = run_flow(
        f"{SOURCE} | set v = 1 | {SINK}\n",
        tmp_path,
        records=[{"n": 1}],
        name=stem + ".flow",
        collect_errors=False,
    )
    assert run.exit_code == 0, run.stderr
    assert run.output == [{"n": 1, "v": 1}]


def test_generated_module_runs_standalone_with_hostile_names(tmp_path):
    """Hostile field names and values in one program, run by plain `python`."""
    import subprocess
    import sys

    sets = ", ".join(f"{backtick(p)} = {quote(p)}" for p in FIELD_NAMES)
    text = f"{SOURCE} | set {sets} | {SINK}\n"
    result = compiled(text, 'we"ird {x} %s.flow')
    assert result.ok, result.diagnostics
    assert_safe_module(result.code)
    module = tmp_path / f"{result.module_name}.py"
    module.write_text(result.code, encoding="utf-8")
    (tmp_path / "input.jsonl").write_text("{}\n")
    proc = subprocess.run(
        [sys.executable, str(module), "--no-status"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert read_jsonl(tmp_path / "output.jsonl") == [{p: p for p in FIELD_NAMES}]
