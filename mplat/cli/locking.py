"""The lock file at the command line: where a config's lock lives, and its flags.

Where: ``--lock FILE`` if given; else the first ``-f`` decides. A directory ``D`` (every
``*.yaml`` in it is the config) has ``D/manifests.lock``; a file ``NAME.yaml`` or
``NAME.yml`` has ``NAME.lock`` beside it, so the default ``manifests.yaml`` has
``manifests.lock`` and ``prod.yaml`` and ``staging.yaml`` in one directory have a lock each.
Several files are one config with one lock, the first file's. A config read from a pipe or
device has no lock unless ``--lock`` names one.

When: ``plan`` and ``apply`` use the lock whenever it exists (``--no-lock`` follows the tags
instead); ``--update-lock`` first does what ``mplat lock --update-lock`` does, then plans with
the new pins. The format is ``plan/lock.py``, the file edge ``plan/lockfile.py``, the pinning
``engine/lock.py``; this module only connects them to the flags and prints what changed.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mplat.cli.errors import UsageError
from mplat.cli.variables import config_paths

if TYPE_CHECKING:
    from mplat.config.model import Config
    from mplat.engine.lock import LockUpdate
    from mplat.plan.lock import Lock
    from mplat.registry.api import Registries

DIRECTORY_LOCK = "manifests.lock"
_SUFFIXES = (".yaml", ".yml")


def lock_path(args: argparse.Namespace) -> Path | None:
    """The lock file of the config ``args`` names; None for a config read from a pipe."""
    explicit: str | None = getattr(args, "lock_file", None)
    if explicit:
        return Path(explicit)
    first = config_paths(args)[0]
    try:
        mode: int | None = os.stat(first).st_mode
    except (OSError, ValueError):
        mode = None  # missing: loading the config says so
    if mode is not None and stat.S_ISDIR(mode):
        return Path(first) / DIRECTORY_LOCK
    if mode is not None and not stat.S_ISREG(mode):
        return None
    p = Path(first)
    for suffix in _SUFFIXES:
        if p.name.endswith(suffix) and len(p.name) > len(suffix):
            return p.with_name(p.name[: -len(suffix)] + ".lock")
    return p.with_name(p.name + ".lock")


def check_flags(args: argparse.Namespace) -> None:
    """Usage errors among the lock flags, before anything is read or asked."""
    if getattr(args, "no_lock", False):
        for flag, given in (
            ("--update-lock", getattr(args, "update_lock", False)),
            ("--lock", getattr(args, "lock_file", None)),
        ):
            if given:
                raise UsageError(f"--no-lock and {flag} contradict each other")


def refuse_for_saved_plan(args: argparse.Namespace) -> None:
    """A saved plan's sources were resolved when it was made: no lock flag can change them."""
    for flag, given in (
        ("--update-lock", getattr(args, "update_lock", False)),
        ("--lock", getattr(args, "lock_file", None)),
        ("--no-lock", getattr(args, "no_lock", False)),
    ):
        if given:
            raise UsageError(
                f"{flag}: a saved plan's sources were resolved when it was made; "
                "the lock applies to plans being made"
            )


async def lock_for_plan(args: argparse.Namespace, config: Config, pool: Registries) -> Lock | None:
    """The lock ``plan``/``apply`` resolve sources with: None means follow the tags."""
    check_flags(args)
    if getattr(args, "no_lock", False):
        return None
    if getattr(args, "update_lock", False):
        return (await update_lock(args, config, pool, sys.stderr, update=True)).lock
    path = lock_path(args)
    if path is None:
        return None
    from mplat.plan.lockfile import read_lock

    lock = read_lock(path)
    if lock is None and getattr(args, "lock_file", None):
        from mplat.plan.lock import LockError

        raise LockError(f"{path}: no such lock file (`mplat lock --lock {path}` writes it)")
    return lock


async def update_lock(
    args: argparse.Namespace, config: Config, pool: Registries, out: TextIO, *, update: bool
) -> LockUpdate:
    """Pin the config's sources (all again with ``update``), write the lock, say what changed."""
    from mplat.engine.lock import lock_sources
    from mplat.plan.lock import LockError
    from mplat.plan.lockfile import check_destination, read_lock, write_lock

    path = lock_path(args)
    if path is None:
        raise UsageError("the config is not a file or directory; name the lock with --lock FILE")
    check_destination(path)
    try:
        old = read_lock(path)
    except LockError as exc:
        if not update:
            raise LockError(
                f"{exc}\n  (fix it, or replace it with `mplat lock --update-lock`)"
            ) from None
        print(f"note: replacing the unreadable lock file: {exc}", file=sys.stderr)
        old = None
    result = await lock_sources(config.lists, pool, old, update=update, name=str(path))
    written = write_lock(path, result.lock)
    for line in summary(result, str(path), written):
        print(line, file=out)
    return result


def summary(result: LockUpdate, name: str, written: bool) -> list[str]:
    """What ``mplat lock`` says: warnings, then one line, then one line per changed pin."""
    lines = [f"Warning: {w}" for w in result.warnings]
    n = len(result.lock.pins)
    pinned = f"{n} source{'' if n == 1 else 's'} pinned"
    if not written:
        return [*lines, f"{name} is up to date: {pinned}."]
    counts = {"added": 0, "updated": 0, "removed": 0}
    changes = []
    for c in result.changes:
        if c.old is None and c.new is not None:
            counts["added"] += 1
            changes.append(f"  + {c.source} {c.new.digest}")
        elif c.old is not None and c.new is not None:
            counts["updated"] += 1
            changes.append(f"  ~ {c.source} {c.old.digest} -> {c.new.digest}")
        elif c.old is not None:
            counts["removed"] += 1
            changes.append(f"  - {c.source} {c.old.digest}")
    detail = ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "no pin changed"
    return [*lines, f"Wrote {name}: {pinned} ({detail}).", *changes]
