"""Tests for mplat.files: regular-file-only opens and atomic replacement."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from mplat import files
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


def test_write_atomic_never_writes_through_a_file_planted_at_its_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Names come from os.urandom; made predictable here, a symlink waits at every one.
    monkeypatch.setattr(os, "urandom", lambda n: b"\x00" * n)
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    planted = tmp_path / (".x-" + "00" * 6)
    planted.symlink_to(victim)
    target = tmp_path / "f"
    write_atomic(target, b"new", prefix=".x-")
    assert target.read_bytes() == b"new"
    assert victim.read_bytes() == b"keep"
    assert planted.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["f", "victim", planted.name])


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


def test_read_regular_reads_whole_files_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    assert files.read_regular(path, 5) == b"12345"
    with pytest.raises(files.TooLargeError) as caught:
        files.read_regular(path, 4)
    assert files.read_refusal(caught.value, "plan file") == (
        "too large for a plan file (more than 4 bytes)"
    )


def test_read_refusal_words_each_kind_of_refusal(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, words in (
        (tmp_path, "is a directory, not a lock file"),
        (fifo, "not a regular file, so not a lock file"),
        (tmp_path / "gone", "cannot read the lock file (No such file or directory)"),
    ):
        with pytest.raises(OSError) as caught:
            files.read_regular(path, 10)
        assert files.read_refusal(caught.value, "lock file") == words


def test_write_refusal_allows_only_a_regular_file_or_nothing(tmp_path: Path) -> None:
    regular = tmp_path / "plan"
    regular.write_text("x")
    assert files.write_refusal(regular) is None
    assert files.write_refusal(tmp_path / "new") is None
    assert files.write_refusal(tmp_path) == "is a directory"
    assert files.write_refusal("/dev/null") == "not a regular file"
    assert files.write_refusal(regular / "below") == "Not a directory"
    assert files.write_refusal(tmp_path / "missing" / "x") == "No such file or directory"
