"""The tailer in-process on real files: its fingerprint, and what it reads
when a file is appended to or rewritten in place between two reads."""

from __future__ import annotations

import os
import tempfile

from hypothesis import example, given, settings
from hypothesis import strategies as st

from flowlang.runtime.gzipped import MAGIC
from flowlang.runtime.tail import HEAD, Tailer


def test_a_file_opened_by_a_byte_order_mark_resumes_after_a_restart(tmp_path):
    # the checkpoint's fingerprint holds the mark, as the file does, so the
    # next run recognises the file and reads on instead of from the start
    path, state = tmp_path / "app.log", str(tmp_path / "state.json")
    path.write_bytes(b"\xef\xbb\xbfa\nb\n")
    tailer = Tailer(str(path), state)
    tailer.open()
    w, first = tailer.read(10)
    assert first == [b"a", b"b"]
    tailer.acked(w, w.reader.restarts, w.reader.offset)
    tailer.close()
    with open(path, "ab") as f:
        f.write(b"c\n")
    again = Tailer(str(path), state)
    again.open()
    try:
        assert read_all(again, 10) == [b"c"]
    finally:
        again.close()


# lines of printable bytes (a newline only at their end), short and long
line_text = st.binary(min_size=0, max_size=300).map(lambda b: b.replace(b"\n", b"."))
# plain text: a file opening with the gzip magic bytes is read as gzip
# (tests/runtime/test_gzip.py)
lines = st.lists(line_text, min_size=1, max_size=40).filter(lambda ls: not ls[0].startswith(MAGIC))


def read_all(tailer: Tailer, n: int) -> list[bytes]:
    """What the tailer has now, taking damage as the file source does (a
    read that has only damage to tell gives no lines until it is taken)."""
    out: list[bytes] = []
    for _ in range(100_000):
        got = tailer.read(n)
        if got is None:
            return out
        out += got[1]
        got[0].take_damage()
    raise AssertionError("the tailer never ran out of lines")


def one(tailer: Tailer):
    (watched,) = tailer.files.values()
    return watched


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(min_size=1, max_size=700), min_size=1, max_size=12).filter(
        lambda cs: not b"".join(cs).startswith(MAGIC)
    ),
    n=st.integers(1, 50),
)
@example(chunks=[b"\xef\xbb\xbf"], n=1)
@example(chunks=[b"\xef\xbb", b"\xbfa\nb"], n=1)
def test_the_fingerprint_is_the_first_bytes_read_however_the_file_grew(chunks, n):
    # a byte-order mark opening the file is no record's, but it is the file's
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.log")
        open(path, "wb").close()
        tailer = Tailer(path, os.path.join(tmp, "state.json"))
        tailer.open()
        data = b""
        try:
            for chunk in chunks:
                with open(path, "ab") as f:
                    f.write(chunk)
                data += chunk
                read_all(tailer, n)
                w = one(tailer)
                assert w.prefix == data[: min(HEAD, w.reader.offset)]
                skipped = 3 if data.startswith(b"\xef\xbb\xbf") else 0
                assert w.reader.offset == max(skipped, data.rfind(b"\n") + 1)
        finally:
            tailer.close()


def as_read(file_lines: list[bytes]) -> list[bytes]:
    """The lines of a file as the reader gives them: a byte-order mark
    opening the file is dropped (it is the file's, no record's)."""
    if file_lines and file_lines[0].startswith(b"\xef\xbb\xbf"):
        return [file_lines[0][3:], *file_lines[1:]]
    return file_lines


@settings(max_examples=60, deadline=None)
@given(old=lines, new=lines, n=st.integers(1, 50))
@example(old=[b"a"], new=[b"\xef\xbb\xbf"], n=1)
def test_a_file_rewritten_in_place_is_read_again_unless_it_only_grew(old, new, n):
    old_data = b"".join(line + b"\n" for line in old)
    new_data = b"".join(line + b"\n" for line in new)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.log")
        with open(path, "wb") as f:
            f.write(old_data)
        tailer = Tailer(path, os.path.join(tmp, "state.json"))
        tailer.open()
        try:
            assert read_all(tailer, n) == as_read(old)
            with open(path, "r+b") as f:  # truncated and written again at once
                f.truncate(0)
                f.write(new_data)
            got = read_all(tailer, n)
        finally:
            tailer.close()
    seen = old_data[:HEAD]
    if new_data.startswith(seen) and len(new_data) >= len(old_data):
        # the same first bytes: taken for the old file, grown (or unchanged)
        assert got == new_data[len(old_data) :].split(b"\n")[:-1]
    else:
        assert got == as_read(new)


def test_an_acknowledgement_from_before_a_truncation_does_not_move_the_checkpoint(
    tmp_path,
):
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nb\nc\n")
    tailer = Tailer(str(path), str(tmp_path / "state.json"))
    tailer.open()
    got = tailer.read(10)
    assert got is not None
    w, old_lines = got
    restarts, offset = w.reader.restarts, w.reader.offset
    path.write_bytes(b"x\n")  # truncated before the batch was acknowledged
    assert tailer.read(10)[1] == [b"x"]
    tailer.acked(w, restarts, offset)  # the late acknowledgement of a, b, c
    from flowlang.runtime import checkpoint

    (entry,) = checkpoint.load(str(tmp_path / "state.json"))["files"]
    assert entry["offset"] == 0 and entry["head"] == ""
    tailer.acked(w, w.reader.restarts, w.reader.offset)
    (entry,) = checkpoint.load(str(tmp_path / "state.json"))["files"]
    assert entry["offset"] == 2 and bytes.fromhex(entry["head"]) == b"x\n"
    tailer.close()


