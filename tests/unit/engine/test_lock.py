"""Pinning sources (mplat.engine.lock): keep, add, drop, update, and refuse holes."""

from __future__ import annotations

import asyncio

import pytest

from mplat.config.model import ListSpec
from mplat.engine.lock import (
    LockChange,
    LockingError,
    LockUpdate,
    declared_sources,
    lock_notices,
    lock_sources,
    unused_pins,
)
from mplat.plan.lock import Lock, Pin
from mplat.values.manifest import Descriptor
from tests.support.engine import HOST, NAME, OTHER, REPO, entry, listspec
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image, push_index

AMD64, ARM64 = f"{NAME}:amd64", f"{NAME}:arm64"


def pin(d: Descriptor) -> Pin:
    return Pin(d.digest, d.media_type, d.size)


def both(reg: MemoryRegistry, salt: str = "") -> tuple[Descriptor, Descriptor]:
    return (
        push_image(reg, REPO, "amd64", "linux/amd64", salt=salt),
        push_image(reg, REPO, "arm64", "linux/arm64", salt=salt),
    )


LISTS = (listspec(NAME, ["v1"], AMD64, ARM64),)


def locked(
    registries: MemoryRegistries, old: Lock | None = None, update: bool = False, *lists: ListSpec
) -> LockUpdate:
    """``lock_sources`` of ``lists`` (default: one list of both tags), named m.lock."""
    return asyncio.run(lock_sources(lists or LISTS, registries, old, update=update, name="m.lock"))


# --- which sources a lock pins ----------------------------------------------------------------


def test_declared_sources_are_tags_of_present_lists_sorted_once_each(reg: MemoryRegistry) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    lists = [
        listspec(f"{HOST}/acme/b", ["v1"], ARM64, f"{NAME}@{amd.digest}", entry(AMD64, line=9)),
        listspec(f"{HOST}/acme/a", ["v1"], AMD64),
        listspec(f"{HOST}/acme/c", ["v1"], f"{NAME}:gone", state="absent"),
    ]
    declared = declared_sources(lists)
    assert list(declared) == [AMD64, ARM64]  # no digest-pinned source, no absent list
    assert declared[AMD64].location.line == 9  # where it was first written


def test_a_source_is_optional_only_if_every_entry_naming_it_is() -> None:
    late = entry(f"{NAME}:riscv64", optional=True)
    assert declared_sources([listspec(NAME, ["a"], late)])[f"{NAME}:riscv64"].optional
    both_ways = [listspec(NAME, ["a"], late), listspec(NAME, ["b"], f"{NAME}:riscv64")]
    assert not declared_sources(both_ways)[f"{NAME}:riscv64"].optional


def test_unused_pins_and_notices() -> None:
    lock = Lock({AMD64: Pin("sha256:" + "a" * 64, "x", 1), f"{NAME}:old": Pin("d", "x", 1)}, "m")
    assert unused_pins(LISTS, lock) == [f"{NAME}:old"]
    assert lock_notices(LISTS, lock) == [
        "sources pinned by m (2 pins)",
        f"m: 1 pin that no entry uses: {NAME}:old (`mplat lock` drops them)",
    ]
    many = Lock({f"{NAME}:t{i}": Pin("d", "x", 1) for i in range(7)}, "m")
    assert lock_notices([], many)[1] == (
        f"m: 7 pins that no entry uses: {NAME}:t0, {NAME}:t1, {NAME}:t2, {NAME}:t3, {NAME}:t4"
        " and 2 more (`mplat lock` drops them)"
    )
    assert lock_notices(LISTS, Lock({AMD64: Pin("d", "x", 1)}, "m")) == [
        "sources pinned by m (1 pin)"
    ]


# --- locking ----------------------------------------------------------------------------------


