"""The tailer in-process on real files: its fingerprint, and what it reads
when a file is appended to or rewritten in place between two reads."""

from __future__ import annotations

import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from flowlang.runtime.tail import HEAD, Tailer

# lines of printable bytes (a newline only at their end), short and long
line_text = st.binary(min_size=0, max_size=300).map(lambda b: b.replace(b"\n", b"."))
lines = st.lists(line_text, min_size=1, max_size=40)


def read_all(tailer: Tailer, n: int) -> list[bytes]:
    out: list[bytes] = []
    while (got := tailer.read(n)) is not None:
        out += got[1]
    return out


def one(tailer: Tailer):
    (watched,) = tailer.files.values()
    return watched


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=700), min_size=1, max_size=12),
       n=st.integers(1, 50))  # fmt: skip
def test_the_fingerprint_is_the_first_bytes_read_however_the_file_grew(chunks, n):
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
                assert w.reader.offset == data.rfind(b"\n") + 1
        finally:
            tailer.close()


@settings(max_examples=60, deadline=None)
@given(old=lines, new=lines, n=st.integers(1, 50))
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
            assert read_all(tailer, n) == old
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
        assert got == new


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