# ---------------------------------------------------------------- rotation


def write(path, *lines: str, mode: str = "a") -> None:
    with open(path, mode) as f:
        f.writelines(line + "\n" for line in lines)


def test_a_file_renamed_twice_before_the_tailer_looked_is_found_by_its_renames(tmp_path):
    log = tmp_path / "app.log"
    write(log, "a1", mode="w")
    tailer = Tailer(str(log), str(tmp_path / "state.json"))
    tailer.open()
    assert tailer.watch is not None and tailer.watch.watching
    try:
        assert read_all(tailer, 10) == [b"a1"]
        # two rotations, logrotate's way, before the tailer looks again: the
        # file b was at the path for no time at all
        os.rename(log, f"{log}.1")
        write(log, "b1", "b2", mode="w")
        os.rename(f"{log}.1", f"{log}.2")
        os.rename(log, f"{log}.1")
        write(log, "c1", mode="w")
        assert sorted(read_all(tailer, 10)) == [b"b1", b"b2", b"c1"]
        paths = sorted(w.path for w in tailer.files.values())
        assert paths == [str(log), f"{log}.1", f"{log}.2"]
    finally:
        tailer.close()


def test_a_rotated_file_is_read_to_its_end_before_the_file_that_replaced_it(tmp_path):
    log = tmp_path / "app.log"
    write(log, "old 0", mode="w")
    tailer = Tailer(str(log), str(tmp_path / "state.json"))
    tailer.open()
    try:
        assert read_all(tailer, 10) == [b"old 0"]
        with open(log, "a") as old:
            os.rename(log, f"{log}.1")
            write(log, "new 0", "new 1", mode="w")
            old.writelines(f"old {i}\n" for i in range(1, 30))
        got = read_all(tailer, 10)
    finally:
        tailer.close()
    assert got == [f"old {i}".encode() for i in range(1, 30)] + [b"new 0", b"new 1"]


def test_without_a_directory_watch_rotation_is_followed_by_polling(tmp_path):
    log = tmp_path / "app.log"
    write(log, "a1", mode="w")
    tailer = Tailer(str(log), str(tmp_path / "state.json"), rescan=0.0, watch=False)
    tailer.open()
    assert tailer.watch is None and tailer.watch_fileno() is None
    try:
        assert read_all(tailer, 10) == [b"a1"]
        with open(log, "a") as old:
            os.rename(log, f"{log}.1")
            old.write("a2\n")
        write(log, "b1", mode="w")
        assert sorted(read_all(tailer, 10)) == [b"a2", b"b1"]
    finally:
        tailer.close()


def test_a_directory_that_appears_later_is_watched_once_it_exists(tmp_path):
    log = tmp_path / "later" / "app.log"
    tailer = Tailer(str(log), str(tmp_path / "state.json"), rescan=0.0)
    tailer.open()
    try:
        assert tailer.watch is not None and not tailer.watch.watching
        assert tailer.read(10) is None
        log.parent.mkdir()
        assert tailer.read(10) is None  # the rescan puts the watch in place
        assert tailer.watch.watching
        write(log, "a1", mode="w")
        os.rename(log, f"{log}.1")  # came and went between two reads
        assert read_all(tailer, 10) == [b"a1"]
    finally:
        tailer.close()


def test_a_glob_in_the_last_part_matches_names_as_glob_does(tmp_path):
    tailer = Tailer(str(tmp_path / "*.log"), str(tmp_path / "state.json"))
    assert tailer._follows("a.log") and not tailer._follows(".a.log")
    assert not tailer._follows("a.log.1")
    dotted = Tailer(str(tmp_path / ".*.log"), str(tmp_path / "state.json"))
    assert dotted._follows(".a.log")
    nested = Tailer(str(tmp_path / "*" / "a.log"), str(tmp_path / "state.json"))
    nested.open()
    assert nested.watch is None  # directories named by a pattern are polled
    nested.close()


def shift(log, files: int, line: str) -> None:
    """One logrotate rotation: app.log.<k> -> app.log.<k+1> for the `files`
    rotated files there are, app.log -> app.log.1, and a new app.log holding
    `line`."""
    for k in range(files, 0, -1):
        os.rename(f"{log}.{k}", f"{log}.{k + 1}")
    os.rename(log, f"{log}.1")
    write(log, line, mode="w")


def test_renames_after_the_reported_ones_do_not_hide_a_file_that_came(tmp_path):
    # the kernel's report is always behind the directory: here three more
    # rotations happen between the tailer's read of the report and its look
    # at the names, so every name it was told of holds another file by then
    log = tmp_path / "app.log"
    write(log, "f0", mode="w")
    tailer = Tailer(str(log), str(tmp_path / "state.json"), rescan=3600.0)
    tailer.open()
    try:
        assert read_all(tailer, 10) == [b"f0"]
        for i in range(1, 4):
            shift(log, i - 1, f"f{i}")
        read_changes = tailer.watch.changes
        later = iter(range(4, 7))

        def changes():
            reported = read_changes()
            for i in later:  # once: after the first report only
                shift(log, i - 1, f"f{i}")
            return reported

        tailer.watch.changes = changes
        got = sorted(read_all(tailer, 10))
    finally:
        tailer.close()
    assert got == [f"f{i}".encode() for i in range(1, 7)]
