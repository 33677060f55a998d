"""ParseCache gives what parse_reference and Platform.parse give, values and errors alike."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mplat.config.parsecache import ParseCache
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import Reference, ReferenceError, parse_reference

D1 = "sha256:" + "1" * 64

TRICKY = [
    "busybox",
    "busybox:1.36",
    "library/busybox:latest",
    "localhost",
    "localhost:5000",
    "localhost:5000/a",
    "localhost:5000/a:t",
    "example.com:5000",
    "example.com:5000/a/b:1.0-amd64",
    "[::1]:5000/a:t",
    "[::1]",
    "[::1]:5000",
    "index.docker.io/x/y:t",
    "registry-1.docker.io/x:t",
    "a:b:c",
    "a/b:c:d",
    "a:",
    ":t",
    ":",
    "",
    "a/b:",
    "a/b:-x",
    "a/b:" + "t" * 129,
    "A/b:t",
    "a/B:t",
    f"a/b@{D1}",
    f"a/b:t@{D1}",
    "a/b@sha256:abc",
    "http://a/b:t",
    "a://b:t",
    "1" * 64,
    "1" * 64 + ":t",
    "r.io/" + "x" * 260 + ":t",
    "r.io/a//b:t",
    "r.io/a/b:t\n",
]


def outcome(parse: object, text: str) -> tuple[str, object]:
    assert callable(parse)
    try:
        return "ok", parse(text)
    except (ReferenceError, PlatformError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", TRICKY)
def test_a_reference_is_what_parse_reference_makes_of_it(text: str) -> None:
    cache = ParseCache()
    expected = outcome(parse_reference, text)
    assert outcome(cache.reference, text) == expected
    assert outcome(cache.reference, text) == expected  # and again, from the cache


def test_one_cache_gives_every_text_its_own_answer() -> None:
    cache = ParseCache()
    for text in TRICKY + list(reversed(TRICKY)):
        assert outcome(cache.reference, text) == outcome(parse_reference, text)


def test_a_repeated_name_is_parsed_once_and_shared() -> None:
    cache = ParseCache()
    repository = cache.reference("r.io/team/app")
    image = cache.reference("r.io/team/app:1.0")
    assert image == Reference("r.io", "team/app", "1.0")
    assert cache.reference("r.io/team/app:1.0") is image
    assert cache.reference("r.io/team/app") is repository


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet="ab1A.:/@-_[]x", max_size=24))
def test_any_text_gets_the_same_answer(text: str) -> None:
    cache = ParseCache()
    expected = outcome(parse_reference, text)
    assert outcome(cache.reference, text) == expected
    # with its name in the cache first, as in a build
    with contextlib.suppress(ReferenceError):
        cache.reference(text.rpartition(":")[0])
    assert outcome(cache.reference, text) == expected


@pytest.mark.parametrize("text", ["linux/amd64", "Linux/ARM64/v8", "linux", "a/b/c/d", "a//b"])
def test_a_platform_is_what_platform_parse_makes_of_it(text: str) -> None:
    cache = ParseCache()
    expected = outcome(Platform.parse, text)
    assert outcome(cache.platform, text) == expected
    assert outcome(cache.platform, text) == expected


def test_a_platform_key_is_the_platforms_own() -> None:
    cache = ParseCache()
    platform = cache.platform("linux/arm64/v8")
    assert cache.platform_key(platform) == platform.key()
    assert cache.platform_key(Platform("linux", "arm64")) == platform.key()
    assert cache.platform("linux/arm64/v8") is platform
