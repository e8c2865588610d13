"""Generated-shape modules run as programs (`python module.py`): options,
exit statuses, error streams, metrics, SIGTERM, stdin and the status output."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from flowlang.runtime.metrics import balanced

from .procs import records, start, wait_for

pytestmark = pytest.mark.timeout(120)

ACCESS = [
    {"status": 500, "ip": "10.0.0.1", "ts": "2024-03-01T12:00:00+01:00", "bytes": 2048},
    {"status": 200, "ip": "10.0.0.2", "ts": 1709294400, "bytes": 10},
    {
        "status": "500",
        "ip": "10.0.0.3",
        "ts": 0,
        "bytes": 1,
    },  # schema: status is not an int
    {"status": 503, "ip": "::1", "ts": 0},  # set fails: bytes is null
    {"status": 502, "ip": "2001:DB8::1", "ts": 0, "bytes": 512},
]


@pytest.fixture
def web(tmp_path: Path):
    src = tmp_path / "access.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ACCESS) + "not json\n")
    return src, tmp_path / "out.jsonl", tmp_path / "metrics.json"


def run_web(web, *args, **env):
    src, out, metrics = web
    proc = start(
        "web_flow.py",
        "--metrics",
        str(metrics),
        *args,
        env={"FLOW_IN": str(src), "FLOW_OUT": str(out), **env},
    )
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout.decode(), stderr.decode()


def test_a_run_writes_records_errors_metrics_and_a_summary_table(web):
    _, out, metrics = web
    code, stdout, stderr = run_web(web)
    assert code == 0, stderr
    assert records(out) == [
        {
            "status": 500,
            "ip": "10.0.0.1",
            "ts": "2024-03-01T11:00:00Z",
            "bytes": 2048,
            "kb": 2.0,
        },
        {
            "status": 502,
            "ip": "2001:db8::1",
            "ts": "1970-01-01T00:00:00Z",
            "bytes": 512,
            "kb": 0.5,
        },
    ]
    errors = [json.loads(line) for line in stdout.splitlines()]
    assert sorted((e["code"], e["stage"]) for e in errors) == [
        ("parse", "source file (web.flow:2)"),
        ("runtime", "set (web.flow:4)"),
        ("schema", "source file (web.flow:2)"),
    ]
    schema = next(e for e in errors if e["code"] == "schema")
    assert schema["message"] == 'field `status`: expected int, got str "500"'
    assert json.loads(schema["raw"])["ip"] == "10.0.0.3"
    assert all(e["at"].endswith("Z") for e in errors)
    report = json.loads(metrics.read_text())
    assert report["exit_code"] == 0
    assert set(report["pipelines"]) == {"web", "problems", "count"}
    assert all(balanced(p) for p in report["pipelines"].values())
    assert report["pipelines"]["web"]["in"] == 6 and report["pipelines"]["count"]["in"] == 2
    for word in ("web", "problems", "count", "wall time", "dropped"):
        assert word in stderr


def test_strict_fails_on_the_first_unread_error_record(web):
    # with `problems` reading web's errors, they are handled: no failure
    code, _, stderr = run_web(web, "--strict", "--no-status")
    assert code == 0, stderr
    # running web alone leaves its errors unread: the first one fails the run
    code, _, stderr = run_web(web, "--strict", "--no-status", "--pipeline", "web")
    assert code == 1
    assert "error record under --strict" in stderr
    assert "wall time" not in stderr  # --no-status: no table


def test_pipeline_selection_runs_upstreams_and_summarises_unread_errors(web):
    _, _, metrics = web
    code, stdout, stderr = run_web(web, "--pipeline", "count", "--no-status")
    assert code == 0
    assert stdout == ""  # `problems` did not run
    assert set(json.loads(metrics.read_text())["pipelines"]) == {"web", "count"}
    assert "pipeline web: 3 error records" in stderr
    assert "[schema]" in stderr or "[parse]" in stderr  # a sample is shown


def test_start_up_errors_exit_2_and_name_the_problem(web, tmp_path):
    src, out, _ = web
    proc = start("web_flow.py", env={"FLOW_OUT": str(out)})
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and b"FLOW_IN is not set" in err
    code, _, stderr = run_web(web, FLOW_IN=str(tmp_path / "missing-*.log"))
    assert code == 2 and "no file matches" in stderr
    code, _, stderr = run_web(web, "--pipeline", "nope")
    assert code == 2 and "no pipeline named 'nope'" in stderr


def test_sigterm_drains_what_was_read_into_the_sink_and_exits_0(tmp_path):
    src, out, metrics = (
        tmp_path / "big.log",
        tmp_path / "out.jsonl",
        tmp_path / "m.json",
    )
    total = 200_000
    src.write_text("".join(f"line {n}\n" for n in range(total)))
    proc = start(
        "slow_flow.py",
        "--no-status",
        "--metrics",
        str(metrics),
        env={"FLOW_IN": str(src), "FLOW_OUT": str(out)},
    )
    wait_for(lambda: out.exists() and out.stat().st_size > 0, what="the first writes")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    written = records(out)
    snap = json.loads(metrics.read_text())["pipelines"]["slow"]
    assert 0 < len(written) < total  # it stopped early...
    assert snap["in"] == snap["out"] == len(written)  # ...with nothing read left behind
    assert [r["message"] for r in written] == [f"line {n}" for n in range(len(written))]


def test_stdin_passes_lines_on_as_they_arrive_and_ends_with_its_input():
    proc = start("stdin_flow.py", "--no-status", stdin=subprocess.PIPE)
    proc.stdin.write(b'{"a": 1}\n')
    proc.stdin.flush()
    # the record comes out before stdin is closed: no waiting for a full batch
    assert json.loads(proc.stdout.readline()) == {"a": 1}
    proc.stdin.write(b"hello\r\n\n")
    proc.stdin.close()
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    assert proc.returncode == 0
    assert [json.loads(line) for line in rest.splitlines()] == [{"message": "hello"}]


def test_stdout_pretty_and_stdin_errors():
    proc = start(
        "stdin_flow.py",
        "--no-status",
        stdin=subprocess.PIPE,
        env={"FLOW_FORMAT": "json", "FLOW_OUTPUT": "pretty"},
    )
    out, err = proc.communicate(b'{"a": [1, 2]}\n[3]\n', timeout=60)
    assert proc.returncode == 0
    assert json.loads(out) == {"a": [1, 2]} and b"\n  " in out  # indented
    assert b"pipeline stdin: 1 error record" in err and b"expected a JSON object, got a list" in err


def test_a_long_run_on_a_terminal_shows_a_live_status_line(tmp_path):
    src, out = tmp_path / "big.log", tmp_path / "out.jsonl"
    src.write_text("".join(f"line {n}\n" for n in range(200_000)))
    leader, follower = pty.openpty()
    env = dict(os.environ, FLOW_IN=str(src), FLOW_OUT=str(out))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [os.sys.executable, str(Path(__file__).parent / "programs" / "slow_flow.py")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = bytearray()

    def drain():
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    time.sleep(3.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    reader.join(timeout=5)
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    # the status line: in/out/errors and the input rate per pipeline
    assert re.search(r"\r\x1b\[2Kslow [\d,]+ in [\d,]+ out [\d,]+ errors, [\d,]+/s", text)
    assert "wall time" in text  # then the summary table
