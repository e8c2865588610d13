"""`source file(…, path_field=…, host_field=…)` under `flowc run`, on real
files: each record names the file it was read from and the machine that read
it; without the options records are as the lines hold them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.flowrun import FLOWC, run_flow_cli

from .procs import records, wait_for, write_numbers

pytestmark = pytest.mark.timeout(120)


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"FLOWC_CACHE_DIR": str(tmp_path / "cache")}


def test_a_glob_gives_each_record_its_file_and_host(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text('{"n": 1}\nplain text\n')
    (tmp_path / "logs" / "b.log").write_text('{"n": 2, "file": "from the line"}\n')
    program = tmp_path / "origin.flow"
    program.write_text(
        'source file("logs/*.log", path_field=file, host_field=machine)\n'
        '  | set where_from = file + "@" + machine\n'  # typed str: no null check needed
        '  | sink file("out.jsonl")\n'
    )
    done = run_flow_cli(program, cwd=tmp_path, env=env_for(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    host = socket.gethostname()
    assert records(tmp_path / "out.jsonl") == [
        {"n": 1, "file": "logs/a.log", "machine": host, "where_from": f"logs/a.log@{host}"},
        {
            "message": "plain text",
            "file": "logs/a.log",
            "machine": host,
            "where_from": f"logs/a.log@{host}",
        },
        {"n": 2, "file": "logs/b.log", "machine": host, "where_from": f"logs/b.log@{host}"},
    ]


def test_without_the_options_records_are_unchanged(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    program = tmp_path / "plain.flow"
    program.write_text('source file("a.csv", format=csv) | sink file("out.jsonl")\n')
    done = run_flow_cli(program, cwd=tmp_path, env=env_for(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    assert records(tmp_path / "out.jsonl") == [{"x": "1", "y": "2"}]


def test_the_fields_are_typed_str(tmp_path):
    program = tmp_path / "typed.flow"
    program.write_text(
        'source file("a.log", format=lines, path_field=path) | set n = path + 1 | sink stdout\n'
    )
    done = subprocess.run([FLOWC, "check", str(program)], capture_output=True, cwd=tmp_path)
    assert done.returncode == 1 and b"str" in done.stderr, done.stderr.decode()


def test_a_followed_file_that_is_rotated_keeps_naming_where_its_lines_were(tmp_path):
    log, out = tmp_path / "app.log", tmp_path / "out.jsonl"
    (tmp_path / "tail.flow").write_text(
        "pipeline tail =\n"
        f"  source file({json.dumps(str(tmp_path / 'app.log*'))}, format=json,"
        " follow=true, path_field=src)\n"
        f"  | sink file({json.dumps(str(out))})\n"
    )
    write_numbers(log, 0, 10, "w")
    proc = subprocess.Popen(
        [FLOWC, "run", "tail.flow", "--state-dir", str(tmp_path / "state")],
        cwd=tmp_path,
        env=dict(os.environ, **env_for(tmp_path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: len(records(out)) == 10, what="the first lines")
        os.rename(log, tmp_path / "app.log.1")
        write_numbers(tmp_path / "app.log.1", 10, 15)  # the old file, renamed, grows
        write_numbers(log, 15, 20, "w")  # and a new one comes to the path
        wait_for(lambda: len(records(out)) == 20, what="lines from both files")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    by_number = {r["n"]: r["src"] for r in records(out)}
    assert sorted(by_number) == list(range(20))
    assert {by_number[n] for n in range(10)} == {str(log)}
    assert {by_number[n] for n in range(10, 15)} == {str(tmp_path / "app.log.1")}
    assert {by_number[n] for n in range(15, 20)} == {str(log)}
