"""Reading tag lists (RegistryClient.list_tags and tags_within): the real registry for what
it does, a scripted one for the paging corners distribution 2.8 never shows (it ignores
``n`` and sends every tag at once)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from mplat.registry.errors import ContentError
from mplat.registry.operations import RegistryClient
from mplat.registry.pool import ConnectionSettings, RegistryPool
from tests.support.fakeregistry import FakeRegistry, Reply, error_reply
from tests.support.registry import RegistryServer
from tests.support.seed import seed_image

T = TypeVar("T")


def with_client(address: str, work: Callable[[RegistryClient], Awaitable[T]]) -> T:
    async def run() -> T:
        pool = RegistryPool(
            settings_for=lambda r: ConnectionSettings(), credential_for=lambda r, repo: None
        )
        try:
            return await work(pool.client(address))
        finally:
            await pool.aclose()

    return asyncio.run(run())


def test_the_real_registry_lists_every_tag_and_none_of_an_unknown_repository(
    registry: RegistryServer, repo: str
) -> None:
    for tag in ("a", "b"):
        seed_image(registry.url, repo, tag, os="linux", architecture="amd64", salt=tag)
    assert with_client(registry.address, lambda c: c.tags_within(repo, 1)) == {"a", "b"}
    # distribution answers 404 NAME_UNKNOWN: the registry's word that there are no tags.
    unknown = f"{repo}-never-pushed"
    assert with_client(registry.address, lambda c: c.tags_within(unknown, 1)) == frozenset()
    assert with_client(registry.address, lambda c: c.list_tags(unknown)) == []


def paged(repo: str, pages: list[list[str]], link: Callable[[int], str]) -> FakeRegistry:
    """A registry whose tag list comes in ``pages``; ``link(k)`` is the URL of page k."""
    fake = FakeRegistry()
    fake.serve_tag_pages(repo, pages, link)
    return fake


PAGES = [["a", "b"], ["c"], ["d"]]


def test_pages_are_followed_within_the_budget_and_past_it_the_list_is_unknown() -> None:
    repo = "acme/paged"
    with paged(repo, PAGES, lambda k: f"/v2/{repo}/tags/list?n=2&last=p{k}") as fake:
        assert with_client(fake.address, lambda c: c.tags_within(repo, 3)) == {"a", "b", "c", "d"}
        fake.requests.clear()
        assert with_client(fake.address, lambda c: c.tags_within(repo, 2)) is None
        assert len(fake.requests_to(f"/v2/{repo}/tags/list")) == 2  # not a page more


def test_an_absolute_next_link_is_followed_on_the_registry_only() -> None:
    repo = "acme/paged"
    base = [""]
    with paged(repo, PAGES, lambda k: f"{base[0]}/v2/{repo}/tags/list?last=p{k}") as fake:
        base[0] = f"http://{fake.address}"
        assert with_client(fake.address, lambda c: c.list_tags(repo)) == ["a", "b", "c", "d"]
        # The next page on another host, or on this one over another scheme (credentials in
        # clear when an https registry points at http): never asked, and the list not whole.
        for elsewhere in ("http://elsewhere.invalid", f"https://{fake.address}"):
            base[0] = elsewhere
            fake.requests.clear()
            assert with_client(fake.address, lambda c: c.tags_within(repo, 10)) is None
            assert with_client(fake.address, lambda c: c.list_tags(repo)) == ["a", "b"]
            assert len(fake.requests_to(f"/v2/{repo}/tags/list")) == 2  # first pages only


def test_an_empty_page_that_points_on_and_a_broken_link_leave_the_list_unknown() -> None:
    repo = "acme/paged"
    with paged(repo, [[], ["a"]], lambda k: f"/v2/{repo}/tags/list?last=p{k}") as fake:
        assert with_client(fake.address, lambda c: c.tags_within(repo, 10)) is None
    with paged(repo, [["a"], ["b"]], lambda k: f"/v2/{repo}/tags list\x00") as fake:
        assert with_client(fake.address, lambda c: c.tags_within(repo, 10)) is None
        with pytest.raises(ContentError, match="tag list: bad next link"):
            with_client(fake.address, lambda c: c.list_tags(repo))


def test_a_registry_that_refuses_to_list_leaves_the_list_unknown() -> None:
    repo = "acme/private"
    with FakeRegistry() as fake:
        fake.route(
            "GET",
            f"/v2/{repo}/tags/list",
            lambda r: error_reply(403, "DENIED", "listing is not allowed"),
        )
        assert with_client(fake.address, lambda c: c.tags_within(repo, 1)) is None
        fake.route("GET", f"/v2/{repo}/tags/list", lambda r: Reply(404, {}, b"not here"))
        # A bare 404 (a proxy, a registry without the endpoint) is not "no tags".
        assert with_client(fake.address, lambda c: c.tags_within(repo, 1)) is None