def test_a_first_lock_pins_what_each_tag_holds(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = both(reg)
    index, _ = push_index(reg, REPO, "multi")
    result = locked(registries, None, False, listspec(NAME, ["v1"], AMD64, ARM64, f"{NAME}:multi"))
    assert result.lock == Lock(
        {AMD64: pin(amd), ARM64: pin(arm), f"{NAME}:multi": pin(index)}, "m.lock"
    )
    assert [(c.source, c.old) for c in result.changes] == [
        (AMD64, None),
        (ARM64, None),
        (f"{NAME}:multi", None),
    ]
    assert result.warnings == ()


def test_kept_pins_stay_and_a_moved_tag_is_reported(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = both(reg)
    first = locked(registries).lock
    moved_amd, moved_arm = both(reg, salt="rebuilt")
    calls = len(reg.calls)
    again = locked(registries, first)
    assert again.lock.pins == first.pins and again.changes == ()
    assert again.warnings == (
        f"source {AMD64} moved since locking: locked {amd.digest}, now {moved_amd.digest}; kept "
        "(`mplat lock --update-lock` follows the tag)",
        f"source {ARM64} moved since locking: locked {arm.digest}, now {moved_arm.digest}; kept "
        "(`mplat lock --update-lock` follows the tag)",
    )
    assert [c[0] for c in reg.calls[calls:]] == ["head_manifest", "head_manifest"]  # no GET


def test_update_re_pins_every_source(registries: MemoryRegistries, reg: MemoryRegistry) -> None:
    amd, arm = both(reg)
    first = locked(registries).lock
    new_amd, new_arm = both(reg, salt="rebuilt")
    result = locked(registries, first, True)
    assert result.lock.pins == {AMD64: pin(new_amd), ARM64: pin(new_arm)}
    assert result.changes == (
        LockChange(AMD64, pin(amd), pin(new_amd)),
        LockChange(ARM64, pin(arm), pin(new_arm)),
    )
    assert result.warnings == ()


def test_new_sources_are_added_and_unused_pins_dropped(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = both(reg)
    first = locked(registries, None, False, listspec(NAME, ["v1"], AMD64)).lock
    result = locked(registries, first, False, listspec(NAME, ["v1"], ARM64))
    assert result.lock.pins == {ARM64: pin(arm)}
    assert result.changes == (LockChange(AMD64, pin(amd), None), LockChange(ARM64, None, pin(arm)))


def test_an_optional_source_that_does_not_exist_is_left_unpinned(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    both(reg)
    spec = listspec(NAME, ["v1"], AMD64, entry(f"{NAME}:riscv64", optional=True, line=9))
    result = locked(registries, None, False, spec)
    assert list(result.lock.pins) == [AMD64]
    assert result.warnings == (
        f"mplat.yaml:9:9: optional source {NAME}:riscv64 does not exist, so it is not pinned "
        "(plans skip it until `mplat lock` pins it)",
    )


def test_every_source_that_cannot_be_pinned_is_named_and_nothing_is_returned(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    both(reg)
    registries.client(OTHER).fail("head_manifest")
    spec = listspec(
        NAME, ["v1"], AMD64, entry(f"{NAME}:gone", line=8), entry(f"{OTHER}/x/y:1", line=9)
    )
    with pytest.raises(LockingError) as caught:
        locked(registries, None, False, spec)
    lines = str(caught.value).splitlines()
    assert lines[:2] == [
        "m.lock was not written: 2 sources could not be pinned",
        f"  mplat.yaml:8:9: source image {NAME}:gone not found",
    ]
    assert lines[2].startswith(
        f"  mplat.yaml:9:9: source {OTHER}/x/y:1: {OTHER}/x/y: head_manifest"
    )


def test_a_kept_pin_whose_tag_is_gone_is_kept_with_a_warning(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, _ = both(reg)
    first = locked(registries).lock
    del reg.repo(REPO).tags["amd64"]
    result = locked(registries, first)
    assert result.lock.pins == first.pins
    assert result.warnings == (
        f"source {AMD64} no longer exists; kept {amd.digest} "
        "(`mplat lock --update-lock` follows the tag)",
    )
