"""mplat import's reading of live lists, against the in-memory registry: what is grouped,
declared and skipped, and that the lists it returns plan to "no changes"."""

from __future__ import annotations

import asyncio
import json

import pytest

from mplat.engine.importer import ImportResult, import_lists
from mplat.plan.compare import owner_annotations
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import Descriptor, render_index
from mplat.values.platform import Platform
from mplat.values.reference import Reference, parse_reference, parse_repository
from tests.support.engine import HOST, NAME, REPO, actions, plan
from tests.support.memregistry import MemoryRegistries, MemoryRegistry, push_image, push_index


def run_import(registries: MemoryRegistries, *refs: str) -> ImportResult:
    return asyncio.run(import_lists([parse_reference(r) for r in refs], registries))


def put_index(
    reg: MemoryRegistry,
    tag: str,
    children: tuple[Descriptor, ...] | list[Descriptor],
    media_type: str = mt.OCI_INDEX,
    annotations: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> str:
    """A list written as another tool would: its own bytes (indent 3), not mplat's."""
    oci = media_type == mt.OCI_INDEX
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [c.to_json(oci=oci) for c in children],
        **(extra or {}),
    }
    if annotations:
        doc["annotations"] = annotations
    body = json.dumps(doc, indent=3).encode()
    asyncio.run(reg.put_manifest(REPO, tag, body, media_type))
    return sha256_digest(body)


def assert_no_changes(registries: MemoryRegistries, result: ImportResult) -> None:
    got = plan(registries, *result.lists)
    assert not got.errors, got.errors
    assert set(actions(got).values()) == {"no-op"}, actions(got)


