"""mplat.engine.sources: declared vs actual platforms, selection, and resolving under a lock."""

from __future__ import annotations

import asyncio

import pytest

from mplat.config.model import EntrySpec, Location
from mplat.engine.sources import (
    SourceError,
    SourceResolver,
    check_declared,
    is_missing,
    select_from_index,
)
from mplat.plan.lock import Lock, Pin, key
from mplat.registry.errors import ErrorDetail, NotFoundError, RegistryError
from mplat.values import mediatypes as mt
from mplat.values.manifest import Descriptor, Index, is_attestation
from mplat.values.platform import Platform
from mplat.values.reference import Reference, parse_reference
from tests.support.builders import D1, D2, DA, DB, DC, DD, DE, DF
from tests.support.engine import HOST, REPO
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image

IMAGE = Reference("localhost:5000", "acme/src", tag="1.0")
HERE = Location("manifests.yaml", 7, 9)
P = Platform.parse


def attestation(digest: str, for_digest: str | None) -> Descriptor:
    annotations = {"vnd.docker.reference.type": "attestation-manifest"}
    if for_digest is not None:
        annotations["vnd.docker.reference.digest"] = for_digest
    return Descriptor(mt.OCI_MANIFEST, digest, 840, Platform("unknown", "unknown"), annotations)


def image(digest: str, platform: Platform | None, media_type: str = mt.OCI_MANIFEST) -> Descriptor:
    return Descriptor(media_type, digest, 1000, platform)


# A buildx-style index: platforms, their attestations, plus the odd ones out.
AMD64 = image(DA, P("linux/amd64"))
ARM64 = image(DB, P("linux/arm64/v8"))
ARMV7 = image(DC, P("linux/arm/v7"))
WIN_2019 = image(DD, Platform("windows", "amd64", None, "10.0.17763.1"))
WIN_2022 = image(DE, Platform("windows", "amd64", None, "10.0.20348.2"))
NO_PLATFORM = image(DF, None)
ATT_AMD64 = attestation(D1, DA)
ATT_ARM64 = attestation(D2, DB)
INDEX = Index(
    mt.OCI_INDEX,
    (AMD64, ATT_AMD64, ARM64, ATT_ARM64, ARMV7, WIN_2019, WIN_2022, NO_PLATFORM),
)


def spec(*platforms: str | Platform, attestations: bool = False, all_: bool = False) -> EntrySpec:
    chosen = None if all_ else tuple(p if isinstance(p, Platform) else P(p) for p in platforms)
    return EntrySpec(IMAGE, HERE, platforms=chosen, attestations=attestations)


# --- check_declared ----------------------------------------------------------------------------


def test_check_declared_without_declaration_uses_the_image_config() -> None:
    actual = Platform("windows", "amd64", None, "10.0.1", ("win32k",))
    assert check_declared(IMAGE, None, actual) == (actual, ())


def test_check_declared_identical_is_silent() -> None:
    assert check_declared(IMAGE, P("linux/amd64"), P("linux/amd64")) == (P("linux/amd64"), ())


@pytest.mark.parametrize(
    ("declared", "actual"),
    [
        (P("linux/x86_64"), P("linux/amd64")),
        (P("linux/arm64/v8"), P("linux/arm64")),
        (P("linux/arm64"), P("linux/aarch64/v8")),
        (P("linux/arm"), P("linux/arm/v7")),
        (P("linux/armhf"), P("linux/arm/v7")),
        (P("macos/arm64"), P("darwin/arm64")),
        (P("linux/amd64/v1"), P("linux/amd64")),
    ],
)
def test_check_declared_aliases_are_equal_and_the_declaration_is_kept_verbatim(
    declared: Platform, actual: Platform
) -> None:
    assert check_declared(IMAGE, declared, actual) == (declared, ())


@pytest.mark.parametrize(
    ("declared", "actual", "says"),
    [
        (P("linux/amd64"), P("linux/arm64"), "linux/arm64"),
        (P("linux/arm64"), P("linux/arm/v7"), "linux/arm"),
        (P("windows/amd64"), P("linux/amd64"), "linux/amd64"),
        (P("linux/386"), P("linux/amd64"), "linux/amd64"),
    ],
)
def test_check_declared_refuses_wrong_os_or_architecture(
    declared: Platform, actual: Platform, says: str
) -> None:
    with pytest.raises(SourceError) as info:
        check_declared(IMAGE, declared, actual)
    message = str(info.value)
    assert message == (
        f"{IMAGE}: declared platform {declared} contradicts the image config, which says {says}"
    )


