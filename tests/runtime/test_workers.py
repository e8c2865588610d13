"""`--workers N` for real: `flowc run` and a compiled module fork N
processes over shares of the input; the output is the one process's
output, the metrics add up, one summary table is printed, and what cannot
be split exactly is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.metrics import balanced
from flowlang.runtime.shards import Bounded, align, plan
from flowlang.runtime.workers import merge

from .procs import wait_for

pytestmark = pytest.mark.timeout(180)

FLOWC = str(Path(sys.executable).with_name("flowc"))

ENRICH = """
source file(env("IN"), format=json)
  | where n % 7 != 3
  | set doubled = n * 2, tag = "w"
  | sink file(env("OUT"))
"""


def flowc(tmp_path: Path, program: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    path = tmp_path / "p.flow"
    path.write_text(program)
    return subprocess.run(
        [FLOWC, "run", str(path), *args],
        cwd=tmp_path,
        env={**os.environ, "FLOWC_CACHE_DIR": str(tmp_path / "cache"), **env},
        capture_output=True,
        text=True,
        timeout=150,
    )


def write_inputs(directory: Path, files: int, per_file: int) -> list[dict]:
    """`files` JSON-lines files of numbered records (one with a bad line)."""
    directory.mkdir(exist_ok=True)
    written = []
    for k in range(files):
        with open(directory / f"part-{k}.jsonl", "w") as f:
            for i in range(per_file):
                rec = {"n": k * per_file + i, "text": "x" * (i % 37)}
                written.append(rec)
                f.write(json.dumps(rec) + "\n")
            if k == 0:
                f.write("not json\n")
    return written


def lines(*paths: Path) -> Counter:
    """The multiset of output lines, as parsed records."""
    out: Counter = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            out[json.dumps(json.loads(line), sort_keys=True)] += 1
    return out


@pytest.mark.parametrize("files, per_file", [(4, 3000), (1, 20000)])
def test_two_workers_give_the_one_process_output_and_metrics_that_add_up(tmp_path, files, per_file):
    written = write_inputs(tmp_path / "in", files, per_file)
    env = {"IN": str(tmp_path / "in" / "*.jsonl")}
    one = flowc(tmp_path, ENRICH, "--metrics", "m1.json", OUT="one.jsonl", **env)
    assert one.returncode == 0, one.stderr
    two = flowc(tmp_path, ENRICH, "--workers", "2", "--metrics", "m2.json", OUT="two.jsonl", **env)
    assert two.returncode == 0, two.stderr
    # one file per worker, together the same records as the one process wrote
    assert not (tmp_path / "two.jsonl").exists()
    shares = [tmp_path / "two.w0.jsonl", tmp_path / "two.w1.jsonl"]
    assert lines(*shares) == lines(tmp_path / "one.jsonl")
    assert sum(lines(tmp_path / "one.jsonl").values()) == sum(1 for r in written if r["n"] % 7 != 3)
    assert all(lines(s) for s in shares), "each worker wrote a share"

    single = json.loads((tmp_path / "m1.json").read_text())["pipelines"]["p"]
    report = json.loads((tmp_path / "m2.json").read_text())
    summed = report["pipelines"]["p"]
    workers = [w["pipelines"]["p"] for w in report["workers"]]
    assert report["exit_code"] == 0 and len(workers) == 2
    for key in ("in", "out", "dropped", "errors"):
        assert summed[key] == single[key] == sum(w[key] for w in workers), key
    assert summed["in"] == len(written) + 1 and summed["errors"] == 1
    assert balanced(summed) and all(balanced(w) for w in workers)
    assert all(w["in"] > 0 for w in workers)
    assert [s["in"] for s in summed["stages"]] == [s["in"] for s in single["stages"]]

    # one summary table, with the summed totals
    assert two.stderr.count("flowc run:") == 1
    row = next(line for line in two.stderr.splitlines() if line.startswith("│ p "))
    assert f"{summed['in']:,}" in row and f"{summed['out']:,}" in row
    assert "flowc: 2 workers; records read by worker 0:" in two.stderr


def test_a_compiled_module_takes_workers_too(tmp_path):
    write_inputs(tmp_path / "in", 3, 2000)
    (tmp_path / "p.flow").write_text(ENRICH)
    compiled = subprocess.run(
        [FLOWC, "compile", str(tmp_path / "p.flow"), "-o", str(tmp_path / "gen")],
        check=True,
        capture_output=True,
        text=True,
    )
    module = compiled.stdout.strip()
    env = {**os.environ, "IN": str(tmp_path / "in" / "*.jsonl")}
    for out, extra in (("one.jsonl", []), ("two.jsonl", ["--workers", "2"])):
        done = subprocess.run(
            [sys.executable, str(module), "--metrics", f"{out}.m", *extra],
            cwd=tmp_path,
            env={**env, "OUT": out},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert lines(tmp_path / "two.w0.jsonl", tmp_path / "two.w1.jsonl") == lines(
        tmp_path / "one.jsonl"
    )


@pytest.mark.parametrize(
    "program, named",
    [
        (
            'source file(env("IN"), format=json) | summarize c = count() by n every 1m '
            '| sink file("o.jsonl")',
            "summarize c = count() by n every 1m",
        ),
        ('source file(env("IN"), format=json) | dedup([n]) | sink file("o.jsonl")', "dedup([n])"),
        ('source file(env("IN"), format=json) | sink stdout', "sink stdout"),
        ('source stdin | sink file("o.jsonl")', "source stdin"),
    ],
)
def test_what_cannot_be_split_exactly_is_refused_with_status_2(tmp_path, program, named):
    write_inputs(tmp_path / "in", 1, 10)
    done = flowc(tmp_path, program, "--workers", "2", IN=str(tmp_path / "in" / "*.jsonl"))
    assert done.returncode == 2, done.stderr
    assert "cannot run as 2 workers" in done.stderr and named in done.stderr
    assert not list(tmp_path.glob("o*.jsonl"))


def test_a_failing_worker_stops_the_others_and_the_run_fails(tmp_path):
    # under --strict the worker reading the bad line fails; the other is stopped
    write_inputs(tmp_path / "in", 2, 50_000)
    done = flowc(
        tmp_path,
        ENRICH,
        "--workers",
        "2",
        "--strict",
        IN=str(tmp_path / "in" / "*.jsonl"),
        OUT="o.jsonl",
    )
    assert done.returncode == 1, done.stderr
    assert "error record under --strict" in done.stderr
    assert "worker 0 of 2 exited with status 1" in done.stderr


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] == "Z"
    except FileNotFoundError:
        return True


def start_run(tmp_path: Path, *args: str) -> subprocess.Popen:
    (tmp_path / "p.flow").write_text(ENRICH)
    return subprocess.Popen(
        [FLOWC, "run", str(tmp_path / "p.flow"), "--workers", "2", *args],
        cwd=tmp_path,
        env={
            **os.environ,
            "FLOWC_CACHE_DIR": str(tmp_path / "cache"),
            "IN": str(tmp_path / "in" / "*.jsonl"),
            "OUT": "o.jsonl",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def started_writing(tmp_path: Path) -> bool:
    return all(
        (tmp_path / f"o.w{i}.jsonl").exists() and (tmp_path / f"o.w{i}.jsonl").stat().st_size
        for i in range(2)
    )


def test_kill_9_of_parent_and_workers_then_a_restart_loses_nothing(tmp_path):
    written = write_inputs(tmp_path / "in", 2, 150_000)
    run = start_run(tmp_path)
    wait_for(lambda: started_writing(tmp_path), 60, "both workers writing")
    workers = children(run.pid)
    assert len(workers) == 2
    for pid in [run.pid, *workers]:
        os.kill(pid, signal.SIGKILL)
    run.communicate(timeout=10)
    wait_for(lambda: all(gone(p) for p in workers), 10, "the workers gone")
    # files read once have no checkpoint: the next run reads them again, whole,
    # and appends to what the killed run wrote (at least once, nothing lost)
    again = start_run(tmp_path)
    _, err = again.communicate(timeout=150)
    assert again.returncode == 0, err.decode()
    seen = lines(tmp_path / "o.w0.jsonl", tmp_path / "o.w1.jsonl")
    wanted = {json.loads(k)["n"] for k in seen}
    assert wanted == {r["n"] for r in written if r["n"] % 7 != 3}


def test_workers_outlive_neither_a_killed_parent_nor_a_signal(tmp_path):
    write_inputs(tmp_path / "in", 2, 150_000)
    run = start_run(tmp_path)
    wait_for(lambda: started_writing(tmp_path), 60, "both workers writing")
    workers = children(run.pid)
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=10)
    # the kernel tells each worker its parent died; it drains and ends
    wait_for(lambda: all(gone(p) for p in workers), 30, "the orphaned workers to end")

    for name in ("o.w0.jsonl", "o.w1.jsonl"):
        (tmp_path / name).unlink()
    run = start_run(tmp_path, "--metrics", "m.json")
    wait_for(lambda: started_writing(tmp_path), 60, "both workers writing")
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err.decode()
    assert "stopped by signal" in err.decode()
    report = json.loads((tmp_path / "m.json").read_text())
    summed = report["pipelines"]["p"]
    assert balanced(summed) and summed["in"] < 300_001
    # what the workers counted as written is in their files
    assert sum(lines(tmp_path / "o.w0.jsonl", tmp_path / "o.w1.jsonl").values()) == summed["out"]


@settings(max_examples=150, deadline=None)
@given(
    files=st.lists(
        st.tuples(
            st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=8),
            st.booleans(),  # ends with a newline
            st.booleans(),  # can be split
        ),
        min_size=1,
        max_size=4,
    ),
    count=st.integers(1, 5),
)
def test_every_line_is_read_by_exactly_one_worker(files, count):
    with tempfile.TemporaryDirectory() as directory:
        paths, expected = [], []
        for k, (content, newline, _) in enumerate(files):
            data = b"\n".join(content) + (b"\n" if newline and content else b"")
            path = os.path.join(directory, str(k))
            with open(path, "wb") as f:
                f.write(data)
            paths.append(path)
            expected += [
                (k, line)
                for line in data.split(b"\n")[: -1 if data.endswith(b"\n") else None]
                if data
            ]
        sizes = [os.path.getsize(p) for p in paths]
        read = []
        for index in range(count):
            for k, start, end in plan(sizes, [s for *_, s in files], index, count):
                with open(paths[k], "rb") as f:
                    if not files[k][2]:
                        assert (start, end) == (0, None)  # an unsplittable file goes whole
                    first = align(f.fileno(), start, sizes[k])
                    last = sizes[k] if end is None else align(f.fileno(), end, sizes[k])
                    f.seek(first)
                    data = Bounded(f, last).read(1 << 20)
                if data:
                    body = data[:-1] if data.endswith(b"\n") else data
                    read += [(k, line) for line in body.split(b"\n")]
        assert sorted(read) == sorted(expected)


def test_merged_metrics_add_up_and_keep_what_every_worker_missed():
    def snapshot(n_in, n_out, absent):
        return {
            "p": {
                "in": n_in,
                "out": n_out,
                "dropped": n_in - n_out,
                "errors": 0,
                "absorbed": 0,
                "unread_errors": 0,
                "pauses": 0,
                "paused_seconds": 0.0,
                "seconds": float(n_in),
                "records_per_second": 1.0,
                "stages": [
                    {
                        "index": 0,
                        "stage": "where x",
                        "written": "where x",
                        "line": 1,
                        "role": "processor",
                        "in": n_in,
                        "out": n_out,
                        "dropped": n_in - n_out,
                        "errors": 0,
                        "absent_fields": absent,
                        "counters": {"seen": n_in},
                    }
                ],
            }
        }

    merged = merge([snapshot(5, 3, ["x", "y"]), snapshot(7, 7, ["x"]), snapshot(0, 0, [])])["p"]
    assert (merged["in"], merged["out"], merged["dropped"]) == (12, 10, 2)
    assert merged["seconds"] == 7.0 and balanced(merged)
    stage = merged["stages"][0]
    assert stage["absent_fields"] == ["x"] and stage["counters"] == {"seen": 12}


FOLLOW = """
source file(env("IN"), format=json, follow=true)
  | set seen = true
  | sink file("o.jsonl")
