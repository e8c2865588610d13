"""`replace_file`, the one way flowlang replaces a file's content."""

from __future__ import annotations

import os
import stat

import pytest

from flowlang.runtime.atomic import replace_file


def test_a_new_file_is_made_and_an_old_one_replaced_keeping_its_permissions(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    replace_file(path, b"one", durable=True)
    assert path.read_bytes() == b"one"
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    replace_file(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # renamed over, not rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]


def test_a_failed_write_leaves_the_old_content_and_no_temporary_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        replace_file(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
