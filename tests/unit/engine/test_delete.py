"""Deleting tags without deleting anything else, against the in-memory registry.

The memory registry refuses DELETE by tag as distribution 2.8 does (400 DIGEST_INVALID), so
by default these tests see the fallbacks: by digest for a list no other tag shares, else the
untag trick (the tag moved to a unique placeholder, which is then deleted by digest).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from mplat.config.model import ListSpec
from mplat.engine.apply import Applier
from mplat.engine.delete import EMPTY_DIGEST, by_repository, delete_change
from mplat.plan.model import Change, Plan
from mplat.plan.outcome import Outcome
from mplat.registry.errors import ErrorDetail, RegistryError
from mplat.values import mediatypes as mt
from mplat.values.reference import parse_repository
from tests.support.engine import HOST, NAME, REPO, actions, apply, by_address, listspec, plan
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image


def present(reg: MemoryRegistry, tags: list[str]) -> ListSpec:
    push_image(reg, REPO, "amd64", "linux/amd64")
    push_image(reg, REPO, "arm64", "linux/arm64")
    return listspec(NAME, tags, f"{NAME}:amd64", f"{NAME}:arm64")


def absent(tags: list[str]) -> ListSpec:
    return listspec(NAME, tags, state="absent")


def written(registries: MemoryRegistries, tags: list[str]) -> MemoryRegistry:
    """The list of both images applied to ``tags``; the call log starts empty after."""
    reg = registries.client(HOST)
    assert not apply(registries, plan(registries, present(reg, tags))).failed
    reg.calls.clear()
    return reg


def delete(registries: MemoryRegistries, p: Plan) -> Outcome:
    (outcome,) = [o for o in apply(registries, p).outcomes if o.action == "delete"]
    return outcome


@pytest.fixture
def registries() -> MemoryRegistries:
    return MemoryRegistries()


def test_sole_tag_of_a_list_is_deleted_by_digest_and_its_children_kept(
    registries: MemoryRegistries,
) -> None:
    reg = written(registries, ["only"])
    listed = reg.tag_digest(REPO, "only")
    assert listed is not None
    children = [m["digest"] for m in json.loads(reg.repo(REPO).manifests[listed][0])["manifests"]]
    outcome = delete(registries, plan(registries, absent(["only"])))
    assert (outcome.ok, outcome.message) == (True, "deleted (by digest)")
    assert [(k, ref) for k, _, ref in reg.writes()] == [
        ("delete_manifest", "only"),  # refused: 2.8 deletes by digest only
        ("delete_manifest", listed),
    ]
    assert reg.tag_digest(REPO, "only") is None and listed not in reg.repo(REPO).manifests
    assert all(c in reg.repo(REPO).manifests for c in children)
    assert set(reg.repo(REPO).tags) == {"amd64", "arm64"}


def test_tag_sharing_its_digest_is_untagged_and_the_other_tag_kept(
    registries: MemoryRegistries,
) -> None:
    reg = written(registries, ["keep", "gone"])
    listed = reg.tag_digest(REPO, "keep")
    p = plan(registries, present(reg, ["keep"]), absent(["gone"]))
    assert actions(p) == {f"{NAME}:keep": "no-op", f"{NAME}:gone": "delete"}
    reg.calls.clear()
    outcome = delete(registries, p)
    assert (outcome.ok, outcome.message) == (True, "deleted (untagged)")

    writes = [(k, ref) for k, _, ref in reg.writes()]
    assert writes[0] == ("delete_manifest", "gone")  # refused by tag
    assert writes[1] == ("upload_blob", EMPTY_DIGEST)  # the placeholder's config
    assert writes[2] == ("put_manifest", "gone")  # the tag moves to the placeholder ...
    kind, placeholder = writes[3]  # ... which is deleted by digest, taking only that tag
    assert kind == "delete_manifest" and placeholder not in (listed, "gone")
    assert len(writes) == 4
    assert placeholder not in reg.repo(REPO).manifests
    assert reg.tag_digest(REPO, "gone") is None
    assert reg.tag_digest(REPO, "keep") == listed and listed in reg.repo(REPO).manifests


def test_placeholders_are_unique_so_deleting_one_never_takes_another_tag(
    registries: MemoryRegistries,
) -> None:
    reg = written(registries, ["keep", "x", "y"])
    p = plan(registries, present(reg, ["keep"]), absent(["x", "y"]))
    reg.calls.clear()
    assert all(o.ok for o in apply(registries, p).outcomes)
    placeholders = [
        ref for k, _, ref in reg.writes() if k == "delete_manifest" and ref.startswith("sha256:")
    ]
    assert len(placeholders) == len(set(placeholders)) == 2
    assert set(reg.repo(REPO).tags) == {"keep", "amd64", "arm64"}


def test_tag_holding_a_single_image_is_only_untagged(registries: MemoryRegistries) -> None:
    reg = registries.client(HOST)
    image = push_image(reg, REPO, "old", "linux/amd64")
    outcome = delete(registries, plan(registries, absent(["old"])))
    assert (outcome.ok, outcome.message) == (True, "deleted (untagged)")
    assert reg.tag_digest(REPO, "old") is None
    # The image stays by digest: other lists may use it as a child.
    assert image.digest in reg.repo(REPO).manifests


def test_registry_deleting_by_tag_is_asked_only_that() -> None:
    registries = MemoryRegistries(delete_by_tag=True)
    reg = written(registries, ["keep", "gone"])
    listed = reg.tag_digest(REPO, "keep")
    outcome = delete(registries, plan(registries, absent(["gone"])))
    assert (outcome.ok, outcome.message) == (True, "deleted (by tag)")
    assert [(k, ref) for k, _, ref in reg.writes()] == [("delete_manifest", "gone")]
    assert reg.tag_digest(REPO, "keep") == listed


def test_refused_deletion_is_reported_and_the_tag_put_back() -> None:
    registries = MemoryRegistries(delete_enabled=False)
    reg = written(registries, ["keep", "gone"])
    listed = reg.tag_digest(REPO, "gone")
    p = plan(registries, absent(["gone"]), present(reg, ["other"]))
    result = apply(registries, p)
    outcomes = {o.address: o for o in result.outcomes}
    gone = outcomes[f"{NAME}:gone"]
    assert not gone.ok
    assert "UNSUPPORTED" in gone.message and "does not allow deleting" in gone.message
    assert outcomes[f"{NAME}:other"].ok  # the rest was applied
    # The untag trick did not leave the tag on a throw-away manifest when it could not finish.
    assert reg.tag_digest(REPO, "gone") == listed


def test_refusal_of_the_sole_tag_leaves_it_untouched() -> None:
    registries = MemoryRegistries(delete_enabled=False)
    reg = written(registries, ["only"])
    listed = reg.tag_digest(REPO, "only")
    outcome = delete(registries, plan(registries, absent(["only"])))
    assert not outcome.ok and "does not allow deleting" in outcome.message
    assert [k for k, _, _ in reg.writes()] == ["delete_manifest", "delete_manifest"]
    assert reg.tag_digest(REPO, "only") == listed


def test_tag_moved_since_the_plan_is_not_deleted(registries: MemoryRegistries) -> None:
    reg = written(registries, ["gone"])
    p = plan(registries, absent(["gone"]))
    moved = push_image(reg, REPO, "gone", "linux/amd64", salt="someone else")
    outcome = delete(registries, p)
    assert not outcome.ok
    assert f"tag gone changed since plan (now {moved.digest}); not deleted" in outcome.message
    assert reg.tag_digest(REPO, "gone") == moved.digest


def test_tag_already_gone_counts_as_deleted(registries: MemoryRegistries) -> None:
    reg = written(registries, ["gone"])
    p = plan(registries, absent(["gone"]))
    del reg.repo(REPO).tags["gone"]
    outcome = delete(registries, p)
    assert (outcome.ok, outcome.message) == (True, "deleted (already absent)")
    assert outcome.unchanged  # counted apart: nothing was deleted by this apply
    assert reg.writes() == []


def test_other_registry_errors_fail_the_deletion_without_a_hint(
    registries: MemoryRegistries,
) -> None:
    reg = written(registries, ["gone"])
    reg.fail("delete_manifest", "gone")
    outcome = delete(registries, plan(registries, absent(["gone"])))
    assert not outcome.ok and "(HTTP 500)" in outcome.message
    assert "does not allow deleting" not in outcome.message
    assert reg.tag_digest(REPO, "gone") is not None


def test_denied_deletion_carries_the_hint(registries: MemoryRegistries) -> None:
    reg = written(registries, ["gone"])
    denied = RegistryError(
        HOST, REPO, "DELETE manifest gone refused", status=403, errors=(ErrorDetail("DENIED", ""),)
    )
    reg.fail("delete_manifest", error=denied)
    outcome = delete(registries, plan(registries, absent(["gone"])))
    assert not outcome.ok and "does not allow deleting" in outcome.message


def test_delete_change_returns_its_outcome_and_reports_progress(
    registries: MemoryRegistries,
) -> None:
    written(registries, ["gone"])
    change = by_address(plan(registries, absent(["gone"])))[f"{NAME}:gone"]
    lines: list[str] = []
    outcome = asyncio.run(delete_change(registries, change, lines.append))
    assert outcome == Outcome(f"{NAME}:gone", "delete", True, "deleted (by digest)")
    assert lines == [f"{NAME}:gone: deleted (by digest)"]


def test_deletions_are_grouped_per_repository_in_plan_order() -> None:
    def change(repository: str, tag: str) -> Change:
        return Change(parse_repository(repository), tag, "delete", None, None, None)

    a1, b1, a2 = change("r.test/a", "1"), change("r.test/b", "1"), change("r.test/a", "2")
    assert by_repository([a1, b1, a2]) == [[a1, a2], [b1]]


def test_stop_before_deletions_starts_none(registries: MemoryRegistries) -> None:
    reg = written(registries, ["x", "y"])
    p = plan(registries, absent(["x", "y"]))
    reg.calls.clear()

    async def run() -> list[tuple[str, str, bool]]:
        stop = asyncio.Event()
        stop.set()
        result = await Applier(registries, stop=stop).apply(p)
        return [(o.address, o.message, o.interrupted) for o in result.outcomes]

    assert asyncio.run(run()) == [
        (f"{NAME}:x", "not deleted (stopped first)", True),
        (f"{NAME}:y", "not deleted (stopped first)", True),
    ]
    assert reg.writes() == []


def test_placeholder_is_a_valid_empty_oci_image(registries: MemoryRegistries) -> None:
    reg = written(registries, ["keep", "gone"])
    p = plan(registries, absent(["gone"]))
    bodies: list[tuple[bytes, str]] = []
    original = reg.put_manifest

    async def spy(repository: str, ref: str, data: bytes, media_type: str) -> str:
        bodies.append((data, media_type))
        return await original(repository, ref, data, media_type)

    reg.put_manifest = spy  # type: ignore[method-assign]
    assert delete(registries, p).ok
    ((data, media_type),) = bodies
    doc = json.loads(data)
    assert media_type == mt.OCI_MANIFEST and doc["layers"] == []
    assert doc["config"] == {"mediaType": mt.OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    assert "dev.mplat.untag" in doc["annotations"]


def test_hard_stop_keeps_the_outcomes_of_deletions_already_done() -> None:
    """Outcomes are collected as each deletion ends, so cancelling the rest loses none."""
    registries = MemoryRegistries()
    reg = registries.client(HOST)
    quick, slow = f"{HOST}/acme/quick", f"{HOST}/acme/slow"
    for repo in ("acme/quick", "acme/slow"):
        push_image(reg, repo, "amd64", "linux/amd64")
    lists = [
        listspec(quick, ["gone"], f"{quick}:amd64"),  # sole tag: deleted by digest, quickly
        listspec(slow, ["keep", "gone"], f"{slow}:amd64"),  # shared: the longer untag dance
    ]
    assert not apply(registries, plan(registries, *lists)).failed
    p = plan(
        registries,
        listspec(quick, ["gone"], state="absent"),
        listspec(slow, ["gone"], state="absent"),
    )

    async def run() -> dict[str, Outcome]:
        stop, abort = asyncio.Event(), asyncio.Event()

        def progress(line: str) -> None:
            if line.endswith("deleted (by digest)"):
                stop.set()  # a second signal while the other deletion is under way
                abort.set()

        applier = Applier(registries, progress=progress, stop=stop, abort=abort)
        result = await applier.apply(p)
        assert result.interrupted
        return {o.address: o for o in result.outcomes}

    outcomes = asyncio.run(run())
    assert outcomes[f"{quick}:gone"] == Outcome(
        f"{quick}:gone", "delete", True, "deleted (by digest)"
    )
    cut = outcomes[f"{slow}:gone"]  # cut off mid-way: reported, never silently dropped
    assert not cut.ok and (cut.unknown or cut.interrupted)
