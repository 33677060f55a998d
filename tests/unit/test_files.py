"""Tests for mplat.files: regular-file-only opens and atomic replacement."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from mplat.files import NotRegularFileError, open_regular, write_atomic


def test_open_regular_refuses_a_directory_with_its_mode(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFileError) as info:
        open_regular(tmp_path)
    assert info.value.errno == errno.EINVAL and info.value.strerror == "not a regular file"
    assert stat.S_ISDIR(info.value.st_mode)


@pytest.mark.timeout(20)
def test_open_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file") as info:
        open_regular(fifo)
    assert isinstance(info.value, NotRegularFileError) and stat.S_ISFIFO(info.value.st_mode)


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    write_atomic(target, b"new", prefix=".x-")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_write_atomic_sets_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    write_atomic(target, b"x", 0o644, sync=False)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_write_atomic_failure_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
