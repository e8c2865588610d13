"""The file source on gzip files written by the `gzip` module: read once and
followed, multi-member, damaged, and across restarts."""

from __future__ import annotations

import gzip
import json
import signal
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from flowlang.runtime.gzipped import GzipReader
from flowlang.runtime.tail import Tailer

from . import teststages as ts
from .procs import numbers, start, wait_for
from .test_files import build_copy, run

pytestmark = pytest.mark.timeout(120)


def numbered(start: int, stop: int) -> bytes:
    return b"".join(json.dumps({"n": n}).encode() + b"\n" for n in range(start, stop))


def read_out(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def drain(tailer: Tailer, n: int, ack: bool = True) -> list[bytes]:
    """Every line the tailer has (a gzip file's last line comes once its
    stream was seen to end), acknowledging each batch."""
    got: list[bytes] = []
    for _ in range(10_000):
        r = tailer.read(n)
        if r is not None:
            w, lines = r
            got += lines
            if ack:
                tailer.acked(w, w.reader.restarts, w.reader.offset)
        elif all(w.gz is None or w.read_whole for w in tailer.files.values()):
            return got
    raise AssertionError("the tailer never finished")


def test_a_gz_file_is_read_as_the_lines_it_holds_by_its_name_or_its_magic_bytes(tmp_path):
    plain = numbered(0, 500)
    (tmp_path / "a.log.gz").write_bytes(gzip.compress(plain))
    (tmp_path / "b.log").write_bytes(gzip.compress(plain))  # no .gz: the magic bytes tell
    (tmp_path / "c.log").write_bytes(plain)
    out = tmp_path / "out.jsonl"
    outcome = run(build_copy(str(tmp_path / "*.log*"), str(out)), batch_size=64)
    assert outcome.exit_code == 0
    assert [r["n"] for r in read_out(out)] == list(range(500)) * 3
    assert ts.COLLECTED["errors"] == []


def test_every_member_of_a_multi_member_file_is_read_in_order(tmp_path):
    # `cat a.gz b.gz > all.gz`, and zero padding after the last member, as gzip allows
    src, out = tmp_path / "all.gz", tmp_path / "out.jsonl"
    members = [gzip.compress(numbered(i * 100, i * 100 + 100)) for i in range(3)]
    members.insert(1, gzip.compress(b""))  # an empty member holds nothing
    src.write_bytes(b"".join(members) + b"\0" * 512)
    outcome = run(build_copy(str(src), str(out)))
    assert outcome.exit_code == 0
    assert [r["n"] for r in read_out(out)] == list(range(300))
    assert ts.COLLECTED["errors"] == []


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda blob: blob[: len(blob) * 2 // 3], "the file ends inside a gzip member"),
        (lambda blob: blob[:-8] + bytes(b ^ 0xFF for b in blob[-8:-4]) + blob[-4:], "check"),
        (lambda blob: blob + b"trailing garbage", "incorrect header check"),
    ],
    ids=["truncated", "crc", "trailing-garbage"],
)
def test_damage_is_one_error_record_after_the_records_before_it_and_the_run_goes_on(
    tmp_path, damage, reason
):
    plain = numbered(0, 20000)
    blob = gzip.compress(plain)
    (tmp_path / "a.gz").write_bytes(damage(blob))
    (tmp_path / "b.gz").write_bytes(gzip.compress(numbered(20000, 20010)))
    out = tmp_path / "out.jsonl"
    outcome = run(build_copy(str(tmp_path / "*.gz"), str(out)), batch_size=100)
    assert outcome.exit_code == 0
    got = [r["n"] for r in read_out(out) if "n" in r]
    (error,) = [e for e in ts.COLLECTED["errors"] if e["code"] == "decode"]
    assert str(tmp_path / "a.gz") in error["message"] and reason in error["message"]
    # what came out of the damaged file before the damage is its first lines,
    # in order; the next file is read whole
    assert got[-10:] == list(range(20000, 20010))
    before = got[:-10]
    assert before == list(range(len(before)))
    if reason != "the file ends inside a gzip member":
        assert len(before) == 20000  # the damage is after the data: nothing lost
    else:  # the line the end of the file cut is the error's raw
        assert 0 < len(before) < 20000
        assert numbered(len(before), len(before) + 1).decode().startswith(error["raw"] or "")
    m = outcome.metrics["copy"]
    assert m["errors"] == len(ts.COLLECTED["errors"]) and m["out"] == len(read_out(out))


