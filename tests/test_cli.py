"""`flowc`: exit codes, output formats and the commands, both as a real
subprocess of the installed entry point and in-process through `main()`."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from flowlang import __version__
from flowlang.cli import main
from flowlang.source import SourceFile

FLOWC = str(Path(sys.executable).with_name("flowc"))
SEED = 'source file("x.log") | geoip | anonymize(email) | sink elastic("idx")\n'
BAD = "source stdin\n  | geoipp\n  | where x == \n"
BROKEN = "source stdin | geoipp | set a = lowr(b) | sink stdout\n"
NEVER = "source stdin | where false | sink stdout\n"
FANOUT = """pipeline raw = source file("in.log", format=json) | set n = 1
pipeline shown = from raw | sink stdout
pipeline failures = from raw.errors | sink file("errors.jsonl")
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("FLOW_ANON_KEY", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def flowc(
    *args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("FLOW_ANON_KEY", "NO_COLOR")}
    return subprocess.run(
        [FLOWC, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- check


def test_a_warning_is_shown_and_the_check_exits_0(tmp_path):
    write(tmp_path, "never.flow", NEVER)
    done = flowc("check", "never.flow", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == ""
    assert "never.flow:1:16: warning[W502]:" in done.stderr
    assert "\x1b[" not in done.stderr  # not a terminal: no colour


def test_the_seed_checks_clean_without_a_key_and_the_run_warns_at_start(tmp_path):
    write(tmp_path, "seed.flow", "source stdin | anonymize(email) | sink stdout\n")
    done = flowc("check", "seed.flow", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    done = flowc("run", "seed.flow", cwd=tmp_path, stdin='{"email": "a@b.c"}\n')
    assert done.returncode == 0
    assert "warning[W501]: anonymize" in done.stderr and "using a random key" in done.stderr
    assert "a@b.c" not in done.stdout


def test_seed_is_silent_with_a_key(tmp_path):
    write(tmp_path, "seed.flow", SEED)
    done = flowc("check", "seed.flow", cwd=tmp_path, env={"FLOW_ANON_KEY": "secret"})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_errors_of_every_file_are_reported_and_exit_1(tmp_path, capsys):
    write(tmp_path, "a.flow", BROKEN)
    write(tmp_path, "b.flow", "pipeline p = from nowhere | sink stdout\n")
    write(tmp_path, "ok.flow", "source stdin | sink stdout\n")
    code = main(
        ["check", str(tmp_path / "a.flow"), str(tmp_path / "ok.flow"), str(tmp_path / "b.flow")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "a.flow:1:16: error[E101]: unknown processor `geoipp`" in err
    assert "a.flow:1:33: error[E108]: unknown function `lowr`" in err
    assert "b.flow:1:14: error[E102]: unknown pipeline `nowhere`" in err
    assert err.rstrip().endswith("flowc: 3 errors, 0 warnings")


def test_syntax_errors_exit_1(tmp_path, capsys):
    write(tmp_path, "bad.flow", BAD)
    assert main(["check", str(tmp_path / "bad.flow")]) == 1
    assert "error[E001]" in capsys.readouterr().err


def test_unreadable_files_exit_2_but_the_others_are_still_checked(tmp_path, capsys):
    write(tmp_path, "a.flow", BROKEN)
    (tmp_path / "latin1.flow").write_bytes(b'source stdin | set a = "\xe9" | sink stdout\n')
    code = main(
        [
            "check",
            str(tmp_path / "missing.flow"),
            str(tmp_path / "a.flow"),
            str(tmp_path / "latin1.flow"),
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"flowc: cannot read {tmp_path / 'missing.flow'}: No such file or directory" in err
    assert "latin1.flow: not UTF-8 text" in err
    assert f"cannot read {tmp_path}: Is a directory" in err
    assert "error[E101]" in err


@pytest.mark.parametrize("command", ["check", "run", "fmt", "test"])
def test_every_command_refuses_a_file_that_is_not_utf8_the_same_way(tmp_path, command):
    (tmp_path / "latin1.flow").write_bytes(
        b'source stdin\n| set a = "caf\xe9 \xe9" | sink stdout\n'
    )
    done = flowc(command, "latin1.flow", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("flowc: cannot read latin1.flow: not UTF-8 text (line 2, column 15)\n")
    # nothing was checked, formatted or run (`flowc test` still sums up)
    assert done.stdout == "" or "no tests ran" in done.stdout


def test_json_format_prints_one_object_per_diagnostic(tmp_path):
    write(tmp_path, "a.flow", BROKEN)
    write(tmp_path, "never.flow", NEVER)
    done = flowc("check", "--format", "json", "a.flow", "never.flow", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["file"], r["code"], r["severity"]) for r in records] == [
        ("a.flow", "E101", "error"),
        ("a.flow", "E108", "error"),
        ("never.flow", "W502", "warning"),
    ]
    first = records[0]
    assert set(first) == {
        "file",
        "line",
        "column",
        "end",
        "code",
        "severity",
        "message",
        "hint",
    }
    assert (first["line"], first["column"], first["end"]) == (
        1,
        16,
        {"line": 1, "column": 22},
    )
    assert first["hint"] == "did you mean `geoip`?"


def _stderr_on_a_terminal(args: list[str], cwd: Path, env: dict) -> str:
    """Run flowc with its stderr on a real pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [FLOWC, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closes when flowc exits
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path):
    write(tmp_path, "a.flow", BROKEN)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = _stderr_on_a_terminal(["check", "a.flow"], tmp_path, env)
    assert "\x1b[1;31merror[E101]\x1b[0m" in coloured
    plain = _stderr_on_a_terminal(["check", "a.flow"], tmp_path, {**env, "NO_COLOR": "1"})
    assert "error[E101]" in plain and "\x1b[" not in plain


# ---------------------------------------------------------------- usage


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["check"],
        ["frobnicate"],
        ["check", "--format", "xml", "a.flow"],
        ["graph"],
        ["graph", "--format", "svg", "a.flow"],
        ["fmt", "--bogus", "a.flow"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "usage: flowc" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"flowc {__version__}\n"
    done = flowc("--version")
    assert (done.returncode, done.stdout) == (0, f"flowc {__version__}\n")


@pytest.mark.parametrize(
    "command, mentions",
    [
        ("check", "--format"),
        ("fmt", "--check"),
        ("graph", "mermaid"),
        ("compile", "--output"),
        ("run", "--strict"),
    ],
)
def test_every_command_has_help(command, mentions, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"usage: flowc {command}" in out and mentions in out


def test_help_lists_the_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("check", "fmt", "graph", "compile", "run"):
        assert command in out


# ---------------------------------------------------------------- fmt


UNFORMATTED = "pipeline   a=source stdin|where x>1   # keep me\n|sink stdout\n"


def test_fmt_check_changes_nothing_and_names_the_files(tmp_path, capsys):
    path = write(tmp_path, "u.flow", UNFORMATTED)
    assert main(["fmt", "--check", str(path)]) == 1
    assert capsys.readouterr().err == f"would reformat {path}\n"
    assert path.read_text(encoding="utf-8") == UNFORMATTED


def test_fmt_rewrites_in_place_then_check_passes(tmp_path, capsys):
    path = write(tmp_path, "u.flow", UNFORMATTED)
    path.chmod(0o640)
    assert main(["fmt", str(path)]) == 0
    formatted = path.read_text(encoding="utf-8")
    assert formatted != UNFORMATTED and "# keep me" in formatted
    assert path.stat().st_mode & 0o777 == 0o640
    assert f"reformatted {path}" in capsys.readouterr().err
    assert main(["fmt", "--check", str(path)]) == 0
    assert main(["fmt", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == formatted
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".flowc-fmt-")]


def test_fmt_of_a_syntax_error_reports_it_and_keeps_the_file(tmp_path, capsys):
    path = write(tmp_path, "bad.flow", BAD)
    assert main(["fmt", str(path)]) == 1
    assert "error[E001]" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == BAD


def test_fmt_of_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["fmt", "--check", str(tmp_path / "nope.flow")]) == 2
    assert "cannot read" in capsys.readouterr().err


# ---------------------------------------------------------------- graph


def test_graph_dot(tmp_path, capsys):
    path = write(tmp_path, "fan.flow", FANOUT)
    assert main(["graph", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f'digraph "{path}" {{')
    assert '"raw" [label="raw\\nsource file(\\"in.log\\", format=json)\\n| set n = 1"];' in out
    assert '"shown" [label="shown\\n| sink stdout"];' in out
    assert '"raw" -> "shown";' in out
    assert '"raw" -> "failures" [style=dashed, label="errors"];' in out
    assert out.rstrip().endswith("}")


def test_graph_mermaid(tmp_path):
    write(tmp_path, "fan.flow", FANOUT)
    done = flowc("graph", "--format", "mermaid", "fan.flow", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  p0["raw<br/>source file(#quot;in.log#quot;, format=json)<br/>| set n = 1"]' in lines
    assert "  p0 --> p1" in lines and "  p0 -. errors .-> p2" in lines


def test_graph_of_a_program_with_errors_prints_no_graph(tmp_path):
    write(tmp_path, "a.flow", BROKEN)
    done = flowc("graph", "a.flow", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == "" and "error[E101]" in done.stderr


# ---------------------------------------------------------------- compile and run


def test_compile_writes_the_module(tmp_path, capsys):
    path = write(tmp_path, "web.flow", "source stdin | set n = 1 | sink stdout\n")
    out = tmp_path / "out"
    assert main(["compile", str(path), "-o", str(out)]) == 0
    module = out / "web_flow.py"
    assert capsys.readouterr().out == f"{module}\n"
    code = module.read_text(encoding="utf-8")
    assert code.startswith("# generated from")
    compile(code, str(module), "exec")


def test_compile_with_errors_writes_nothing(tmp_path, capsys):
    path = write(tmp_path, "a.flow", BROKEN)
    assert main(["compile", str(path), "-o", str(tmp_path / "out")]) == 1
    assert "error[E101]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_a_small_program(tmp_path):
    write(tmp_path, "in.jsonl", '{"a": 1}\n{"a": 2}\n')
    write(
        tmp_path,
        "r.flow",
        'source file("in.jsonl", format=json) | set b = a * 10 | sink file("out.jsonl")\n',
    )
    done = flowc("run", "r.flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows == [{"a": 1, "b": 10}, {"a": 2, "b": 20}]


def test_run_keeps_the_other_fields_of_an_open_schema(tmp_path):
    write(
        tmp_path,
        "in.jsonl",
        '{"ts": 0, "host": "a", "pid": 7, "tags": ["x"]}\n{"ts": "1970-01-01T00:00:01Z"}\n',
    )
    write(
        tmp_path,
        "r.flow",
        (
            "schema Event { ts: time, host: str, .. }\n"
            'source file("in.jsonl", format=json, schema=Event)\n'
            "  | set next = pid + 1\n"
            '  | sink file("out.jsonl")\n'
            'pipeline rejected = from r.errors | sink file("errors.jsonl")\n'
        ),
    )
    done = flowc("run", "r.flow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows == [{"ts": "1970-01-01T00:00:00Z", "host": "a", "pid": 7, "tags": ["x"], "next": 8}]
    (error,) = [json.loads(line) for line in (tmp_path / "errors.jsonl").read_text().splitlines()]
    assert error["message"] == "field `host`: missing, expected str"


def test_run_of_a_missing_file_exits_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.flow")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_run_of_a_program_with_errors_exits_1(tmp_path):
    write(tmp_path, "a.flow", BROKEN)
    done = flowc("run", "a.flow", cwd=tmp_path)
    assert done.returncode == 1 and "error[E101]" in done.stderr


def test_graph_labels_route_edges_with_their_position_and_condition(tmp_path, capsys):
    flow = tmp_path / "r.flow"
    flow.write_text(
        "pipeline app = source stdin(format=json)\n"
        '  | route { loud: level == "error", rest: else }\n'
        "pipeline loud = from app | sink stdout\n"
        "pipeline rest = from app | sink null\n"
    )
    assert main(["graph", str(flow)]) == 0
    dot = capsys.readouterr().out
    assert '"app" -> "loud" [label="1: level == \\"error\\""];' in dot
    assert '"app" -> "rest" [label="2: else"];' in dot
    assert main(["graph", "--format", "mermaid", str(flow)]) == 0
    mermaid = capsys.readouterr().out
    assert 'p0 -- "1: level == #quot;error#quot;" --> p1' in mermaid
    assert 'p0 -- "2: else" --> p2' in mermaid


def test_a_module_compiled_by_another_build_of_the_compiler_is_not_reused(tmp_path, monkeypatch):
    from flowlang import compile_cache

    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    flow = SourceFile(str(tmp_path / "a.flow"), "source stdin | set n = 1 | sink stdout\n")
    first, _ = compile_cache.compile_cached(flow)
    assert compile_cache.compile_cached(flow)[0] == first
    # the same version number, other compiler code (a changed generator)
    monkeypatch.setattr(compile_cache, "compiler_digest", lambda: "another build")
    second, _ = compile_cache.compile_cached(flow)
    assert second is not None and second != first
