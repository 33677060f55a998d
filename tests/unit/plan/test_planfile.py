"""Tests for mplat.plan.planfile, the file edge: atomic writes, refusing what is not a plan
file, size caps, and messages that name the path (the format itself: test_file_codec)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mplat.plan import file_codec
from mplat.plan.model import Plan
from mplat.plan.planfile import MAX_PLAN_BYTES, PlanFileError, load_plan, save_plan
from tests.support.builders import ERRORS, sample_plan


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _saved(tmp_path: Path, plan: Plan | None = None) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "plan.json"
    save_plan(plan or sample_plan(), path)
    return path, json.loads(path.read_text())


def _load_fails(path: Path, fragment: str) -> str:
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message
    return message


# --- round trip through the disk ---------------------------------------------------------------


def test_round_trip_equals_the_original(tmp_path: Path) -> None:
    plan = sample_plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded = load_plan(path)
    assert loaded == plan
    for before, after in zip(plan.changes, loaded.changes, strict=True):
        if before.desired is not None:
            assert after.desired is not None
            assert after.desired.body == before.desired.body


def test_round_trip_of_empty_plan(tmp_path: Path) -> None:
    path = tmp_path / "p"
    save_plan(Plan(()), path)
    assert load_plan(path) == Plan(())


def test_saved_file_is_the_encoded_plan(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    assert path.read_text() == file_codec.encode(sample_plan())
    assert doc == file_codec.to_document(sample_plan())


def test_saving_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    save_plan(sample_plan(), a)
    save_plan(sample_plan(), b)
    assert a.read_bytes() == b.read_bytes()
    assert file_codec.to_document(sample_plan()) == json.loads(a.read_text())


# --- what the codec refuses is named by its path --------------------------------------------


def _other_version(d: dict[str, Any]) -> None:
    d["version"] = 2


def _errors_held(d: dict[str, Any]) -> None:
    d["errors"] = ["x"]


def _bad_tag(d: dict[str, Any]) -> None:
    d["changes"][0]["tag"] = "../latest"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (_other_version, "plan file version 2 is not supported (expected 1)"),
        (_errors_held, "the plan holds 1 error"),
        (_bad_tag, "malformed plan file (changes[0].tag: expected a tag, got '../latest')"),
    ],
)
def test_a_refused_file_is_named_before_the_reason(
    tmp_path: Path, mutate: Any, fragment: str
) -> None:
    path, doc = _saved(tmp_path)
    mutate(doc)
    message = _load_fails(_write(path, doc), fragment)
    assert message.startswith(f"{path}: {fragment}")


def test_garbage_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b"garbage")
    assert _load_fails(path, "not JSON") == f"{path}: not a plan file (not JSON)"


# --- unusable files ----------------------------------------------------------------------------


def test_directory_is_rejected(tmp_path: Path) -> None:
    _load_fails(tmp_path, "is a directory, not a plan file")


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    _load_fails(tmp_path / "nope.json", "cannot read the plan file (No such file or directory)")


# --- atomic write ------------------------------------------------------------------------------


def test_save_replaces_an_existing_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old content")
    save_plan(sample_plan(), path)
    assert load_plan(path) == sample_plan()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_failed_save_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    path.write_text("previous plan")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), path)
    # One line naming the path the user gave, not the temporary file the error was about.
    assert str(info.value) == f"{path}: cannot write plan (No space left on device)"
    assert path.read_text() == "previous plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_save_writes_into_the_target_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file must be a sibling: os.replace is only atomic within one filesystem."""
    sub = tmp_path / "out"
    sub.mkdir()
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_plan(Plan(()), sub / "p.json")
    assert len(seen) == 1
    assert Path(seen[0][0]).parent == sub
    assert Path(seen[0][1]) == sub / "p.json"


def test_save_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    save_plan(Plan(()), "plan.json")
    assert load_plan("plan.json") == Plan(())


def test_failed_save_into_a_missing_directory_names_the_target(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "plan.json"
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), target)
    assert str(info.value) == f"{target}: cannot write plan (No such file or directory)"


def test_save_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot write plan (is a directory)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(20)
def test_save_never_replaces_something_that_is_not_a_regular_file(tmp_path: Path) -> None:
    # os.replace would turn a FIFO or a device (as root: /dev/null itself) into a plain file.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for target in (fifo, link):
        with pytest.raises(PlanFileError) as info:
            save_plan(sample_plan(), target)
        assert str(info.value) == f"{target}: cannot write plan (not a regular file)"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link"]


# --- files that are not plans at all -----------------------------------------------------------


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    _load_fails(fifo, "not a regular file, so not a plan file")


def test_a_device_is_refused_without_reading_it() -> None:
    _load_fails(Path("/dev/zero"), "not a regular file, so not a plan file")


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    with path.open("wb") as f:
        f.truncate(MAX_PLAN_BYTES + 1)  # sparse: refused by its size, nothing is parsed
    _load_fails(path, f"too large for a plan file (more than {MAX_PLAN_BYTES} bytes)")


# --- a plan with errors is never saved nor loaded: it would apply only part of the work -------


def test_a_plan_with_errors_is_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    with pytest.raises(PlanFileError) as info:
        save_plan(Plan(sample_plan().changes, ERRORS), path)
    assert str(info.value).startswith(f"the plan has 2 errors, so it was not saved to {path}")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temporary left


# --- saving on a full or failing disk ---------------------------------------------------------


def _enospc(*_args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_leaves_no_temporary_file_and_no_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # ``write``: the disk fills while the plan is written. ``fsync``: NFS, quotas and delayed
    # allocation report ENOSPC only when the data is forced out; the plan was reported saved.
    target = tmp_path / "plan.json"
    monkeypatch.setattr(os, where, _enospc)
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), target)
    assert str(info.value) == f"{target}: cannot write plan (No space left on device)"
    assert list(tmp_path.iterdir()) == []  # neither the plan nor a temporary file