def test_check_declared_warns_on_variant_difference() -> None:
    declared = P("linux/arm/v6")
    platform, warnings = check_declared(IMAGE, declared, P("linux/arm/v7"))
    assert platform == declared
    assert warnings == (f"{IMAGE}: declared variant v6 differs from the image config's v7",)


def test_check_declared_warns_when_variant_is_missing_on_either_side() -> None:
    _, warnings = check_declared(IMAGE, P("linux/arm64/v9"), P("linux/arm64"))
    assert warnings == (f"{IMAGE}: declared variant v9 differs from the image config's (none)",)
    _, warnings = check_declared(IMAGE, P("linux/amd64"), P("linux/amd64/v3"))
    assert warnings == (f"{IMAGE}: declared variant (none) differs from the image config's v3",)


def test_check_declared_warns_on_os_version_difference() -> None:
    declared = Platform("windows", "amd64", None, "10.0.2")
    platform, warnings = check_declared(
        IMAGE, declared, Platform("windows", "amd64", None, "10.0.1")
    )
    assert platform == declared
    assert warnings == (
        f"{IMAGE}: declared os.version 10.0.2 differs from the image config's 10.0.1",
    )
    _, warnings = check_declared(IMAGE, declared, Platform("windows", "amd64"))
    assert warnings == (
        f"{IMAGE}: declared os.version 10.0.2 differs from the image config's (none)",
    )


def test_check_declared_without_os_version_accepts_any_build() -> None:
    declared = P("windows/amd64")
    assert check_declared(IMAGE, declared, Platform("windows", "amd64", None, "10.0.1")) == (
        declared,
        (),
    )


def test_check_declared_reports_both_warnings() -> None:
    declared = Platform("windows", "arm64", "v9", "10.0.2")
    _, warnings = check_declared(IMAGE, declared, Platform("windows", "arm64", None, "10.0.1"))
    assert len(warnings) == 2
    assert "variant" in warnings[0]
    assert "os.version" in warnings[1]


# --- select_from_index -------------------------------------------------------------------------


def test_select_all_platforms_in_index_order() -> None:
    assert select_from_index(spec(all_=True), INDEX) == [AMD64, ARM64, ARMV7, WIN_2019, WIN_2022]


def test_select_all_with_attestations_puts_them_last() -> None:
    assert select_from_index(spec(all_=True, attestations=True), INDEX) == [
        AMD64,
        ARM64,
        ARMV7,
        WIN_2019,
        WIN_2022,
        ATT_AMD64,
        ATT_ARM64,
    ]


def test_select_requested_platforms_in_requested_order() -> None:
    assert select_from_index(spec("linux/arm/v7", "linux/amd64"), INDEX) == [ARMV7, AMD64]


@pytest.mark.parametrize(
    ("want", "expected"),
    [
        ("linux/arm64", ARM64),  # arm64 ≡ arm64/v8
        ("linux/aarch64", ARM64),
        ("linux/arm", ARMV7),  # arm ≡ arm/v7
        ("linux/x86_64", AMD64),
        ("windows/amd64", WIN_2019),  # no os.version: the first Windows build
    ],
)
def test_select_matches_normalised_platforms(want: str, expected: Descriptor) -> None:
    assert select_from_index(spec(want), INDEX) == [expected]


def test_select_by_os_version() -> None:
    want = Platform("windows", "amd64", None, "10.0.20348.2")
    assert select_from_index(spec(want), INDEX) == [WIN_2022]


def test_select_attestations_only_for_selected_entries() -> None:
    assert select_from_index(spec("linux/arm64", "linux/arm/v7", attestations=True), INDEX) == [
        ARM64,
        ARMV7,
        ATT_ARM64,
    ]


def test_select_drops_attestations_unless_asked() -> None:
    picked = select_from_index(spec("linux/amd64"), INDEX)
    assert picked == [AMD64]
    assert not any(is_attestation(d.annotations) for d in select_from_index(spec(all_=True), INDEX))


def test_select_never_picks_unknown_platforms() -> None:
    stray = image(D1, Platform("unknown", "unknown"))
    index = Index(mt.OCI_INDEX, (stray, AMD64))
    assert select_from_index(spec(all_=True), index) == [AMD64]
    with pytest.raises(SourceError, match="has no unknown/unknown entry"):
        select_from_index(spec("unknown/unknown"), index)


