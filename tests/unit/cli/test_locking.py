"""Where a config's lock lives, the lock flags, and what locking prints."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import pytest

from mplat.cli import locking
from mplat.cli.errors import UsageError
from mplat.cli.parser import build_parser
from mplat.config.model import Config
from mplat.engine.lock import LockChange, LockUpdate
from mplat.plan.lock import Lock, LockError, Pin, encode
from tests.support.builders import DA, DB


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


# --- where the lock lives ---------------------------------------------------------------------


def test_the_default_config_has_manifests_lock_beside_it() -> None:
    assert locking.lock_path(parsed("plan")) == Path("manifests.lock")


@pytest.mark.parametrize(
    ("name", "lock"),
    [
        ("conf/prod.yaml", "conf/prod.lock"),
        ("conf/staging.yml", "conf/staging.lock"),
        ("conf/manifests", "conf/manifests.lock"),
        ("conf/.yaml", "conf/.yaml.lock"),
    ],
)
def test_a_file_has_its_own_lock_named_after_it(name: str, lock: str) -> None:
    assert locking.lock_path(parsed("plan", "-f", name)) == Path(lock)


def test_several_files_share_the_first_files_lock() -> None:
    args = parsed("plan", "-f", "base.yaml", "-f", "extra.yaml")
    assert locking.lock_path(args) == Path("base.lock")


def test_a_directory_keeps_its_lock_inside(tmp_path: Path) -> None:
    assert locking.lock_path(parsed("lock", "-f", str(tmp_path))) == tmp_path / "manifests.lock"
    other = tmp_path / "x.yaml"
    args = parsed("lock", "-f", str(tmp_path), "-f", str(other))
    assert locking.lock_path(args) == tmp_path / "manifests.lock"


def test_lock_names_the_file_and_a_pipe_has_no_lock_otherwise(tmp_path: Path) -> None:
    assert locking.lock_path(parsed("plan", "--lock", "x/l.json")) == Path("x/l.json")
    fifo = tmp_path / "config"
    os.mkfifo(fifo)
    assert locking.lock_path(parsed("plan", "-f", str(fifo))) is None


# --- the flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [("--update-lock",), ("--lock", "l.lock")])
def test_no_lock_contradicts_the_other_lock_flags(flag: tuple[str, ...]) -> None:
    with pytest.raises(UsageError, match=f"^--no-lock and {flag[0]} contradict each other$"):
        locking.check_flags(parsed("plan", "--no-lock", *flag))


@pytest.mark.parametrize("flag", [("--update-lock",), ("--lock", "l.lock"), ("--no-lock",)])
def test_a_saved_plan_takes_no_lock_flag(flag: tuple[str, ...]) -> None:
    args = parsed("apply", "p.plan", *flag)
    with pytest.raises(UsageError, match=f"^{flag[0]}: a saved plan's sources were resolved"):
        locking.refuse_for_saved_plan(args)
    locking.refuse_for_saved_plan(parsed("apply", "p.plan"))  # no flag: nothing to refuse


# --- the lock plan and apply use ---------------------------------------------------------------

CONFIG = Config(path="m.yaml", lists=())


class Unused:
    """A pool that fails the test if reading a lock asks a registry anything."""

    @property
    def notices(self) -> object:
        raise AssertionError("the pool was used")

    def client(self, registry: str) -> object:
        raise AssertionError(f"the pool was asked for {registry}")


def for_plan(*argv: str) -> Lock | None:
    return asyncio.run(locking.lock_for_plan(parsed("plan", *argv), CONFIG, Unused()))  # type: ignore[arg-type]


def test_no_lock_file_means_follow_the_tags(tmp_path: Path) -> None:
    assert for_plan("-f", str(tmp_path / "m.yaml")) is None


def test_an_existing_lock_is_read_without_a_request(tmp_path: Path) -> None:
    lock = Lock({"r.example/a/b:1": Pin(DA, "application/vnd.oci.image.manifest.v1+json", 9)})
    (tmp_path / "m.lock").write_text(encode(lock))
    got = for_plan("-f", str(tmp_path / "m.yaml"))
    assert got == Lock(lock.pins, str(tmp_path / "m.lock"))
    assert for_plan("-f", str(tmp_path / "m.yaml"), "--no-lock") is None


def test_a_lock_named_by_lock_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "l.lock"
    with pytest.raises(LockError, match=rf"^{missing}: no such lock file \(`mplat lock --lock"):
        for_plan("--lock", str(missing))


def test_a_broken_lock_stops_the_plan(tmp_path: Path) -> None:
    (tmp_path / "m.lock").write_text("<<<<<<< HEAD\n")
    with pytest.raises(LockError, match=r"m.lock:1:1: not valid JSON"):
        for_plan("-f", str(tmp_path / "m.yaml"))


# --- what is printed ---------------------------------------------------------------------------

IMAGE = "application/vnd.oci.image.manifest.v1+json"


def test_the_summary_counts_and_lists_each_changed_pin() -> None:
    new, old = Pin(DB, IMAGE, 1), Pin(DA, IMAGE, 1)
    result = LockUpdate(
        Lock({"r/a:1": new, "r/a:2": new}),
        (
            LockChange("r/a:1", None, new),
            LockChange("r/a:2", old, new),
            LockChange("r/a:3", old, None),
        ),
        ("a warning",),
    )
    assert locking.summary(result, "m.lock", written=True) == [
        "Warning: a warning",
        "Wrote m.lock: 2 sources pinned (1 added, 1 updated, 1 removed).",
        f"  + r/a:1 {DB}",
        f"  ~ r/a:2 {DA} -> {DB}",
        f"  - r/a:3 {DA}",
    ]


def test_an_unchanged_lock_says_it_is_up_to_date() -> None:
    result = LockUpdate(Lock({"r/a:1": Pin(DA, IMAGE, 1)}))
    assert locking.summary(result, "m.lock", written=False) == [
        "m.lock is up to date: 1 source pinned."
    ]
    assert locking.summary(LockUpdate(Lock()), "m.lock", written=True) == [
        "Wrote m.lock: 0 sources pinned (no pin changed)."
    ]