def test_tags_sharing_a_list_are_one_item_with_sources_by_tag(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    arm = push_image(reg, REPO, "arm64", "linux/arm64/v8")
    put_index(reg, "1.0", [amd, arm])
    put_index(reg, "latest", [amd, arm])
    result = run_import(registries, NAME)
    assert result.skipped == ()
    (spec,) = result.lists
    assert spec.repository == parse_repository(NAME)
    assert spec.tags == ("1.0", "latest")
    assert spec.format == "oci"
    assert [str(e.image) for e in spec.manifests] == [f"{NAME}:amd64", f"{NAME}:arm64"]
    assert [e.platform for e in spec.manifests] == [
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
    ]
    assert_no_changes(registries, result)


def test_a_child_without_a_tag_is_named_by_digest(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    _, children = push_index(reg, REPO, "v1", ("linux/amd64", "linux/s390x"), oci=False)
    result = run_import(registries, f"{NAME}:v1")
    (spec,) = result.lists
    assert spec.format == "docker"
    assert [e.image for e in spec.manifests] == [
        Reference(HOST, REPO, digest=c.digest) for c in children
    ]
    assert_no_changes(registries, result)


def test_index_annotations_are_kept_but_mplats_marker_is_not(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    marker = owner_annotations([parse_repository(NAME)], ["v2"])
    put_index(reg, "v2", [amd], annotations={"org.opencontainers.image.version": "2", **marker})
    result = run_import(registries, NAME)
    (spec,) = result.lists
    assert spec.annotations == {"org.opencontainers.image.version": "2"}
    assert_no_changes(registries, result)


def test_a_list_mplat_wrote_imports_to_its_exact_bytes(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    # The list spells the platform otherwise than the image config does (a variant, an
    # os.version, a feature): read from the image, the entry would differ; declared, it is
    # the same, down to the bytes.
    image = push_image(reg, REPO, None, "linux/amd64")
    platform = Platform("linux", "amd64", "v3", "5.1", ("f",))
    entry = Descriptor(image.media_type, image.digest, image.size, platform)
    body = render_index(mt.OCI_INDEX, [entry], owner_annotations([parse_repository(NAME)], ["x"]))
    asyncio.run(reg.put_manifest(REPO, "x", body, mt.OCI_INDEX))
    result = run_import(registries, NAME)
    (spec,) = result.lists
    assert spec.manifests[0].platform == platform
    assert spec.manifests[0].image == Reference(HOST, REPO, digest=image.digest)
    got = plan(registries, *result.lists)
    (change,) = got.changes
    assert change.action == "no-op"
    assert change.desired is not None and change.desired.body == body


def test_single_images_and_referrer_tags_are_not_lists(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    put_index(reg, "v1", [amd])
    put_index(reg, "sha256-" + "a" * 64 + ".sig", [amd])
    whole = run_import(registries, NAME)
    assert [s.tags for s in whole.lists] == [("v1",)]
    assert whole.skipped == ()
    named = run_import(registries, f"{NAME}:amd64", f"{NAME}:v1", f"{NAME}:nope")
    assert [s.tags for s in named.lists] == [("v1",)]
    assert named.skipped == (
        f"{NAME}:amd64: a single image, not a list",
        f"{NAME}:nope: not found",
    )


def test_a_named_tag_imports_only_that_tag(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    put_index(reg, "a", [amd])
    put_index(reg, "b", [amd])
    assert [s.tags for s in run_import(registries, f"{NAME}:b").lists] == [("b",)]
    assert [s.tags for s in run_import(registries, f"{NAME}:b", NAME).lists] == [("a", "b")]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"annotations": {"k": "v"}}, "has annotations"),
        ({"artifactType": "application/x"}, "has artifactType or urls"),
        ({"platform": None}, "has no platform"),
        ({"platform": {"os": "unknown", "architecture": "unknown"}}, "has no platform"),
        ({"size": 1}, "does not match the manifest it names"),
    ],
)
def test_entries_the_config_cannot_declare_skip_the_list(
    registries: MemoryRegistries, reg: MemoryRegistry, change: dict[str, object], why: str
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    good = push_image(reg, REPO, "arm64", "linux/arm64")
    entry = {**amd.to_json(oci=True), **change}
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [good.to_json(oci=True), {k: v for k, v in entry.items() if v is not None}],
    }
    body = json.dumps(doc).encode()
    reg.repo(REPO).manifests[sha256_digest(body)] = (body, mt.OCI_INDEX)
    reg.repo(REPO).tags["odd"] = sha256_digest(body)
    put_index(reg, "fine", [good])
    result = run_import(registries, NAME)
    assert [s.tags for s in result.lists] == [("fine",)]
    (skipped,) = result.skipped
    assert skipped.startswith(f"{NAME}:odd: entry 1 (")
    assert why in skipped


def test_referrer_indexes_duplicates_and_foreign_children_are_skipped(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    oci = push_image(reg, REPO, "oci", "linux/arm64", oci=True)
    put_index(reg, "ref", [amd], extra={"artifactType": "application/x"})
    put_index(reg, "dup", [amd, amd])
    put_index(reg, "mixed", [amd, oci], media_type=mt.DOCKER_LIST)
    result = run_import(registries, NAME)
    assert result.lists == ()
    why = dict(s.split(": ", 1) for s in result.skipped)
    assert "referrer" in why[f"{NAME}:ref"]
    assert "repeats the platform linux/amd64" in why[f"{NAME}:dup"]
    assert "OCI image in a Docker list" in why[f"{NAME}:mixed"]


def test_a_child_missing_from_the_repository_skips_the_list(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, None, "linux/amd64")
    put_index(reg, "v1", [amd])
    del reg.repo(REPO).manifests[amd.digest]
    result = run_import(registries, NAME)
    assert result.lists == ()
    assert result.skipped == (f"{NAME}:v1: entry 0 ({amd.digest}) is missing from the repository",)


def attestation(image: Descriptor, of: Descriptor) -> Descriptor:
    return Descriptor(
        image.media_type,
        image.digest,
        image.size,
        Platform("unknown", "unknown"),
        {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": of.digest,
        },
    )


def test_a_buildx_list_with_attestations_is_taken_from_its_own_digest(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, None, "linux/amd64", oci=True)
    arm = push_image(reg, REPO, None, "linux/arm64", oci=True)
    att = push_image(reg, REPO, None, "linux/386", oci=True, salt="attestation")
    digest = put_index(reg, "v1", [amd, arm, attestation(att, amd), attestation(att, arm)])
    result = run_import(registries, NAME)
    assert result.skipped == ()
    (spec,) = result.lists
    (entry,) = spec.manifests
    assert entry.image == Reference(HOST, REPO, digest=digest)
    assert entry.attestations is True and entry.platform is None
    assert_no_changes(registries, result)


def test_attestations_before_platforms_or_of_nothing_listed_are_skipped(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, None, "linux/amd64", oci=True)
    arm = push_image(reg, REPO, None, "linux/arm64", oci=True)
    put_index(reg, "first", [attestation(arm, amd), amd])
    put_index(reg, "orphan", [amd, attestation(arm, arm)])
    result = run_import(registries, NAME)
    assert result.lists == ()
    assert len(result.skipped) == 2
    assert all("has annotations" in why for why in result.skipped)


def test_names_the_config_could_not_hold_skip_with_a_reason(
    registries: MemoryRegistries, reg: MemoryRegistry
) -> None:
    amd = push_image(reg, REPO, "amd64", "linux/amd64")
    digest = put_index(reg, "v1", [amd])
    reg.repo(REPO).tags["-bad\n"] = digest  # a registry's listing is not to be trusted
    put_index(reg, "unnamed", [amd], annotations={"": "x"})
    result = run_import(registries, NAME)
    assert [s.tags for s in result.lists] == [("v1",)]
    assert result.skipped == (
        f"{NAME}: tag '-bad\\n' is not a valid tag",
        f"{NAME}:unnamed: an index annotation has an empty name, which the config cannot declare",
    )
