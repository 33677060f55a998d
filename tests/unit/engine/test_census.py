"""The tag census (mplat.engine.census) as the planner uses it, against the in-memory registry:
which tags are HEADed, which the tag list rules out, and when the list is not read at all."""

from __future__ import annotations

import asyncio
from collections import Counter

from mplat.engine.census import MIN_TAGS, TAGS_PER_PAGE, TagCensus
from mplat.plan.model import ImageView
from mplat.values.reference import parse_repository
from tests.support.engine import HOST, NAME, REPO, actions, apply, by_address, listspec, plan
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image, push_index


def sources(reg: MemoryRegistry) -> tuple[str, str]:
    push_image(reg, REPO, "amd64", "linux/amd64")
    push_image(reg, REPO, "arm64", "linux/arm64")
    return f"{NAME}:amd64", f"{NAME}:arm64"


def operations(reg: MemoryRegistry) -> Counter[str]:
    return Counter(op for op, _repo, _ref in reg.calls)


def heads_of_tags(reg: MemoryRegistry, tags: list[str]) -> list[str]:
    return sorted(ref for op, _, ref in reg.calls if op == "head_manifest" and ref in tags)


def test_many_new_tags_are_ruled_out_by_one_list_not_a_head_each(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = sources(reg)
    tags = [f"v{i}" for i in range(MIN_TAGS)]
    p = plan(registries, listspec(NAME, tags[:3], amd, arm), listspec(NAME, tags[3:], amd, arm))
    assert set(actions(p).values()) == {"create"}
    assert operations(reg)["tags_within"] == 1  # one list for both entries of the repository
    assert heads_of_tags(reg, tags) == []


def test_listed_tags_are_still_headed_for_their_digest(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = sources(reg)
    tags = [f"v{i}" for i in range(MIN_TAGS)]
    push_image(reg, REPO, "v3", "linux/amd64")  # a single image on one declared tag
    p = plan(registries, listspec(NAME, tags, amd, arm))
    assert heads_of_tags(reg, tags) == ["v3"]
    assert isinstance(by_address(p)[f"{NAME}:v3"].before, ImageView)
    assert actions(p)[f"{NAME}:v3"] == "update"


def test_few_tags_are_headed_without_a_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = sources(reg)
    tags = [f"v{i}" for i in range(MIN_TAGS - 1)]
    plan(registries, listspec(NAME, tags, amd, arm))
    assert operations(reg)["tags_within"] == 0
    assert heads_of_tags(reg, tags) == sorted(tags)


def test_a_repository_too_large_to_list_within_the_budget_is_headed_tag_by_tag(
    registries: MemoryRegistries,
) -> None:
    reg = registries.client(HOST)
    reg.tags_page = 1  # one tag per page: the two sources already need two pages
    amd, arm = sources(reg)
    tags = [f"v{i}" for i in range(MIN_TAGS)]
    p = plan(registries, listspec(NAME, tags, amd, arm))
    assert set(actions(p).values()) == {"create"}
    assert operations(reg)["tags_within"] == 1
    assert heads_of_tags(reg, tags) == sorted(tags)


def test_a_registry_that_will_not_list_is_asked_tag_by_tag(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd, arm = sources(reg)
    reg.fail("tags_within")
    tags = [f"v{i}" for i in range(MIN_TAGS)]
    p = plan(registries, listspec(NAME, tags, amd, arm))
    assert not p.errors and set(actions(p).values()) == {"create"}
    assert heads_of_tags(reg, tags) == sorted(tags)


def test_a_tag_the_list_missed_is_not_overwritten_by_apply(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    """A list that lags behind (the tag was pushed after it was read) plans a create; the
    HEAD apply makes right before writing sees the tag and leaves it alone."""
    amd, arm = sources(reg)
    tags = [f"v{i}" for i in range(MIN_TAGS)]
    p = plan(registries, listspec(NAME, tags, amd, arm))
    other, _ = push_index(reg, REPO, "v0", salt="theirs")  # another's, pushed after the plan
    result = apply(registries, p)
    outcome = {o.address: o for o in result.outcomes}[f"{NAME}:v0"]
    assert not outcome.ok and "changed since plan" in outcome.message
    assert reg.repositories[REPO].tags["v0"] == other.digest
    assert sum(o.ok for o in result.outcomes) == MIN_TAGS - 1


def test_the_page_budget_grows_with_the_tags_in_the_plan(registries: MemoryRegistries) -> None:
    reg = registries.client(HOST)
    reg.tags_page = 1
    for i in range(2):
        push_image(reg, REPO, f"s{i}", "linux/amd64")
    repo = parse_repository(NAME)

    def listed(count: int) -> frozenset[str] | None:
        census = TagCensus(registries, [(repo, f"t{i}") for i in range(count)])
        return asyncio.run(census.tags(repo))

    # Two tags in the repository need two pages of one: a budget of 1 + n // TAGS_PER_PAGE.
    assert listed(TAGS_PER_PAGE - 1) is None
    assert listed(TAGS_PER_PAGE) == {"s0", "s1"}


def test_tags_to_delete_are_always_headed(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    """A list that lags would make a tag to delete look gone already: never trusted there."""
    amd, arm = sources(reg)
    tags = [f"v{i}" for i in range(MIN_TAGS)]
    plan(registries, listspec(NAME, tags, amd, arm, state="absent"))
    assert operations(reg)["tags_within"] == 0
    assert heads_of_tags(reg, tags) == sorted(tags)
