"""The planner's decisions, made by the real planner against the in-memory registry."""

from __future__ import annotations

import asyncio
import json

import pytest

from mplat.config.model import ListSpec
from mplat.engine.planner import Target, build_plan, unmatched_targets
from mplat.plan.events import Event, ListPlanned, PlanStarted
from mplat.plan.lock import Lock, Pin
from mplat.plan.model import OWNER_ANNOTATION, ImageView, ListView, Plan
from mplat.plan.wording import diff_text
from mplat.registry.api import ManifestInfo
from mplat.values import mediatypes as mt
from mplat.values.manifest import Descriptor, render_index
from mplat.values.reference import parse_reference, parse_repository
from tests.support.engine import (
    HOST,
    NAME,
    OTHER,
    REPO,
    actions,
    apply,
    by_address,
    entry,
    listspec,
    plan,
    target,
)
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image, push_index


def two_images(reg: MemoryRegistry, repo: str = REPO) -> tuple[Descriptor, Descriptor]:
    return (
        push_image(reg, repo, "amd64", "linux/amd64"),
        push_image(reg, repo, "arm64", "linux/arm64"),
    )


def present(tags: list[str], repo: str = REPO, prune: bool = False) -> ListSpec:
    """A list of both images of ``repo`` (pushed by :func:`two_images`) on ``tags``."""
    name = f"{HOST}/{repo}"
    return listspec(name, tags, f"{name}:amd64", f"{name}:arm64", prune=prune)


# --- create / no-op / update ---------------------------------------------------------------


def test_absent_tags_are_created_with_the_rendered_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    p = plan(registries, present(["v1", "v2"]))
    assert actions(p) == {f"{NAME}:v1": "create", f"{NAME}:v2": "create"}
    assert not p.errors
    c = by_address(p)[f"{NAME}:v1"]
    assert c.live_digest is None and c.before is None and c.desired is not None
    doc = json.loads(c.desired.body)
    assert [m["digest"] for m in doc["manifests"]] == [amd.digest, arm.digest]
    assert [m["platform"]["architecture"] for m in doc["manifests"]] == ["amd64", "arm64"]
    assert doc["annotations"][OWNER_ANNOTATION] == "mplat"
    assert c.desired.children == ()  # same repository, children seen live by tag
    assert c.desired.sources == {f"{NAME}:amd64": amd.digest, f"{NAME}:arm64": arm.digest}
    # Both tags carry one list: one body, one digest.
    assert by_address(p)[f"{NAME}:v2"].desired == c.desired
    assert reg.writes() == []  # planning never writes


