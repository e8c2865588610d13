"""docs/cli.md is true: every command's exit statuses are those its table
gives (each case run through `flowc`'s `main()`, and the compiled module and
a few commands as real processes); the cache is where the page says and
moves with the variables it names; a state directory moved as the page says
resumes where the last run stopped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowlang.cachedir import cache_dir
from flowlang.cli import _parser, main
from tests.runtime.procs import numbers, wait_for
from tests.runtime.test_follow_flowc import Tail
from tests.test_cli import flowc

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cli.md"
NEVER = "—"

OK = 'source file("in.jsonl", format=json) | set n = 1 | sink file("out.jsonl")\n'
WARNS = 'source file("in.jsonl", format=json) | where false | sink file("out.jsonl")\n'
BROKEN = 'source file("in.jsonl", format=json) | geoipp | sink file("out.jsonl")\n'
UNPARSED = 'source file("in.jsonl", format=json) | where (\n'
UGLY = 'source file("in.jsonl",format=json)|set n=1|sink file("out.jsonl")\n'
NEEDS_ENV = 'source file("in.jsonl", format=json) | set n = env("FLOW_NOT_SET") | sink stdout\n'
NO_INPUT = 'source file("nothing-*.jsonl", format=json) | sink file("out.jsonl")\n'
CONVERTS = 'source file("in.jsonl", format=json) | set n = to_int(x) | sink file("out.jsonl")\n'
PASSES = OK + 'test "one" {\n  given web = [{x: "1"}]\n  expect count(web) == 1\n}\n'
FAILS = OK + 'test "two" {\n  given web = [{x: "1"}]\n  expect count(web) == 2\n}\n'


def exit_table() -> dict[str, dict[int, str]]:
    """The page's exit-status table: command (`check`, …, `module`) → status → cell."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        named = re.match(r"`flowc (\w+)", cells[0])
        table[named.group(1) if named else "module"] = {0: cells[1], 1: cells[2], 2: cells[3]}
    return table


TABLE = exit_table()


def test_the_table_names_every_command():
    commands = next(a for a in _parser()._actions if a.dest == "command").choices
    assert set(TABLE) == set(commands) | {"module"}
    assert TABLE["explain"][1] == NEVER


# (command line, files to write, expected status); the input is in.jsonl
CASES = [
    (["check", "web.flow"], {"web.flow": OK}, 0),
    (["check", "web.flow"], {"web.flow": WARNS}, 0),
    (["check", "web.flow"], {"web.flow": BROKEN}, 1),
    (["check", "missing.flow"], {}, 2),
    (["fmt", "web.flow"], {"web.flow": UGLY}, 0),
    (["fmt", "web.flow"], {"web.flow": UNPARSED}, 1),
    (["fmt", "--check", "web.flow"], {"web.flow": UGLY}, 1),
    (["fmt", "missing.flow"], {}, 2),
    (["graph", "web.flow"], {"web.flow": OK}, 0),
    (["graph", "web.flow"], {"web.flow": BROKEN}, 1),
    (["graph", "missing.flow"], {}, 2),
    (["compile", "web.flow", "-o", "out"], {"web.flow": OK}, 0),
    (["compile", "web.flow", "-o", "out"], {"web.flow": BROKEN}, 1),
    (["compile", "web.flow", "-o", "blocker/out"], {"web.flow": OK, "blocker": ""}, 2),
    (["compile", "missing.flow"], {}, 2),
    (["run", "web.flow"], {"web.flow": OK}, 0),
    (["run", "web.flow"], {"web.flow": BROKEN}, 1),
    (["run", "--strict", "web.flow"], {"web.flow": CONVERTS}, 1),
    (["run", "web.flow"], {"web.flow": NEEDS_ENV}, 2),
    (["run", "web.flow"], {"web.flow": NO_INPUT}, 2),
    (["run", "missing.flow"], {}, 2),
    (["test", "web.flow"], {"web.flow": PASSES}, 0),
    (["test", "web.flow"], {"web.flow": FAILS}, 1),
    (["test", "web.flow"], {"web.flow": BROKEN}, 2),
    (["test", "web.flow"], {"web.flow": OK}, 2),
    (["debug", "plan", "web.flow"], {"web.flow": OK}, 0),
    (["debug", "ast", "web.flow"], {"web.flow": UNPARSED}, 1),
    (["debug", "ast", "missing.flow"], {}, 2),
    (["explain", "E301"], {}, 0),
    (["explain"], {}, 0),
    (["explain", "E999"], {}, 2),
    (
        ["tap", "127.0.0.1:1", "web"],
        {},
        2,
    ),  # nothing listens (a real run: tests/runtime/test_tap.py)
    (["tap", "127.0.0.1:1", "web", "--rate", "0"], {}, 2),
    (["tap", "nonsense", "web"], {}, 2),
]