def test_a_gz_file_that_is_not_gzip_at_all_is_one_error_record(tmp_path):
    src, out = tmp_path / "notes.gz", tmp_path / "out.jsonl"
    src.write_bytes(b"plain text named .gz\n")
    outcome = run(build_copy(str(src), str(out)))
    assert outcome.exit_code == 0
    (error,) = ts.COLLECTED["errors"]
    assert error["code"] == "decode" and str(src) in error["message"]
    assert "after 0 uncompressed bytes" in error["message"]
    assert not out.exists() or read_out(out) == []


line_text = st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" "))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(line_text, max_size=60),
    end_newline=st.booleans(),
    members=st.integers(1, 3),
    bom=st.booleans(),
)
@example(lines=[b"", b""], end_newline=False, members=1, bom=False)
def test_lines_written_gzipped_read_back_exactly_as_the_same_lines_written_plain(
    tmp_path, lines, end_newline, members, bom
):
    plain = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if end_newline else b"")
    # a file that opens with the gzip magic bytes is read as gzip whatever its
    # name (the test above): such a "plain" file is not plain text
    assume(not plain.startswith(b"\x1f\x8b"))
    cuts = [len(plain) * i // members for i in range(members + 1)]  # empty members too
    packed = b"".join(gzip.compress(plain[a:b]) for a, b in zip(cuts, cuts[1:]))
    for name, data in (("plain.log", plain), ("packed.log.gz", packed)):
        (tmp_path / name).write_bytes(data)

    def whole(name: str) -> list[dict]:
        out = tmp_path / f"{name}.out"
        out.unlink(missing_ok=True)
        outcome = run(build_copy(str(tmp_path / name), str(out), format="lines"), batch_size=7)
        assert outcome.exit_code == 0
        return read_out(out) if out.exists() else []

    def followed(name: str) -> list:
        state = tmp_path / f"{name}.state.json"
        state.unlink(missing_ok=True)
        tailer = Tailer(str(tmp_path / name), str(state), linger=0.0)
        tailer.open()
        try:
            return drain(tailer, 5)
        finally:
            tailer.close()

    records = whole("plain.log")
    errors = [e["raw"] for e in ts.COLLECTED["errors"]]
    assert whole("packed.log.gz") == records
    assert [e["raw"] for e in ts.COLLECTED["errors"]] == errors
    # followed, a plain file's last line waits for its newline; a gzip
    # file's is read once its stream ended, so it holds the lines as written
    body = plain.removeprefix(b"\xef\xbb\xbf")
    as_written = body.split(b"\n")
    last = as_written.pop()  # b"" after a final newline
    assert followed("packed.log.gz") == as_written + ([last] if last else [])
    assert followed("plain.log") == as_written


def test_a_followed_gz_file_resumes_after_the_acknowledged_bytes_and_is_not_read_again(tmp_path):
    path, state = tmp_path / "app.log.1.gz", str(tmp_path / "state.json")
    path.write_bytes(gzip.compress(numbered(0, 1000)))
    tailer = Tailer(str(path), state)
    tailer.open()
    w, first = tailer.read(300)
    assert len(first) == 300
    tailer.acked(w, w.reader.restarts, w.reader.offset)  # 300 accepted
    w, second = tailer.read(300)  # read, never accepted: a kill here
    tailer.close()

    again = Tailer(str(path), state)
    again.open()
    got = drain(again, 400)
    assert [json.loads(x)["n"] for x in got] == list(range(300, 1000))  # nothing lost
    saved = json.loads(Path(state).read_text())["files"][0]
    assert saved["gzip"] is True and saved["complete"] is True
    again.close()

    third = Tailer(str(path), state)  # read whole and accepted: not read again
    third.open()
    try:
        assert third.read(400) is None
    finally:
        third.close()


def test_a_gz_file_rewritten_under_the_same_inode_is_read_again_from_its_start(tmp_path):
    path, state = tmp_path / "a.gz", str(tmp_path / "state.json")
    path.write_bytes(gzip.compress(numbered(0, 10), mtime=1))
    tailer = Tailer(str(path), state)
    tailer.open()
    w, lines = tailer.read(100)
    tailer.acked(w, w.reader.restarts, w.reader.offset)
    tailer.close()
    with open(path, "r+b") as f:  # same inode, other content
        f.write(gzip.compress(numbered(50, 55), mtime=2))
        f.truncate()
    again = Tailer(str(path), state)
    again.open()
    try:
        _, lines = again.read(100)
        assert [json.loads(x)["n"] for x in lines] == list(range(50, 55))
    finally:
        again.close()


def test_a_gz_file_being_written_waits_for_its_end_and_is_then_read_once(tmp_path):
    path, state = tmp_path / "app.log.1.gz", str(tmp_path / "state.json")
    blob = gzip.compress(numbered(0, 2000))
    half = len(blob) // 2
    path.write_bytes(blob[:half])  # the compressor has written half
    tailer = Tailer(str(path), state, linger=30.0)
    tailer.open()
    try:
        got: list = []
        while (r := tailer.read(5000)) is not None:
            got += r[1]
        (w,) = tailer.files.values()
        assert w.gz is not None and not w.gz.finished and w.take_damage() is None
        assert 0 < len(got) < 2000
        with open(path, "ab") as f:
            f.write(blob[half:])
        got += drain(tailer, 5000, ack=False)
        assert [json.loads(x)["n"] for x in got] == list(range(2000))
        with open(path, "ab") as f:  # growth after the stream ended is not followed
            f.write(gzip.compress(numbered(5000, 5001)))
        assert tailer.read(5000) is None
    finally:
        tailer.close()


def test_a_followed_gz_file_cut_short_is_one_error_once_quiet_and_read_on_if_it_grows(tmp_path):
    path, state = tmp_path / "app.gz", str(tmp_path / "state.json")
    blob = gzip.compress(numbered(0, 3000))
    path.write_bytes(blob[: len(blob) // 2])  # a copy that stalls half way
    tailer = Tailer(str(path), state, linger=0.2)
    tailer.open()
    try:
        got, damage = [], []
        deadline = time.monotonic() + 10
        while not damage and time.monotonic() < deadline:
            r = tailer.read(1000)
            if r is None:
                time.sleep(0.05)
                continue
            got += r[1]
            if (told := r[0].take_damage()) is not None:
                damage.append(told)
        ((message, cut),) = damage
        assert str(path) in message and "truncated" in message
        ns = [json.loads(x)["n"] for x in got]
        assert ns == list(range(len(ns))) and 0 < len(ns) < 3000
        # the line the end of the file cut goes with the error, not as a record
        assert numbered(len(ns), len(ns) + 1).startswith(cut)
        assert tailer.read(1000) is None  # told once
        saved = json.loads(Path(state).read_text())["files"][0]
        assert "complete" not in saved  # a later run would read on, too

        with open(path, "ab") as f:  # the copy goes on: nothing is lost
            f.write(blob[len(blob) // 2 :])
        got += drain(tailer, 1000)
        assert [json.loads(x)["n"] for x in got] == list(range(3000))
    finally:
        tailer.close()


def test_the_uncompressed_stream_seeks_back_to_a_line_start_and_forward_past_chunks(tmp_path):
    path = tmp_path / "x.gz"
    plain = numbered(0, 50000)
    path.write_bytes(gzip.compress(plain, compresslevel=1))
    with open(path, "rb") as f:
        r = GzipReader(f.fileno(), str(path))
        r.seek(len(plain) - 12)  # forward through many chunks
        assert r.readline(100) == plain[-12:][: plain[-12:].index(b"\n") + 1]
        r.seek(len(plain) - 12)  # back to the start of the line just read
        assert r.read(12) == plain[-12:]
        r.seek(3)  # before it: read again from the start
        assert r.read(5) == plain[3:8]
        assert r.first_bytes(9) == plain[:9]


def tail_gz(tmp_path: Path):
    return start(
        "tail_flow.py",
        "--state-dir",
        str(tmp_path / "state"),
        "--no-status",
        env={"FLOW_IN": str(tmp_path / "logs" / "*.gz"), "FLOW_OUT": str(tmp_path / "out.jsonl")},
    )


def test_kill_9_while_reading_a_followed_gz_file_then_restart_loses_nothing(tmp_path):
    logs, out = tmp_path / "logs", tmp_path / "out.jsonl"
    logs.mkdir()
    total = 200_000
    (logs / "app.log.1.gz").write_bytes(gzip.compress(numbered(0, total // 2)))
    (logs / "app.log.2.gz").write_bytes(gzip.compress(numbered(total // 2, total)))
    proc = tail_gz(tmp_path)
    wait_for(lambda: len(numbers(out)) > 20_000, timeout=60, what="some records")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc = tail_gz(tmp_path)
    wait_for(lambda: set(numbers(out)) >= set(range(total)), timeout=90, what="every record")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    got = numbers(out)
    assert set(got) == set(range(total))  # nothing lost; the in-flight ones twice at most
    duplicated = len(got) - total
    assert 0 <= duplicated < total // 4

    size = out.stat().st_size  # a third run reads neither file again
    proc = tail_gz(tmp_path)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert out.stat().st_size == size


def test_a_followed_file_is_taken_for_gzip_by_its_first_bytes_once_it_has_them(tmp_path):
    path, state = tmp_path / "archive", str(tmp_path / "state.json")
    path.write_bytes(b"")  # created empty, as a compressor does, then written
    tailer = Tailer(str(path), state)
    tailer.open()
    try:
        assert tailer.read(10) is None
        path.write_bytes(gzip.compress(b"one\ntwo\n"))
        assert drain(tailer, 10) == [b"one", b"two"]
        (w,) = tailer.files.values()
        assert w.gz is not None and w.read_whole
    finally:
        tailer.close()


@pytest.mark.parametrize("first_gzip", [True, False])
def test_a_file_rewritten_in_place_is_read_as_what_it_holds_now_gzip_or_text(tmp_path, first_gzip):
    # a name without .gz is sniffed again when the file starts over: text
    # written where gzip was is text (not damaged gzip), and the other way
    path, state = tmp_path / "app.log", str(tmp_path / "state.json")
    text = numbered(0, 5)
    packed = gzip.compress(text)
    path.write_bytes(packed if first_gzip else text)
    tailer = Tailer(str(path), state)
    tailer.open()
    try:
        assert [json.loads(x)["n"] for x in drain(tailer, 10)] == list(range(5))
        (w,) = tailer.files.values()
        restarts = w.reader.restarts
        with open(path, "r+b") as f:  # the same inode, truncated and written again
            f.truncate(0)
            f.write(numbered(7, 9) if first_gzip else gzip.compress(numbered(7, 9)))
        assert [json.loads(x)["n"] for x in drain(tailer, 10)] == [7, 8]
        (w,) = tailer.files.values()
        assert (w.gz is None) == first_gzip
        # an acknowledgement of the first content is told apart
        assert w.reader.restarts > restarts
    finally:
        tailer.close()


def test_an_empty_followed_gz_file_is_waited_for_and_read_once_written(tmp_path):
    # the compressor created it and has not written yet, however long that takes
    path, state = tmp_path / "app.log.1.gz", str(tmp_path / "state.json")
    path.write_bytes(b"")
    tailer = Tailer(str(path), state, linger=0.0)
    tailer.open()
    try:
        assert tailer.read(10) is None and tailer.read(10) is None
        (w,) = tailer.files.values()
        assert not w.read_whole and w.take_damage() is None
        path.write_bytes(gzip.compress(b"late\n"))
        assert drain(tailer, 10) == [b"late"]
    finally:
        tailer.close()
