"""mplat.registry.taghints: hints survive runs, merge with other runs', and never mislead."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mplat.registry import taghints
from mplat.registry.taghints import TagHints

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


def test_a_hint_survives_to_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / taghints.FILE_NAME
    first = TagHints(path)
    assert first.get("r.io/app:1") is None
    first.put("r.io/app:1", A)
    assert first.get("r.io/app:1") == A
    first.save()
    assert TagHints(path).get("r.io/app:1") == A
    assert not list(tmp_path.glob(".tmp-*"))


def test_nothing_is_written_when_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / taghints.FILE_NAME
    hints = TagHints(path)
    hints.save()
    assert not path.exists()
    hints.put("r.io/app:1", A)
    hints.save()
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    again = TagHints(path)
    again.put("r.io/app:1", A)  # what the file already says
    again.save()
    assert path.stat().st_mtime_ns == before - 10**9


def test_saving_merges_with_what_another_run_wrote_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / taghints.FILE_NAME
    one, other = TagHints(path), TagHints(path)
    one.get("x")  # both read the (missing) file before either writes
    other.get("x")
    one.put("r.io/app:1", A)
    other.put("r.io/app:2", B)
    one.save()
    other.save()
    merged = TagHints(path)
    assert (merged.get("r.io/app:1"), merged.get("r.io/app:2")) == (A, B)


def test_the_newest_hints_are_kept_past_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(taghints, "MAX_ENTRIES", 2)
    path = tmp_path / taghints.FILE_NAME
    hints = TagHints(path)
    for tag, digest in (("1", A), ("2", B), ("3", C)):
        hints.put(f"r.io/app:{tag}", digest)
    hints.save()
    again = TagHints(path)
    assert [again.get(f"r.io/app:{t}") for t in "123"] == [None, B, C]
    again.put("r.io/app:2", A)  # seen again: now the newest
    again.save()
    final = TagHints(path)
    assert [final.get(f"r.io/app:{t}") for t in "123"] == [None, A, C]


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe",
        json.dumps({"version": 2, "tags": {"r.io/app:1": A}}).encode(),
        json.dumps({"version": 1, "tags": ["r.io/app:1"]}).encode(),
        json.dumps([1, 2]).encode(),
    ],
)
def test_a_file_that_is_not_ours_gives_no_hints(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / taghints.FILE_NAME
    path.write_bytes(content)
    assert TagHints(path).get("r.io/app:1") is None


def test_only_digests_are_taken_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / taghints.FILE_NAME
    tags = {"r.io/app:1": A, "r.io/app:2": "latest", "r.io/app:3": 7, "r.io/app:4": "sha256:AB"}
    path.write_text(json.dumps({"version": 1, "tags": tags}))
    hints = TagHints(path)
    assert [hints.get(f"r.io/app:{t}") for t in "1234"] == [A, None, None, None]


def test_a_fifo_in_its_place_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / taghints.FILE_NAME
    os.mkfifo(path)
    assert TagHints(path).get("r.io/app:1") is None  # returns at once instead of blocking


def test_a_cache_that_cannot_be_written_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    hints = TagHints(blocker / taghints.FILE_NAME)  # its folder is a regular file
    hints.put("r.io/app:1", A)
    hints.save()  # no exception: the run goes on with what it learnt
    assert hints.get("r.io/app:1") == A