def test_tag_already_holding_the_list_is_a_no_op(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    desired = by_address(plan(registries, present(["v1"])))[f"{NAME}:v1"].desired
    assert desired is not None
    asyncio.run(reg.put_manifest(REPO, "v1", desired.body, desired.media_type))
    reg.calls.clear()
    p = plan(registries, present(["v1"]))
    assert actions(p) == {f"{NAME}:v1": "no-op"}
    # Digests equal: decided from HEADs alone, no body of the live list was read.
    assert ("get_manifest", REPO, desired.digest) not in reg.calls


def test_equivalent_list_written_by_another_tool_is_in_sync(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    # Same entries, different bytes (compact JSON, no mplat marker): same meaning.
    spec = listspec(NAME, ["v1"], f"{NAME}:amd64", f"{NAME}:arm64", format="docker")
    body = render_index(mt.DOCKER_LIST, [amd, arm])
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    asyncio.run(reg.put_manifest(REPO, "v1", compact, mt.DOCKER_LIST))
    assert actions(plan(registries, spec)) == {f"{NAME}:v1": "no-op"}


def test_different_list_is_an_update_with_a_diff(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, _ = two_images(reg)
    old = render_index(mt.OCI_INDEX, [amd])
    asyncio.run(reg.put_manifest(REPO, "v1", old, mt.OCI_INDEX))
    c = by_address(plan(registries, present(["v1"])))[f"{NAME}:v1"]
    assert c.action == "update"
    assert isinstance(c.before, ListView) and c.live_digest == c.before.digest
    assert any("linux/arm64" in diff_text(item) for item in c.diff)


def test_single_image_on_the_tag_is_replaced_by_a_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    img = push_image(reg, REPO, "v1", "linux/s390x")
    c = by_address(plan(registries, present(["v1"])))[f"{NAME}:v1"]
    assert c.action == "update"
    assert c.before == ImageView(mt.DOCKER_MANIFEST, img.digest)
    assert [diff_text(i) for i in c.diff] == [
        f"replace single image ({mt.DOCKER_MANIFEST}) with a list"
    ]


def test_state_absent_deletes_what_is_there_and_skips_what_is_not(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    img = push_image(reg, REPO, "old", "linux/amd64")
    p = plan(registries, listspec(NAME, ["old", "never"], state="absent", prevent_destroy=True))
    old, never = by_address(p)[f"{NAME}:old"], by_address(p)[f"{NAME}:never"]
    assert (old.action, old.live_digest, old.before) == (
        "delete",
        img.digest,
        ImageView(mt.DOCKER_MANIFEST, img.digest),
    )
    assert never.action == "no-op" and never.live_digest is None
    assert p.blocked() == (old,)  # prevent_destroy travels with the change


# --- prune ----------------------------------------------------------------------------------


def test_prune_deletes_only_lists_mplat_wrote_to_that_tag(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    apply(registries, plan(registries, present(["v1", "v2", "v3"])))
    push_index(reg, REPO, "foreign", ("linux/amd64",))  # someone else's list
    # A copy of mplat's list to another tag keeps the marker, which does not name this tag.
    v2 = reg.tag_digest(REPO, "v2")
    assert v2 is not None
    reg.repo(REPO).tags["copied"] = v2
    reg.repo(REPO).tags["sha256-" + "a" * 64 + ".sig"] = v2  # a cosign tag: never a candidate
    p = plan(registries, present(["v1"], prune=True))
    deletes = sorted(c.tag for c in p.changes if c.action == "delete")
    assert deletes == ["v2", "v3"]
    assert actions(p)[f"{NAME}:v1"] == "no-op"
    v3 = by_address(p)[f"{NAME}:v3"]
    assert [diff_text(i) for i in v3.diff] == ["no longer declared; written by mplat (prune: true)"]


def test_prune_names_lists_of_an_older_mplat_without_deleting_them(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    old = render_index(mt.OCI_INDEX, [amd, arm], {OWNER_ANNOTATION: "mplat"})
    asyncio.run(reg.put_manifest(REPO, "legacy", old, mt.OCI_INDEX))
    p = plan(registries, present(["v1"], prune=True))
    assert f"{NAME}:legacy" not in actions(p)
    assert any("not pruned: legacy" in n for n in p.notices)


# --- --target ------------------------------------------------------------------------------


def test_targets_select_tags_and_unmatched_ones_are_named(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    spec = present(["x", "y"])
    p = plan(registries, spec, targets={target(f"{NAME}:y")})
    assert actions(p) == {f"{NAME}:y": "create"}
    assert plan(registries, spec, targets={target(f"{NAME}:z")}).changes == ()
    problems = unmatched_targets([spec], {target(f"{NAME}:y"), target(f"{NAME}:w")})
    assert problems == [
        f"no declared tag matches --target {NAME}:w; did you mean: {NAME}:y, {NAME}:x"
    ]
    # In a pruned repository any tag may be a prune candidate: only planning can tell.
    assert unmatched_targets([present(["x"], prune=True)], {target(f"{NAME}:zz")}) == []


def test_target_is_the_repository_without_tag_and_the_tag() -> None:
    t = Target.of(parse_reference(f"{NAME}:v1"))
    assert t == Target(parse_repository(NAME), "v1") and t.address == f"{NAME}:v1"
    assert t.repository.tag is None
    with pytest.raises(ValueError, match="needs a tag"):
        Target.of(parse_repository(NAME))


def test_unmatched_targets_are_named_in_repository_then_tag_order() -> None:
    """Sorted as (repository, tag), not as the address text: "a/b" comes before "a/b-c"."""
    specs = [present(["x"])]
    named = [target(f"{NAME}-c:x"), target(f"{NAME}:w")]
    problems = unmatched_targets(specs, set(named))
    assert [p.split(" ")[5].rstrip(";") for p in problems] == [f"{NAME}:w", f"{NAME}-c:x"]


def test_target_on_a_pruned_repository_limits_the_candidates(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    apply(registries, plan(registries, present(["v1", "v2", "v3"])))
    p = plan(registries, present(["v1"], prune=True), targets={target(f"{NAME}:v3")})
    assert actions(p) == {f"{NAME}:v3": "delete"}


# --- children the target lacks ---------------------------------------------------------------


def test_sources_in_another_repository_of_the_registry_are_mounted(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg, "acme/staging")
    staging = f"{HOST}/acme/staging"
    spec = listspec(NAME, ["v1"], f"{staging}:amd64", f"{staging}:arm64")
    desired = by_address(plan(registries, spec))[f"{NAME}:v1"].desired
    assert desired is not None
    assert [c.digest for c in desired.children] == [amd.digest, arm.digest]
    assert {c.source.name for c in desired.children} == {staging}
    blobs = [b for c in desired.children for b in c.blobs]
    assert len(blobs) == 4 and {b.how for b in blobs} == {"mount"}  # config + layer each


def test_sources_on_another_registry_are_copied_without_blobs_already_there(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    other = registries.client(OTHER)
    _, arm = two_images(other, "staging/app")
    push_image(reg, REPO, "present-already", "linux/amd64")  # same content: its blobs are here
    src = f"{OTHER}/staging/app"
    spec = listspec(NAME, ["v1"], f"{src}:amd64", f"{src}:arm64")
    desired = by_address(plan(registries, spec))[f"{NAME}:v1"].desired
    assert desired is not None
    # amd64's manifest is in the target already (same bytes, same digest): nothing to copy.
    assert [c.digest for c in desired.children] == [arm.digest]
    copy = desired.children[0]
    assert copy.source.name == src and copy.media_type == mt.DOCKER_MANIFEST
    assert len(copy.blobs) == 2 and {b.how for b in copy.blobs} == {"copy"}
    assert copy.bytes_to_copy == sum(b.size for b in copy.blobs)


def test_child_deleted_from_the_target_is_planned_as_repair(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, _ = two_images(reg, "acme/staging")
    staging = f"{HOST}/acme/staging"
    spec = listspec(NAME, ["v1"], f"{staging}:amd64", f"{staging}:arm64")
    apply(registries, plan(registries, spec))
    del reg.repo(REPO).manifests[amd.digest]  # a cleanup job removed an "untagged" child
    c = by_address(plan(registries, spec))[f"{NAME}:v1"]
    assert c.action == "repair"
    assert [x.digest for x in c.children] == [amd.digest]
    assert [diff_text(i) for i in c.diff] == [f"child {amd.digest} missing from the repository"]


def test_child_missing_with_no_other_source_is_an_error(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    _, children = push_index(reg, REPO, "multi", ("linux/amd64", "linux/arm64"))
    del reg.repo(REPO).manifests[children[1].digest]
    p = plan(registries, listspec(NAME, ["v1"], f"{NAME}:multi"))
    assert p.changes == ()
    (error,) = p.errors
    assert f"child {children[1].digest} is missing from {NAME}" in error.message


# --- single image or index as a source -----------------------------------------------------


def test_index_source_is_flattened_in_order(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    _, children = push_index(reg, "acme/base", "multi", ("linux/amd64", "linux/arm64/v8"))
    spec = listspec(NAME, ["v1"], f"{HOST}/acme/base:multi")
    desired = by_address(plan(registries, spec))[f"{NAME}:v1"].desired
    assert desired is not None
    assert [e.digest for e in desired.entries] == [c.digest for c in children]
    # Children of an index are not seen by tag: each one is checked, and copied if missing.
    assert [c.digest for c in desired.children] == [c.digest for c in children]


def test_index_source_with_selected_platforms(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    _, (amd, arm, _) = push_index(
        reg, REPO, "multi", ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    )
    e = entry(f"{NAME}:multi", platforms=("linux/arm64", "linux/amd64"))
    desired = by_address(plan(registries, listspec(NAME, ["v1"], e)))[f"{NAME}:v1"].desired
    assert desired is not None
    assert [x.digest for x in desired.entries] == [arm.digest, amd.digest]
    assert desired.children == ()  # already in the repository

    missing = entry(f"{NAME}:multi", platforms=("linux/s390x",))
    (error,) = plan(registries, listspec(NAME, ["v1"], missing)).errors
    assert "has no linux/s390x entry" in error.message
    assert "linux/amd64" in error.message and "linux/arm/v7" in error.message


def test_single_image_source_gets_its_platform_from_its_config(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    push_image(reg, REPO, "arm", "linux/arm/v7")
    desired = by_address(plan(registries, listspec(NAME, ["v1"], f"{NAME}:arm")))[
        f"{NAME}:v1"
    ].desired
    assert desired is not None
    (only,) = desired.entries
    assert only.platform == {"architecture": "arm", "os": "linux", "variant": "v7"}

    wrong = entry(f"{NAME}:arm", platform="linux/amd64")
    (error,) = plan(registries, listspec(NAME, ["v1"], wrong)).errors
    assert "contradicts the image config" in error.message
    assert error.message.startswith("mplat.yaml:7:9: ")  # the entry's own position


def test_docker_format_refuses_oci_children(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    push_image(reg, REPO, "oci", "linux/amd64", oci=True)
    (error,) = plan(registries, listspec(NAME, ["v1"], f"{NAME}:oci", format="docker")).errors
    assert "format docker needs Docker image manifests" in error.message


# --- optional entries, required platforms -----------------------------------------------------


def test_an_optional_entry_whose_source_is_missing_is_skipped_with_a_warning(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, _ = two_images(reg)
    late = entry(f"{NAME}:riscv64", optional=True, line=9)
    p = plan(registries, listspec(NAME, ["v1"], f"{NAME}:amd64", late))
    assert not p.errors
    change = by_address(p)[f"{NAME}:v1"]
    assert change.desired is not None
    assert [e.digest for e in change.desired.entries] == [amd.digest]
    assert change.warnings == (
        f"mplat.yaml:9:9: optional entry skipped: source image {NAME}:riscv64 not found",
    )
    # Once the image exists, the next plan takes it in.
    push_image(reg, REPO, "riscv64", "linux/riscv64")
    again = by_address(plan(registries, listspec(NAME, ["v1"], f"{NAME}:amd64", late)))
    assert again[f"{NAME}:v1"].desired is not None
    assert len(again[f"{NAME}:v1"].desired.entries) == 2
    assert again[f"{NAME}:v1"].warnings == ()


def test_optional_forgives_only_a_missing_source(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    other = registries.client(OTHER)
    push_image(other, "staging/app", "s390x", "linux/s390x")
    other.fail("head_manifest")  # a 500: the registry failed, the source may well exist
    flaky = entry(f"{OTHER}/staging/app:s390x", optional=True)
    (error,) = plan(registries, listspec(NAME, ["v1"], f"{NAME}:amd64", flaky)).errors
    assert "500" in error.message
    # A required (not optional) missing entry is still an error.
    (error,) = plan(registries, listspec(NAME, ["v1"], f"{NAME}:amd64", f"{NAME}:gone")).errors
    assert f"source image {NAME}:gone not found" in error.message


def test_every_entry_skipped_is_an_error(registries: MemoryRegistries) -> None:
    gone = [entry(f"{NAME}:{t}", optional=True) for t in ("a", "b")]
    (error,) = plan(registries, listspec(NAME, ["v1"], *gone)).errors
    assert error.message == (
        f"mplat.yaml:3:5: every entry of the list was skipped ({NAME}:a is missing; "
        f"{NAME}:b is missing); a list needs at least one entry"
    )


def test_require_platforms_refuses_a_list_that_would_lack_one(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    late = entry(f"{NAME}:armv7", optional=True)
    spec = listspec(
        NAME,
        ["v1"],
        f"{NAME}:amd64",
        f"{NAME}:arm64",
        late,
        require_platforms=("linux/amd64", "linux/arm64/v8", "linux/arm/v7"),
    )
    (error,) = plan(registries, spec).errors
    assert error.message == (
        "mplat.yaml:5:24: require_platforms: the list would lack linux/arm/v7 (it has "
        f"linux/amd64, linux/arm64); skipped: {NAME}:armv7 is missing"
    )
    push_image(reg, REPO, "armv7", "linux/arm/v7")
    p = plan(registries, spec)  # arm64/v8 is arm64 (containerd's normalisation)
    assert not p.errors
    assert actions(p) == {f"{NAME}:v1": "create"}


# --- errors ---------------------------------------------------------------------------------


def test_missing_source_fails_only_its_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    broken = listspec(f"{HOST}/acme/other", ["v1"], f"{NAME}:nope")
    p = plan(registries, broken, present(["v1"]))
    assert actions(p) == {f"{NAME}:v1": "create"}
    (error,) = p.errors
    assert error.repository is not None and error.repository.name == f"{HOST}/acme/other"
    assert error.tags == ("v1",)
    assert error.message == f"mplat.yaml:7:9: source image {NAME}:nope not found"
    assert error.location == "mplat.yaml:7:9"


def test_lists_failed_by_one_registry_error_share_its_cause(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    push_image(reg, "acme/fine", "amd64", "linux/amd64", salt="fine")
    reg.fail("head_manifest", "arm64")
    fine = listspec(f"{HOST}/acme/fine", ["v1"], f"{HOST}/acme/fine:amd64")
    other = listspec(f"{HOST}/acme/other", ["b"], f"{NAME}:amd64", entry(f"{NAME}:arm64", line=9))
    p = plan(registries, present(["a"]), other, fine)
    assert actions(p) == {f"{HOST}/acme/fine:v1": "create"}  # the rest is still planned
    assert [(e.repository and e.repository.name, e.tags) for e in p.errors] == [
        (NAME, ("a",)),
        (f"{HOST}/acme/other", ("b",)),
    ]
    # The source is read once for both lists, so both name the very same failure as cause.
    cause = f"{NAME}: head_manifest arm64 failed (injected) (HTTP 500)\n  UNKNOWN: injected failure"
    assert [e.cause for e in p.errors] == [cause, cause]
    assert p.errors[1].message == f"mplat.yaml:9:9: source {NAME}:arm64: {cause}"
    assert reg.calls.count(("head_manifest", REPO, "arm64")) == 1


def test_registry_error_while_pruning_is_a_plan_error(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    reg.fail("list_tags")
    p = plan(registries, present(["v1"], prune=True))
    assert actions(p) == {f"{NAME}:v1": "create"}
    (error,) = p.errors
    assert (
        error.cause.startswith("prune: ")
        and error.repository == parse_repository(NAME)
        and error.tags == ()
    )


def test_plan_carries_what_planning_cost(registries: MemoryRegistries, reg: MemoryRegistry) -> None:
    two_images(reg)
    p = plan(registries, present(["v1"]))
    assert p.requests["HEAD"] >= 3  # the tag and both sources


# --- the lock: sources resolve to their pins --------------------------------------------------


def lock_of(*images: tuple[str, Descriptor]) -> Lock:
    """The lock pinning each ``(tag of REPO, descriptor)`` as ``mplat lock`` would."""
    return Lock(
        {f"{NAME}:{tag}": Pin(d.digest, d.media_type, d.size) for tag, d in images}, "m.lock"
    )


def test_a_locked_source_whose_tag_moved_is_reported_and_not_followed(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    lock = lock_of(("amd64", amd), ("arm64", arm))
    apply(registries, plan(registries, present(["v1"]), lock=lock))
    moved = push_image(reg, REPO, "amd64", "linux/amd64", salt="rebuilt")

    p = plan(registries, present(["v1"]), lock=lock)
    assert actions(p) == {f"{NAME}:v1": "no-op"}
    change = by_address(p)[f"{NAME}:v1"]
    assert change.warnings == (
        f"source {NAME}:amd64 moved since locking: locked {amd.digest}, now {moved.digest}; "
        "not followed until the lock is updated (`mplat lock --update-lock` or `mplat plan "
        "--update-lock` follows the tag)",
    )
    assert change.desired is not None
    assert change.desired.sources == {f"{NAME}:amd64": amd.digest, f"{NAME}:arm64": arm.digest}
    # Without the lock the same config follows the tag.
    assert actions(plan(registries, present(["v1"]))) == {f"{NAME}:v1": "update"}


def test_the_lock_costs_the_same_requests_as_following_the_tags(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    unlocked = dict(plan(registries, present(["v1"])).requests)  # counts add up in one run
    locked = plan(registries, present(["v1"]), lock=lock_of(("amd64", amd), ("arm64", arm)))
    assert locked.requests == {method: 2 * n for method, n in unlocked.items()}
    assert ("get_manifest", REPO, amd.digest) in reg.calls  # the pin is read by digest


def test_a_source_not_in_the_lock_fails_its_list_and_an_optional_one_is_skipped(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, _ = two_images(reg)
    lock = lock_of(("amd64", amd))
    (error,) = plan(registries, present(["v1"]), lock=lock).errors
    assert error.message == (
        f"mplat.yaml:7:9: source {NAME}:arm64 is not in m.lock; run `mplat lock` to pin it"
    )
    late = entry(f"{NAME}:arm64", optional=True, line=9)
    p = plan(registries, listspec(NAME, ["v1"], f"{NAME}:amd64", late), lock=lock)
    assert not p.errors
    change = by_address(p)[f"{NAME}:v1"]
    assert change.desired is not None and len(change.desired.entries) == 1
    assert change.warnings == (
        f"mplat.yaml:9:9: optional entry skipped: source {NAME}:arm64 is not in m.lock; "
        "run `mplat lock` to pin it",
    )
    (error,) = plan(registries, listspec(NAME, ["v1"], late), lock=lock).errors
    assert f"({NAME}:arm64 is not in the lock)" in error.message


def test_a_digest_pinned_source_needs_no_pin(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, _ = two_images(reg)
    spec = listspec(NAME, ["v1"], f"{NAME}@{amd.digest}")
    assert actions(plan(registries, spec, lock=Lock())) == {f"{NAME}:v1": "create"}


def test_a_pinned_manifest_gone_from_the_registry_is_an_error(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    lock = lock_of(("amd64", amd), ("arm64", arm))
    push_image(reg, REPO, "amd64", "linux/amd64", salt="rebuilt")
    del reg.repo(REPO).manifests[amd.digest]
    (error,) = plan(registries, present(["v1"]), lock=lock).errors
    assert error.message.startswith(
        f"mplat.yaml:7:9: source {NAME}:amd64: {amd.digest}, the digest m.lock pins, is not "
        "in the registry; `mplat lock --update-lock`"
    )


def test_a_source_tag_deleted_since_locking_still_publishes_its_pin_with_a_warning(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    del reg.repo(REPO).tags["arm64"]
    p = plan(registries, present(["v1"]), lock=lock_of(("amd64", amd), ("arm64", arm)))
    change = by_address(p)[f"{NAME}:v1"]
    assert change.action == "create" and change.desired is not None
    assert [e.digest for e in change.desired.entries] == [amd.digest, arm.digest]
    assert change.warnings[0].startswith(
        f"source {NAME}:arm64 no longer exists; using the digest m.lock pins, {arm.digest}"
    )


def test_a_pin_that_contradicts_the_manifest_is_refused(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    edited = Lock(
        {
            f"{NAME}:amd64": Pin(amd.digest, amd.media_type, amd.size + 1),
            f"{NAME}:arm64": Pin(arm.digest, arm.media_type, arm.size),
        },
        "m.lock",
    )
    (error,) = plan(registries, present(["v1"]), lock=edited).errors
    assert f"m.lock says {amd.digest} is {amd.media_type} of {amd.size + 1} bytes" in error.message
    assert "the lock was edited by hand" in error.message


def test_the_plan_notes_the_lock_and_its_unused_pins(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = two_images(reg)
    lock = lock_of(("amd64", amd), ("arm64", arm), ("old", amd))
    p = plan(registries, present(["v1"]), lock=lock)
    assert p.notices == (
        "sources pinned by m.lock (3 pins)",
        f"m.lock: 1 pin that no entry uses: {NAME}:old (`mplat lock` drops them)",
    )


# --- events ----------------------------------------------------------------------------------


def test_each_list_is_reported_as_soon_as_it_is_planned(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    """The fast list's event comes while the slow list still waits: not all at the end."""
    two_images(reg, "acme/fast")
    two_images(reg, "acme/slow")
    lists = [present(["1"], "acme/slow"), present(["1", "2"], "acme/fast")]
    heard: list[Event] = []

    async def run() -> Plan:
        gate = asyncio.Event()
        head = reg.head_manifest

        async def held(repository: str, ref: str) -> ManifestInfo | None:
            if repository == "acme/slow" and not ref.startswith("sha256:"):
                await gate.wait()  # released only by the fast list's event
            return await head(repository, ref)

        def listen(event: Event) -> None:
            heard.append(event)
            if isinstance(event, ListPlanned):
                gate.set()

        reg.head_manifest = held  # type: ignore[method-assign]
        return await asyncio.wait_for(build_plan(lists, registries, events=listen), 5)

    p = asyncio.run(run())
    assert heard[0] == PlanStarted(2)
    assert all(isinstance(e, ListPlanned) for e in heard[1:]) and len(heard) == 3
    first, second = heard[1:]
    assert isinstance(first, ListPlanned) and isinstance(second, ListPlanned)
    assert [c.address for c in first.changes] == [f"{HOST}/acme/fast:1", f"{HOST}/acme/fast:2"]
    assert [c.address for c in second.changes] == [f"{HOST}/acme/slow:1"]
    assert p.changes[0].address == f"{HOST}/acme/slow:1"  # the plan keeps its order


def test_a_list_that_fails_to_plan_is_reported_with_its_error(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    heard: list[Event] = []
    missing = listspec(NAME, ["x"], f"{NAME}:nope")
    p = asyncio.run(build_plan([missing], registries, events=heard.append))
    assert heard == [PlanStarted(1), ListPlanned((), p.errors)]
    assert len(p.errors) == 1


def test_a_prune_scan_counts_as_one_more_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    two_images(reg)
    heard: list[Event] = []
    asyncio.run(build_plan([present(["1"], prune=True)], registries, events=heard.append))
    assert heard[0] == PlanStarted(2)
    assert sum(isinstance(e, ListPlanned) for e in heard) == 2
