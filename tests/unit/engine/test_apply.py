"""Applying plans made by the real planner, against the in-memory registry."""

from __future__ import annotations

import asyncio
import json

import pytest

from mplat.config.model import ListSpec
from mplat.engine.apply import Applier
from mplat.plan.events import ApplyEnded, ApplyStarted, Event
from mplat.plan.model import Plan
from mplat.plan.outcome import MovedTag, StalePlanError
from tests.support.engine import HOST, NAME, OTHER, REPO, actions, apply, by_address, listspec, plan
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image

SRC = f"{OTHER}/staging/app"


def local_list(reg: MemoryRegistry, tags: list[str], repo: str = REPO) -> ListSpec:
    """Two images of ``repo`` itself on ``tags``: nothing to copy, only the list to write."""
    push_image(reg, repo, "amd64", "linux/amd64")
    push_image(reg, repo, "arm64", "linux/arm64")
    name = f"{HOST}/{repo}"
    return listspec(name, tags, f"{name}:amd64", f"{name}:arm64")


def copied_list(registries: MemoryRegistries, tags: list[str]) -> ListSpec:
    """Two images on another registry, so children and blobs must be copied first."""
    other = registries.client(OTHER)
    push_image(other, "staging/app", "amd64", "linux/amd64", layers=2)
    push_image(other, "staging/app", "arm64", "linux/arm64")
    return listspec(NAME, tags, f"{SRC}:amd64", f"{SRC}:arm64")


def check_stale(registries: MemoryRegistries, p: Plan) -> None:
    asyncio.run(Applier(registries).check_stale(p))


# --- order ----------------------------------------------------------------------------------


def test_blobs_then_children_then_first_tag_then_the_others(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, copied_list(registries, ["v1", "v2", "v3"]))
    desired = by_address(p)[f"{NAME}:v1"].desired
    assert desired is not None and len(desired.children) == 2
    result = apply(registries, p)
    assert not result.failed and not result.interrupted

    writes = reg.writes()
    kinds = [w[0] for w in writes]
    uploads = [i for i, k in enumerate(kinds) if k == "upload_blob"]
    puts = [(i, ref) for i, (k, _, ref) in enumerate(writes) if k == "put_manifest"]
    children = [i for i, ref in puts if ref.startswith("sha256:")]
    tags = [ref for _, ref in puts if not ref.startswith("sha256:")]
    assert len(uploads) == 5  # 2 configs + 3 layers, each once
    assert max(uploads) < min(children)  # every blob before any child manifest
    assert sorted(ref for _, ref in puts if ref.startswith("sha256:")) == sorted(
        c.digest for c in desired.children
    )
    assert max(children) < min(i for i, ref in puts if not ref.startswith("sha256:"))
    assert tags == ["v1", "v2", "v3"]  # the list lands on its first tag, then the others
    assert all(w[0] == HOST for w in registries.writes())  # sources are only read

    # What landed is complete: every child and blob is in the target repository.
    repo = reg.repo(REPO)
    for child in desired.children:
        manifest = json.loads(repo.manifests[child.digest][0])
        for blob in [manifest["config"], *manifest["layers"]]:
            assert blob["digest"] in repo.blobs
    assert {t: repo.tags[t] for t in ("v1", "v2", "v3")} == dict.fromkeys(
        ("v1", "v2", "v3"), desired.digest
    )


def test_same_registry_blobs_are_mounted_and_a_refused_mount_is_uploaded() -> None:
    for refuse in (False, True):
        registries = MemoryRegistries(refuse_mounts=refuse)
        reg = registries.client(HOST)
        push_image(reg, "acme/staging", "amd64", "linux/amd64")
        staging = f"{HOST}/acme/staging"
        result = apply(registries, plan(registries, listspec(NAME, ["v1"], f"{staging}:amd64")))
        assert not result.failed
        kinds = [k for k, _, _ in reg.writes()]
        assert kinds.count("mount_blob") == 2  # the plan says mount; apply tries it first
        assert kinds.count("upload_blob") == (2 if refuse else 0)
        assert kinds[-2:] == ["put_manifest", "put_manifest"]  # the child, then the tag