"""


def append(directory: Path, files: int, start: int, stop: int) -> set[int]:
    for k in range(files):
        with open(directory / f"app-{k}.log", "a") as f:
            f.writelines(json.dumps({"n": k * 1_000_000 + i}) + "\n" for i in range(start, stop))
    return {k * 1_000_000 + i for k in range(files) for i in range(start, stop)}


def follow(tmp_path: Path, workers: int) -> subprocess.Popen:
    (tmp_path / "f.flow").write_text(FOLLOW)
    return subprocess.Popen(
        [FLOWC, "run", "f.flow", "--workers", str(workers), "--state-dir", "st"],
        cwd=tmp_path,
        env={
            **os.environ,
            "FLOWC_CACHE_DIR": str(tmp_path / "cache"),
            "IN": str(tmp_path / "logs" / "app-*.log"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def delivered(tmp_path: Path) -> list[int]:
    out = []
    for path in sorted(tmp_path.glob("o*.jsonl")):
        for line in path.read_bytes().split(b"\n"):
            if line.strip():
                try:
                    out.append(json.loads(line)["n"])
                except json.JSONDecodeError:
                    pass  # a line cut by kill -9 (the next run's sink cuts it off)
    return out


def test_followed_files_go_to_workers_by_inode_and_resume_with_any_number(tmp_path):
    (tmp_path / "logs").mkdir()
    written = append(tmp_path / "logs", 4, 0, 2000)
    run = follow(tmp_path, 2)
    wait_for(lambda: set(delivered(tmp_path)) >= written, 60, "the first lines")
    # each file is followed by one worker (the one its inode names)
    files = [{n // 1_000_000 for n in delivered_from(tmp_path / f"o.w{i}.jsonl")} for i in (0, 1)]
    assert not files[0] & files[1] and files[0] | files[1] == {0, 1, 2, 3}
    workers = children(run.pid)
    assert len(workers) == 2
    for pid in [run.pid, *workers]:
        os.kill(pid, signal.SIGKILL)
    run.communicate(timeout=10)
    wait_for(lambda: all(gone(p) for p in workers), 10, "the workers gone")

    # more lines while nothing runs; the next run has 3 workers
    written |= append(tmp_path / "logs", 4, 2000, 3000)
    run = follow(tmp_path, 3)
    wait_for(lambda: set(delivered(tmp_path)) >= written, 60, "the lines after the kill")
    written |= append(tmp_path / "logs", 4, 3000, 3500)  # followed as they come
    wait_for(lambda: set(delivered(tmp_path)) >= written, 60, "lines appended while running")
    assert sorted(p.name for p in (tmp_path / "st").glob("*.w*.json"))[-1].endswith(".w2.json")
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err.decode()

    # then one process takes over every worker's checkpoint
    written |= append(tmp_path / "logs", 4, 3500, 4000)
    run = follow(tmp_path, 1)
    wait_for(lambda: set(delivered(tmp_path)) >= written, 60, "the lines for one process")
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err.decode()
    assert not list((tmp_path / "st").glob("*.w*.json"))

    got = delivered(tmp_path)
    assert set(got) == written
    # only what was in flight at the kill came twice: every run resumed from
    # the checkpoints, whatever the number of workers before it
    assert len(got) - len(written) < 2000, len(got) - len(written)


def delivered_from(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["n"] for line in path.read_bytes().split(b"\n")[:-1] if line]


@settings(max_examples=100, deadline=None)
@given(
    docs=st.lists(
        st.lists(st.tuples(st.integers(0, 20), st.integers(0, 1000)), max_size=6),
        min_size=1,
        max_size=4,
    ),
    count=st.integers(1, 4),
)
def test_resharding_keeps_each_file_once_at_its_smallest_offset(docs, count):
    from flowlang.runtime import checkpoint
    from flowlang.runtime.tail import _load_all, owner, reshard, worker_state

    with tempfile.TemporaryDirectory() as directory:
        state = os.path.join(directory, "file-x.json")
        smallest: dict = {}
        # the one process's checkpoint and those of workers of earlier runs
        for k, entries in enumerate(docs):
            path = state if k == 0 else worker_state(state, k + 2)
            files = [{"dev": 1, "inode": ino, "offset": off, "path": "a"} for ino, off in entries]
            checkpoint.save(path, {"pattern": "*.log", "files": files})
            for ino, off in entries:
                smallest[ino] = min(off, smallest.get(ino, off))
        reshard(state, count)
        left = sorted(os.listdir(directory))
        assert left == sorted(os.path.basename(worker_state(state, i)) for i in range(count))
        for index in range(count):
            saved = checkpoint.load(worker_state(state, index))
            assert all(owner((e["dev"], e["inode"]), count) == index for e in saved["files"])
        merged = _load_all(state)
        assert {e["inode"]: e["offset"] for e in merged["files"]} == smallest
        assert len(merged["files"]) == len(smallest)


def test_a_field_is_absent_when_no_worker_saw_it_not_when_one_share_lacked_it(tmp_path):
    (tmp_path / "in").mkdir()
    with open(tmp_path / "in" / "a.jsonl", "w") as f:
        f.writelines(json.dumps({"n": i, "extra": "x"}) + "\n" for i in range(10))
    with open(tmp_path / "in" / "b.jsonl", "w") as f:
        f.writelines(json.dumps({"n": i}) + "\n" for i in range(3000))
    program = 'source file(env("IN"), format=json) | set e = extra, t = typo | sink file("o.jsonl")'
    env = {"IN": str(tmp_path / "in" / "*.jsonl")}
    one = flowc(tmp_path, program, "--strict", **env)
    two = flowc(tmp_path, program, "--strict", "--workers", "2", "--metrics", "m.json", **env)
    assert one.returncode == two.returncode == 1, two.stderr
    for done in (one, two):
        assert "field `typo` was absent in all 3,010 records" in done.stderr
        assert "--strict: field `typo`" in done.stderr
        assert "`extra`" not in done.stderr
    shares = [
        w["pipelines"]["p"]["stages"][1]
        for w in json.loads((tmp_path / "m.json").read_text())["workers"]
    ]
    # one worker read only b.jsonl and saw no `extra`; the sum did
    assert any("extra" in s["absent_fields"] for s in shares), shares


def test_http_serves_one_process_so_it_is_refused_with_workers(tmp_path):
    write_inputs(tmp_path / "in", 1, 10)
    done = flowc(
        tmp_path,
        ENRICH,
        "--workers",
        "2",
        "--http",
        "127.0.0.1:0",
        "--metrics",
        "m.json",
        IN=str(tmp_path / "in" / "*.jsonl"),
        OUT="o.jsonl",
    )
    assert done.returncode == 2
    assert "--http serves the metrics of one process" in done.stderr
    assert json.loads((tmp_path / "m.json").read_text())["exit_code"] == 2
    assert not list(tmp_path.glob("o*.jsonl"))