def test_select_missing_platform_names_what_there_is() -> None:
    with pytest.raises(SourceError) as info:
        select_from_index(spec("linux/amd64", "linux/s390x"), INDEX)
    assert str(info.value) == (
        f"{IMAGE} has no linux/s390x entry (it has: linux/amd64, linux/arm64/v8, linux/arm/v7, "
        "windows/amd64 10.0.17763.1, windows/amd64 10.0.20348.2)"
    )


def test_select_from_index_without_platforms() -> None:
    index = Index(mt.OCI_INDEX, (NO_PLATFORM, ATT_AMD64))
    with pytest.raises(SourceError) as info:
        select_from_index(spec("linux/amd64"), index)
    assert str(info.value) == f"{IMAGE} has no linux/amd64 entry (it has: no platforms)"


def test_select_refuses_nested_indexes() -> None:
    nested = image(D1, P("linux/riscv64"), mt.OCI_INDEX)
    index = Index(mt.OCI_INDEX, (AMD64, nested))
    with pytest.raises(SourceError, match="nested indexes are not supported"):
        select_from_index(spec("linux/amd64"), index)


def test_select_docker_list() -> None:
    a = image(DA, P("linux/amd64"), mt.DOCKER_MANIFEST)
    b = image(DB, P("linux/ppc64le"), mt.DOCKER_MANIFEST)
    index = Index(mt.DOCKER_LIST, (a, b))
    assert select_from_index(spec("linux/ppc64le"), index) == [b]
    assert select_from_index(spec(all_=True), index) == [a, b]


# --- SourceResolver under a lock ---------------------------------------------------------------


def test_a_pinned_source_counts_as_seen_only_while_its_tag_still_holds_the_pin(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    image = parse_reference(f"{HOST}/{REPO}:amd64")
    first = push_image(reg, REPO, "amd64", "linux/amd64")
    lock = Lock({key(image): Pin(first.digest, first.media_type, first.size)}, "m.lock")

    found = asyncio.run(SourceResolver(registries, lock).manifest(image))
    assert (found.fetched.digest, found.seen_live, found.warnings) == (first.digest, True, ())

    push_image(reg, REPO, "amd64", "linux/amd64", salt="moved")
    found = asyncio.run(SourceResolver(registries, lock).manifest(image))
    assert found.fetched.digest == first.digest and not found.seen_live
    assert len(found.warnings) == 1 and "moved since locking" in found.warnings[0]


def test_without_a_pin_the_error_says_unlocked_not_missing(registries: MemoryRegistries) -> None:
    image = parse_reference(f"{HOST}/{REPO}:amd64")
    with pytest.raises(SourceError) as caught:
        asyncio.run(SourceResolver(registries, Lock()).manifest(image))
    assert caught.value.unlocked and not caught.value.missing
    assert str(caught.value) == (
        f"source {image} is not in the lock file; run `mplat lock` to pin it"
    )
    assert registries.client(HOST).calls == []  # refused before asking the registry


def test_missing_means_the_registry_said_so() -> None:
    def err(status: int, code: str, cls: type[RegistryError] = RegistryError) -> RegistryError:
        return cls(HOST, REPO, "x", status=status, errors=(ErrorDetail(code, "x"),))

    assert is_missing(err(404, "MANIFEST_UNKNOWN", NotFoundError))
    assert is_missing(err(404, "NAME_UNKNOWN"))
    assert not is_missing(err(401, "UNAUTHORIZED"))
    assert not is_missing(err(500, "UNKNOWN"))


# --- SourceResolver without a cache ---------------------------------------------------------------


def test_without_a_cache_a_source_tag_is_read_with_one_get() -> None:
    registries = MemoryRegistries(caches_manifests=False)
    reg = registries.client(HOST)
    image = parse_reference(f"{HOST}/{REPO}:amd64")
    pushed = push_image(reg, REPO, "amd64", "linux/amd64")
    found = asyncio.run(SourceResolver(registries).manifest(image))
    assert (found.fetched.digest, found.seen_live) == (pushed.digest, True)
    assert reg.calls == [("get_manifest", REPO, "amd64")]
    missing = parse_reference(f"{HOST}/{REPO}:nope")
    with pytest.raises(SourceError) as caught:
        asyncio.run(SourceResolver(registries).manifest(missing))
    assert caught.value.missing


def test_with_a_cache_a_source_tag_is_headed_then_read_by_digest(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    image = parse_reference(f"{HOST}/{REPO}:amd64")
    pushed = push_image(reg, REPO, "amd64", "linux/amd64")
    asyncio.run(SourceResolver(registries).manifest(image))
    assert reg.calls == [("head_manifest", REPO, "amd64"), ("get_manifest", REPO, pushed.digest)]
