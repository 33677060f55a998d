"""Lock files on disk: absent is None, bounded reads of regular files only, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mplat.plan import lockfile
from mplat.plan.lock import Lock, LockError, Pin, encode
from mplat.plan.lockfile import check_destination, read_lock, write_lock
from mplat.values import mediatypes as mt
from tests.support.builders import DA, DB

LOCK = Lock({"r.example/acme/app:amd64": Pin(DA, mt.OCI_MANIFEST, 528)})


def test_no_file_is_no_lock(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "manifests.lock") is None


def test_a_written_lock_reads_back_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "manifests.lock"
    assert write_lock(path, LOCK) is True
    assert path.read_text() == encode(LOCK)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # reviewed in git, read by CI: not secret
    assert read_lock(path) == Lock(LOCK.pins, str(path))


def test_an_unchanged_lock_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "manifests.lock"
    write_lock(path, LOCK)
    before = path.stat()
    assert write_lock(path, Lock(LOCK.pins, "another name")) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    changed = Lock({"r.example/acme/app:amd64": Pin(DB, mt.OCI_MANIFEST, 528)})
    assert write_lock(path, changed) is True
    assert read_lock(path) == Lock(changed.pins, str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["manifests.lock"]  # no temporary left


def test_an_unreadable_old_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "manifests.lock"
    path.write_text("<<<<<<< HEAD\n")
    assert write_lock(path, LOCK) is True
    assert read_lock(path) is not None


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "manifests.lock"
    path.write_text("{}")
    with pytest.raises(LockError, match=rf"^{path}: not an mplat lock file"):
        read_lock(path)


def test_a_directory_is_refused_for_reading_and_writing(tmp_path: Path) -> None:
    with pytest.raises(LockError, match=r"is a directory, not a lock file$"):
        read_lock(tmp_path)
    with pytest.raises(LockError, match=r"cannot write the lock file \(is a directory\)$"):
        write_lock(tmp_path, LOCK)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "manifests.lock"
    os.mkfifo(fifo)
    with pytest.raises(LockError, match=r"not a regular file, so not a lock file$"):
        read_lock(fifo)
    with pytest.raises(LockError, match=r"cannot write the lock file \(not a regular file\)$"):
        check_destination(fifo)


def test_a_device_is_never_replaced() -> None:
    with pytest.raises(LockError, match=r"^/dev/null: cannot write the lock file"):
        write_lock("/dev/null", LOCK)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_missing_directory_is_refused_before_anything_else(tmp_path: Path) -> None:
    with pytest.raises(LockError, match=r"cannot write the lock file \(No such file"):
        check_destination(tmp_path / "nowhere" / "manifests.lock")
    (tmp_path / "file").write_text("")
    with pytest.raises(LockError, match=r"cannot write the lock file \(Not a directory\)"):
        check_destination(tmp_path / "file" / "manifests.lock")


def test_a_file_over_the_cap_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lockfile, "MAX_LOCK_BYTES", 100)
    path = tmp_path / "manifests.lock"
    path.write_text(" " * 101)
    with pytest.raises(LockError, match=r"too large for a lock file \(more than 100 bytes\)$"):
        read_lock(path)


def test_an_unreadable_file_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifests.lock"
    path.write_text(encode(LOCK))
    real_open = os.open

    def refuse(name: object, flags: int, *args: object, **kwargs: object) -> int:
        if os.fspath(name) == str(path):  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, flags, *args, **kwargs)  # type: ignore[arg-type]

    # Root (as in CI) ignores file modes, so the open itself is denied rather than chmod.
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(LockError, match=r"cannot read the lock file \(Permission denied\)$"):
        read_lock(path)
