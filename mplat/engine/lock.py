"""Pinning sources: the manifest each source tag of a config holds, as a new lock value.

``mplat lock`` works like ``terraform init`` with its lock file: pins already in the lock are
kept (their tags are HEADed only to report the ones that moved), sources new to the config
are resolved and pinned, and pins no entry uses any more are dropped. With ``update`` every
source is resolved again and its pin follows the tag. The old lock comes in as a value and
the new one goes out as one: reading and writing the file is the CLI's (``cli/locking.py``).

Digest-pinned sources (``image@sha256:...``) need no pin, and lists with ``state: absent``
have no sources. An optional entry whose source does not exist is left unpinned with a
warning; any other source that cannot be resolved fails the whole lock, so a lock is never
written with a hole in it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from mplat.config.model import ListSpec, Location
from mplat.engine.concurrency import run_bounded
from mplat.engine.sources import SourceError, SourceResolver, is_missing
from mplat.plan.lock import DEFAULT_NAME, Lock, Pin, key
from mplat.registry.api import Registries
from mplat.registry.errors import RegistryError
from mplat.values.errors import MplatError
from mplat.values.reference import Reference

SOURCES_IN_FLIGHT = 64
"""Sources resolved at once; requests are bounded per registry anyway, this bounds memory."""
NAMED = 5
"""Unused pins named in a plan's notice; the rest are counted."""


class LockingError(MplatError):
    """Sources that could not be pinned: a heading, then one indented line per source."""


@dataclass(frozen=True, slots=True)
class Declared:
    """A source tag the config names: its reference, where first, and whether only optional."""

    reference: Reference
    location: Location
    optional: bool


@dataclass(frozen=True, slots=True)
class LockChange:
    """One pin that differs between the old lock and the new: added, updated or removed."""

    source: str
    old: Pin | None
    new: Pin | None


@dataclass(frozen=True, slots=True)
class LockUpdate:
    lock: Lock
    changes: tuple[LockChange, ...] = ()  # sorted by source
    warnings: tuple[str, ...] = ()  # tags that moved (kept), optional sources left unpinned


def declared_sources(lists: Collection[ListSpec]) -> dict[str, Declared]:
    """The source tags a lock pins, by lock key, sorted; digest-pinned sources are not."""
    found: dict[str, Declared] = {}
    for spec in lists:
        if spec.state == "absent":
            continue
        for entry in spec.manifests:
            if entry.image.digest is not None:
                continue
            k = key(entry.image)
            seen = found.get(k)
            if seen is None:
                found[k] = Declared(entry.image, entry.location, entry.optional)
            elif seen.optional and not entry.optional:
                found[k] = Declared(seen.reference, seen.location, False)
    return dict(sorted(found.items()))


def unused_pins(lists: Collection[ListSpec], lock: Lock) -> list[str]:
    """Pins of ``lock`` that no source of the config needs (``mplat lock`` drops them)."""
    declared = declared_sources(lists)
    return sorted(k for k in lock.pins if k not in declared)


def lock_notices(lists: Collection[ListSpec], lock: Lock) -> list[str]:
    """What a plan made under ``lock`` says about it, besides each source's own warnings."""
    notes = [f"sources pinned by {lock.name} ({_count(len(lock.pins), 'pin')})"]
    unused = unused_pins(lists, lock)
    if unused:
        named = ", ".join(unused[:NAMED])
        more = f" and {len(unused) - NAMED} more" if len(unused) > NAMED else ""
        notes.append(
            f"{lock.name}: {_count(len(unused), 'pin')} that no entry uses: {named}{more} "
            "(`mplat lock` drops them)"
        )
    return notes


async def lock_sources(
    lists: Collection[ListSpec],
    registries: Registries,
    old: Lock | None = None,
    *,
    update: bool = False,
    name: str = DEFAULT_NAME,
) -> LockUpdate:
    """The lock for ``lists``: ``old``'s pins kept (all re-resolved with ``update``), new
    sources pinned to what their tags hold now, unused pins dropped.

    Raises LockingError naming every source that could not be pinned.
    """
    declared = declared_sources(lists)
    previous: Mapping[str, Pin] = old.pins if old is not None else {}
    resolver = SourceResolver(registries)  # no lock: follows the tags
    jobs = [
        functools.partial(_pin_one, k, d, None if update else previous.get(k), registries, resolver)
        for k, d in declared.items()
    ]
    results = await run_bounded(jobs, SOURCES_IN_FLIGHT)
    problems = [  # in the config's order, as config errors are
        problem
        for d, (_, _, problem) in sorted(
            zip(declared.values(), results, strict=True),
            key=lambda pair: (pair[0].location.file, pair[0].location.line),
        )
        if problem
    ]
    if problems:
        raise LockingError(
            f"{name} was not written: {_count(len(problems), 'source')} could not be pinned\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    pins = {k: pin for k, (pin, _, _) in zip(declared, results, strict=True) if pin is not None}
    changes = tuple(
        LockChange(k, previous.get(k), pins.get(k))
        for k in sorted(set(previous) | set(pins))
        if previous.get(k) != pins.get(k)
    )
    warnings = tuple(w for _, w, _ in results if w)
    return LockUpdate(Lock(pins, name), changes, warnings)


async def _pin_one(
    k: str,
    declared: Declared,
    kept: Pin | None,
    registries: Registries,
    resolver: SourceResolver,
) -> tuple[Pin | None, str | None, str | None]:
    """(the pin, a warning, a problem) for one source."""
    ref = declared.reference
    follow = "`mplat lock --update-lock` follows the tag"
    try:
        if kept is not None:
            info = await registries.client(ref.registry).head_manifest(ref.repository, ref.ref)
            if info is None:
                return kept, f"source {k} no longer exists; kept {kept.digest} ({follow})", None
            if info.digest != kept.digest:
                return (
                    kept,
                    f"source {k} moved since locking: locked {kept.digest}, now "
                    f"{info.digest}; kept ({follow})",
                    None,
                )
            return kept, None, None
        fetched = (await resolver.manifest(ref)).fetched
        return Pin(fetched.digest, fetched.media_type, fetched.size), None, None
    except SourceError as exc:
        if declared.optional and exc.missing:
            return None, _unpinned(declared, k), None
        return None, None, f"{declared.location}: {exc}"
    except RegistryError as exc:
        if declared.optional and is_missing(exc):
            return None, _unpinned(declared, k), None
        return None, None, f"{declared.location}: source {k}: {exc}"


def _unpinned(declared: Declared, k: str) -> str:
    return (
        f"{declared.location}: optional source {k} does not exist, so it is not pinned "
        "(plans skip it until `mplat lock` pins it)"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