def test_shared_children_and_blobs_are_written_once(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    copied_list(registries, [])
    lists = [
        listspec(f"{HOST}/{REPO}", ["a"], f"{SRC}:amd64", f"{SRC}:arm64"),
        listspec(f"{HOST}/{REPO}", ["b"], f"{SRC}:arm64", f"{SRC}:amd64"),
    ]
    assert not apply(registries, plan(registries, *lists)).failed
    children = [ref for k, _, ref in reg.writes() if k == "put_manifest" and ":" in ref]
    assert len(children) == len(set(children)) == 2
    uploads = [ref for k, _, ref in reg.writes() if k == "upload_blob"]
    assert len(uploads) == len(set(uploads)) == 5


def test_blobs_cross_to_another_registry_once_and_mount_there_after(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    """One list in two repositories of a registry the sources are not in (repository: [..])."""
    copied_list(registries, [])
    lists = [
        listspec(f"{HOST}/{repo}", ["v1"], f"{SRC}:amd64", f"{SRC}:arm64")
        for repo in ("acme/app", "acme/mirror")
    ]
    result = apply(registries, plan(registries, *lists), groups=2)
    assert not result.failed
    uploads = [(r, ref) for k, r, ref in reg.writes() if k == "upload_blob"]
    mounts = [(r, ref) for k, r, ref in reg.writes() if k == "mount_blob"]
    assert len(uploads) == len({ref for _, ref in uploads}) == 5  # each blob crosses once
    assert sorted(ref for _, ref in mounts) == sorted(ref for _, ref in uploads)
    assert {r for r, _ in uploads} | {r for r, _ in mounts} == {"acme/app", "acme/mirror"}
    assert all(len(reg.repo(r).blobs) == 5 for r in ("acme/app", "acme/mirror"))
    assert set(actions(plan(registries, *lists)).values()) == {"no-op"}


# --- idempotence, repair ----------------------------------------------------------------------


def test_apply_then_plan_again_has_no_changes_and_writes_nothing(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    spec = copied_list(registries, ["v1", "v2"])
    apply(registries, plan(registries, spec))
    again = plan(registries, spec)
    assert set(actions(again).values()) == {"no-op"} and not again.has_changes
    before = len(reg.writes())
    result = apply(registries, again)
    assert result.outcomes == [] and len(reg.writes()) == before


def test_repair_restores_the_child_without_rewriting_the_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    spec = copied_list(registries, ["v1"])
    first = by_address(plan(registries, spec))[f"{NAME}:v1"]
    apply(registries, plan(registries, spec))
    assert first.desired is not None
    missing = first.desired.children[0].digest
    del reg.repo(REPO).manifests[missing]
    reg.calls.clear()
    repair = plan(registries, spec)
    assert actions(repair) == {f"{NAME}:v1": "repair"}
    (outcome,) = apply(registries, repair).outcomes
    assert (outcome.ok, outcome.message) == (True, "children restored")
    assert [(k, ref) for k, _, ref in reg.writes()] == [("put_manifest", missing)]


# --- stale plans ------------------------------------------------------------------------------


def test_stale_saved_plan_is_refused_and_nothing_is_written(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a", "b"]))
    intruder = push_image(reg, REPO, "b", "linux/amd64", salt="intruder")  # another writer
    with pytest.raises(StalePlanError) as caught:
        check_stale(registries, p)
    assert caught.value.moved == [MovedTag(f"{NAME}:b", None, intruder.digest)]
    assert f"{NAME}:b: planned at absent, now {intruder.digest}" in str(caught.value)
    assert "nothing was written" in str(caught.value)
    assert reg.writes() == []
    assert reg.tag_digest(REPO, "a") is None


def test_fresh_plan_passes_the_stale_check(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a"]))
    check_stale(registries, p)
    assert not apply(registries, p).failed


def test_tag_moved_after_planning_is_not_overwritten(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a", "b"]))
    intruder = push_image(reg, REPO, "b", "linux/amd64", salt="intruder")
    outcomes = {o.address: o for o in apply(registries, p).outcomes}
    assert outcomes[f"{NAME}:a"].ok
    b = outcomes[f"{NAME}:b"]
    assert not b.ok and "changed since plan (was absent, now " in b.message
    assert reg.tag_digest(REPO, "b") == intruder.digest


def test_tag_already_holding_the_desired_list_is_not_rewritten(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a"]))
    assert not apply(registries, p).failed
    reg.calls.clear()
    (outcome,) = apply(registries, p).outcomes  # the same plan again: another writer won
    assert (outcome.ok, outcome.message) == (True, "already up to date")
    assert reg.writes() == []


# --- failures -------------------------------------------------------------------------------


def test_failing_put_fails_its_tag_and_the_rest_proceeds(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    spec = local_list(reg, ["a", "b"])
    other = local_list(reg, ["c"], repo="acme/other")
    reg.fail("put_manifest", "a")
    result = apply(registries, plan(registries, spec, other))
    outcomes = {o.address: o for o in result.outcomes}
    assert [a for a, o in outcomes.items() if not o.ok] == [f"{NAME}:a"]
    failed = outcomes[f"{NAME}:a"]
    assert failed.message.startswith(f"{NAME}: put_manifest a failed (injected) (HTTP 500)")
    assert not failed.interrupted and not failed.unknown
    assert outcomes[f"{NAME}:b"].ok  # the list's other tag is still written
    assert outcomes[f"{HOST}/acme/other:c"].ok
    assert reg.tag_digest(REPO, "a") is None and reg.tag_digest(REPO, "b") is not None


def test_failing_child_copy_fails_every_tag_of_that_list_only(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    spec = copied_list(registries, ["v1", "v2"])
    fine = local_list(reg, ["ok"], repo="acme/fine")
    reg.fail("upload_blob")
    result = apply(registries, plan(registries, spec, fine))
    failed = sorted(o.address for o in result.failed)
    assert failed == [f"{NAME}:v1", f"{NAME}:v2"]
    assert all(o.message.startswith("copying children failed: ") for o in result.failed)
    assert reg.tag_digest(REPO, "v1") is None  # no tag moved to a list lacking children
    assert reg.tag_digest("acme/fine", "ok") is not None


def test_stop_before_apply_writes_nothing_and_accounts_for_every_change(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a", "b"]))

    async def run() -> list[tuple[str, bool, str, bool]]:
        stop = asyncio.Event()
        stop.set()
        result = await Applier(registries, stop=stop).apply(p)
        assert result.interrupted
        return [(o.address, o.ok, o.message, o.interrupted) for o in result.outcomes]

    assert asyncio.run(run()) == [
        (f"{NAME}:a", False, "not written (stopped first)", True),
        (f"{NAME}:b", False, "not written (stopped first)", True),
    ]
    assert reg.writes() == []


def test_progress_reports_each_write(registries: MemoryRegistries, reg: MemoryRegistry) -> None:
    lines: list[str] = []
    p = plan(registries, local_list(reg, ["a"]))
    apply(registries, p, progress=lines.append)
    desired = by_address(p)[f"{NAME}:a"].desired
    assert desired is not None
    assert lines == [f"{NAME}:a: created {desired.digest}"]


# --- events ----------------------------------------------------------------------------------


def test_each_change_is_started_before_its_write_and_ended_after_it(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    """The listener sees the registry as it is at each event: absent at start, written at end."""
    p = plan(registries, copied_list(registries, ["v1", "v2"]))
    digest = by_address(p)[f"{NAME}:v1"].desired.digest  # type: ignore[union-attr]
    seen: list[tuple[str, str, str | None]] = []

    def listen(event: Event) -> None:
        if isinstance(event, ApplyStarted):
            seen.append(("start", event.change.tag, reg.tag_digest(REPO, event.change.tag)))
        elif isinstance(event, ApplyEnded):
            tag = event.outcome.address.rpartition(":")[2]
            seen.append(("end", tag, reg.tag_digest(REPO, tag)))

    result = apply(registries, p, events=listen)
    assert not result.failed
    assert seen == [
        ("start", "v1", None),
        ("start", "v2", None),  # a list's tags start together: their children come first
        ("end", "v1", digest),
        ("end", "v2", digest),
    ]


def test_every_outcome_is_heard_once_and_a_tag_already_right_is_unchanged(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a", "b"]))
    first = by_address(p)[f"{NAME}:a"]
    assert first.desired is not None
    held = reg.repo(REPO)  # another writer got "a" right already
    held.manifests[first.desired.digest] = (first.desired.body, first.desired.media_type)
    held.tags["a"] = first.desired.digest
    heard: list[Event] = []
    result = apply(registries, p, events=heard.append)
    ended = [e.outcome for e in heard if isinstance(e, ApplyEnded)]
    assert ended == result.outcomes
    assert [(o.address, o.unchanged) for o in ended] == [(f"{NAME}:a", True), (f"{NAME}:b", False)]
    assert result.counts() == {
        "created": 1,
        "updated": 0,
        "repaired": 0,
        "deleted": 0,
        "unchanged": 1,
        "failed": 0,
    }


def test_a_stop_first_is_heard_as_outcomes_without_a_start(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    p = plan(registries, local_list(reg, ["a", "b"]))
    heard: list[Event] = []

    async def run() -> None:
        stop = asyncio.Event()
        stop.set()
        await Applier(registries, stop=stop, events=heard.append).apply(p)

    asyncio.run(run())
    assert not any(isinstance(e, ApplyStarted) for e in heard)
    assert [
        (e.outcome.address, e.outcome.interrupted) for e in heard if isinstance(e, ApplyEnded)
    ] == [
        (f"{NAME}:a", True),
        (f"{NAME}:b", True),
    ]