@pytest.mark.parametrize(("argv", "files", "status"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_each_command_exits_as_the_table_says(argv, files, status, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FLOW_NOT_SET", raising=False)
    (tmp_path / "in.jsonl").write_text('{"x": "a"}\n', encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(argv) == status, capsys.readouterr().err
    assert TABLE[argv[0]][status] != NEVER


def test_usage_errors_exit_2_and_help_and_version_0(capsys):
    assert main(["check"]) == 2
    assert main([]) == 2
    assert main(["--version"]) == 0
    assert main(["run", "--help"]) == 0
    assert "usage error" in PAGE.read_text(encoding="utf-8")


def test_the_statuses_are_the_process_exit_codes(tmp_path):
    (tmp_path / "broken.flow").write_text(BROKEN, encoding="utf-8")
    assert flowc("check", "broken.flow", cwd=tmp_path).returncode == 1
    assert flowc("check", "absent.flow", cwd=tmp_path).returncode == 2
    assert flowc("explain", "E3O1", cwd=tmp_path).returncode == 2


def test_a_compiled_module_exits_as_flowc_run(tmp_path):
    env = {**os.environ, "FLOWC_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("FLOW_NOT_SET", None)
    (tmp_path / "in.jsonl").write_text('{"x": "a"}\n', encoding="utf-8")
    statuses = {}
    for name, text, options in (
        ("ok", OK, []),
        ("converts", CONVERTS, ["--strict"]),
        ("needs_env", NEEDS_ENV, []),
    ):
        (tmp_path / f"{name}.flow").write_text(text, encoding="utf-8")
        assert main(["compile", f"{tmp_path / name}.flow", "-o", str(tmp_path)]) == 0
        done = subprocess.run(
            [sys.executable, str(tmp_path / f"{name}_flow.py"), "--no-status", *options],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=120,
        )
        statuses[name] = done.returncode
    assert statuses == {"ok": 0, "converts": 1, "needs_env": 2}
    assert all(TABLE["module"][s] != NEVER for s in statuses.values())


# ---------------------------------------------------------------- the cache


def test_the_cache_is_where_the_page_says(monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWC_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "flowc"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "flowc"
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    page = PAGE.read_text(encoding="utf-8")
    assert "`$FLOWC_CACHE_DIR`, else `$XDG_CACHE_HOME/flowc`, else `~/.cache/flowc`" in page


def test_a_run_fills_the_cache_it_is_given(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"x": "a"}\n', encoding="utf-8")
    (tmp_path / "web.flow").write_text(OK, encoding="utf-8")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    base = {k: v for k, v in os.environ.items() if k != "FLOWC_CACHE_DIR"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("flowc")), "run", "web.flow"],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    cache = tmp_path / "xdg" / "flowc"
    assert (cache / "flow-lark-tables.pickle").is_file()
    assert len(list(cache.glob("*/web_flow.py"))) == 1
    assert not (tmp_path / ".flowc-state").exists()  # a run that keeps no state


# ---------------------------------------------------------------- the state directory


@pytest.mark.timeout(180)
def test_a_state_directory_moved_as_the_page_says_resumes_where_the_run_stopped(tmp_path):
    tail = Tail(tmp_path)
    tail.write(0, 500, "w")
    first = tail.start("first")
    wait_for(lambda: len(numbers(tail.out)) == 500, what="the first run's records")
    assert tail.stop(first, "first") == 0, tail.stderr("first")
    moved = tmp_path / "elsewhere" / "web"
    moved.parent.mkdir()
    tail.state.rename(moved)
    tail.state = moved
    tail.write(500, 800)
    second = tail.start("second")
    tail.wait_delivered()
    assert tail.stop(second, "second") == 0, tail.stderr("second")
    assert tail.lost_and_duplicated() == (0, 0)
    assert (moved / "lock").is_file()
    assert [p.name.split("-")[0] for p in moved.glob("*.json")] == ["file"]
