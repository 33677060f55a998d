"""mplat.registry.cache: verified reads, atomic writes, bounded size, and no poisoning."""

from __future__ import annotations

import errno
import hashlib
import os
import pwd
from pathlib import Path

import pytest

from mplat.registry.cache import DiskCache, default_cache_dir


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_round_trip_and_layout(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    data = b'{"schemaVersion": 2}'
    d = digest_of(data)
    assert cache.get(d) is None
    cache.put(d, data)
    assert cache.get(d) == data
    hexpart = d.split(":")[1]
    assert (tmp_path / "sha256" / hexpart[:2] / hexpart).read_bytes() == data
    assert (cache.hits, cache.misses) == (1, 1)
    assert not [p for p in tmp_path.rglob(".tmp-*")]  # no temporary files left behind


def test_put_refuses_bytes_that_do_not_match_the_digest(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put(digest_of(b"a"), b"b")
    assert cache.get(digest_of(b"a")) is None
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_poisoned_entry_is_discarded(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    data = b"genuine"
    d = digest_of(data)
    cache.put(d, data)
    path = tmp_path / "sha256" / d[7:9] / d[7:]
    path.write_bytes(b"poison")
    assert cache.get(d) is None
    assert cache.discarded == 1
    assert not path.exists()


def test_invalid_digests_are_never_paths(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    for bad in ("sha256:../../etc/passwd", "md5:abc", "sha256:" + "A" * 64, "sha256:12"):
        cache.put(bad, b"x")
        assert cache.get(bad) is None
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_trim_keeps_the_cache_bounded(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, limit=10_000)
    blobs = [os.urandom(1000) for _ in range(30)]
    for i, b in enumerate(blobs):
        cache.put(digest_of(b), b)
        path = tmp_path / "sha256" / digest_of(b)[7:9] / digest_of(b)[7:]
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # oldest first
    removed = cache.trim()
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert total <= 10_000 and removed >= 20_000
    assert cache.get(digest_of(blobs[-1])) == blobs[-1]  # newest kept
    assert cache.get(digest_of(blobs[0])) is None  # oldest evicted


def test_default_location_follows_xdg() -> None:
    assert default_cache_dir({"MPLAT_CACHE_DIR": "/x"}) == Path("/x")
    assert default_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/mplat")
    assert default_cache_dir({"HOME": "/h"}) == Path("/h/.cache/mplat")


def test_no_home_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # HOME unset and a uid with no passwd entry (``docker run --user 1234``): Path.home()
    # raised RuntimeError. An empty or relative HOME would cache under / or the cwd.
    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    assert default_cache_dir({}) is None
    assert default_cache_dir({"HOME": ""}) is None
    assert default_cache_dir({"HOME": "relative"}) is None
    assert default_cache_dir({"MPLAT_CACHE_DIR": "/x"}) == Path("/x")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_an_entry_that_is_not_a_regular_file_is_a_miss(tmp_path: Path, kind: str) -> None:
    # A FIFO in an entry's place blocked open() forever: the plan never finished.
    cache = DiskCache(tmp_path)
    data = b'{"schemaVersion": 2}'
    d = digest_of(data)
    path = tmp_path / "sha256" / d[7:9] / d[7:]
    path.parent.mkdir(parents=True)
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    assert cache.get(d) is None
    assert (cache.misses, cache.discarded) == (1, 1)
    if kind == "fifo":
        assert not path.exists()  # removed, so the next write puts a real entry there
        cache.put(d, data)
        assert cache.get(d) == data


def test_a_full_disk_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    cache = DiskCache(tmp_path)
    data = b"x" * 100_000
    cache.put(digest_of(data), data)  # only slower, never an error
    monkeypatch.undo()
    assert [p for p in tmp_path.rglob("*") if not p.is_dir()] == []
    assert cache.get(digest_of(data)) is None


def test_concurrent_writers_never_expose_partial_entries(tmp_path: Path) -> None:
    import threading

    data = os.urandom(200_000)
    d = digest_of(data)
    seen: list[bytes | None] = []

    def writer() -> None:
        for _ in range(50):
            DiskCache(tmp_path).put(d, data)

    def reader() -> None:
        for _ in range(200):
            seen.append(DiskCache(tmp_path).get(d))

    threads = [threading.Thread(target=writer) for _ in range(3)] + [
        threading.Thread(target=reader) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s is None or s == data for s in seen)
    assert DiskCache(tmp_path).get(d) == data


def test_has_tells_a_stored_entry_without_reading_it(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    data = b'{"schemaVersion": 2}'
    assert not cache.has(digest_of(data))
    cache.put(digest_of(data), data)
    assert cache.has(digest_of(data))
    assert not cache.has("sha256:../../etc/passwd")  # not a digest: never a path
    assert (cache.hits, cache.misses) == (0, 0)
