"""Tests for mplat.values.manifest: digests, descriptors, hostile input, canonical rendering."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from mplat.values import mediatypes as mt
from mplat.values.digest import is_descriptor_digest, is_digest, sha256_digest
from mplat.values.manifest import (
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageManifest,
    Index,
    ManifestError,
    is_attestation,
    parse_descriptor,
    parse_manifest,
    render_index,
    render_placeholder,
    str_map,
)
from mplat.values.platform import Platform
from tests.support.builders import DA, DB, DC

AMD64 = Platform("linux", "amd64")
ARM64_V8 = Platform("linux", "arm64", "v8")
WINDOWS = Platform("windows", "amd64", None, "10.0.17763.1066", ("win32k",))


def _dump(doc: object) -> bytes:
    return json.dumps(doc).encode()


def _index_doc(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": DA,
                "size": 423,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    doc.update(extra)
    return doc


def _image_doc(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": DA, "size": 10},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": DB, "size": 20}
        ],
    }
    doc.update(extra)
    return doc


# --- digests -----------------------------------------------------------------------------------


def test_sha256_digest_known_vectors() -> None:
    assert sha256_digest(b"") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert sha256_digest(b"abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_sha256_digest_is_over_exact_bytes() -> None:
    # Same JSON value, different bytes: different digests.
    assert sha256_digest(b'{"a":1}') != sha256_digest(b'{"a": 1}')
    assert sha256_digest(b'{"a":1}\n') != sha256_digest(b'{"a":1}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DA, True),
        ("sha256:" + "0123456789abcdef" * 4, True),
        ("sha256:" + "A" * 64, False),  # uppercase hex is forbidden
        ("sha256:" + "a" * 63, False),
        ("sha256:" + "a" * 65, False),
        ("sha512:" + "a" * 128, False),  # is_digest is about the sha256 mplat computes
        ("a" * 64, False),
        ("", False),
        (DA + "\n", False),
    ],
)
def test_is_digest(value: str, expected: bool) -> None:
    assert is_digest(value) is expected


# --- Descriptor.to_json ------------------------------------------------------------------------


def test_descriptor_to_json_oci_key_order() -> None:
    d = Descriptor(
        mt.OCI_MANIFEST,
        DA,
        7,
        AMD64,
        annotations={"z": "1", "a": "2"},
        urls=("https://example.com/blob",),
    )
    out = d.to_json(oci=True)
    assert list(out) == ["mediaType", "digest", "size", "platform", "annotations", "urls"]
    assert list(out["annotations"]) == ["a", "z"]
    assert out["urls"] == ["https://example.com/blob"]
    assert out["platform"] == {"architecture": "amd64", "os": "linux"}


def test_descriptor_to_json_docker_orders_size_before_digest_and_drops_oci_fields() -> None:
    d = Descriptor(mt.DOCKER_MANIFEST, DA, 7, ARM64_V8, annotations={"a": "b"}, urls=("u",))
    out = d.to_json(oci=False)
    assert list(out) == ["mediaType", "size", "digest", "platform"]
    assert out == {
        "mediaType": mt.DOCKER_MANIFEST,
        "size": 7,
        "digest": DA,
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
    }


def test_descriptor_to_json_without_platform_or_annotations() -> None:
    d = Descriptor(mt.OCI_MANIFEST, DA, 0)
    assert d.to_json(oci=True) == {"mediaType": mt.OCI_MANIFEST, "digest": DA, "size": 0}
    assert list(d.to_json(oci=True)) == ["mediaType", "digest", "size"]


def test_descriptor_platform_key_order() -> None:
    full = Platform("windows", "arm64", "v8", "10.0.1", ("win32k", "x"))
    out = Descriptor(mt.OCI_MANIFEST, DA, 1, full).to_json(oci=True)
    assert list(out["platform"]) == ["architecture", "os", "os.version", "os.features", "variant"]


def test_descriptor_identity_ignores_urls_and_sorts_annotations() -> None:
    a = Descriptor(mt.OCI_MANIFEST, DA, 1, AMD64, {"b": "1", "a": "2"}, ("u1",))
    b = Descriptor(mt.OCI_MANIFEST, DA, 1, AMD64, {"a": "2", "b": "1"}, ())
    assert a.identity() == b.identity()
    assert list(a.identity()["annotations"]) == ["a", "b"]
    assert a.identity() != Descriptor(mt.OCI_MANIFEST, DB, 1, AMD64).identity()


# --- canonical rendering -----------------------------------------------------------------------


def test_render_oci_index_exact_bytes() -> None:
    """Hand-written expected bytes: the layout is the contract, since it fixes the digest."""
    manifests = (
        Descriptor(mt.OCI_MANIFEST, DA, 423, AMD64),
        Descriptor(mt.OCI_MANIFEST, DB, 525, ARM64_V8, annotations={"y": "2", "x": "1"}),
    )
    body = render_index(mt.OCI_INDEX, manifests, {"dev.mplat.managed-by": "mplat", "a.b": "c"})
    expected = (
        "{\n"
        '  "schemaVersion": 2,\n'
        f'  "mediaType": "{mt.OCI_INDEX}",\n'
        '  "manifests": [\n'
        "    {\n"
        f'      "mediaType": "{mt.OCI_MANIFEST}",\n'
        f'      "digest": "{DA}",\n'
        '      "size": 423,\n'
        '      "platform": {\n'
        '        "architecture": "amd64",\n'
        '        "os": "linux"\n'
        "      }\n"
        "    },\n"
        "    {\n"
        f'      "mediaType": "{mt.OCI_MANIFEST}",\n'
        f'      "digest": "{DB}",\n'
        '      "size": 525,\n'
        '      "platform": {\n'
        '        "architecture": "arm64",\n'
        '        "os": "linux",\n'
        '        "variant": "v8"\n'
        "      },\n"
        '      "annotations": {\n'
        '        "x": "1",\n'
        '        "y": "2"\n'
        "      }\n"
        "    }\n"
        "  ],\n"
        '  "annotations": {\n'
        '    "a.b": "c",\n'
        '    "dev.mplat.managed-by": "mplat"\n'
        "  }\n"
        "}\n"
    ).encode()
    assert body == expected
    assert sha256_digest(body) == "sha256:" + hashlib.sha256(expected).hexdigest()


def test_render_docker_list_matches_documented_layout() -> None:
    manifests = [
        Descriptor(mt.DOCKER_MANIFEST, DA, 423, AMD64),
        Descriptor(mt.DOCKER_MANIFEST, DC, 1000, WINDOWS),
    ]
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 423,
                "digest": DA,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 1000,
                "digest": DC,
                "platform": {
                    "architecture": "amd64",
                    "os": "windows",
                    "os.version": "10.0.17763.1066",
                    "os.features": ["win32k"],
                },
            },
        ],
    }
    expected = (json.dumps(doc, indent=2) + "\n").encode()
    body = render_index(mt.DOCKER_LIST, manifests)
    assert body == expected
    assert sha256_digest(body) == "sha256:" + hashlib.sha256(expected).hexdigest()
    assert b'"annotations"' not in body


def test_render_oci_index_matches_documented_layout() -> None:
    manifests = [
        Descriptor(mt.OCI_MANIFEST, DC, 99, WINDOWS, annotations={"k": "v"}, urls=("https://u",)),
        Descriptor(mt.OCI_MANIFEST, DA, 1, None),
    ]
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": DC,
                "size": 99,
                "platform": {
                    "architecture": "amd64",
                    "os": "windows",
                    "os.version": "10.0.17763.1066",
                    "os.features": ["win32k"],
                },
                "annotations": {"k": "v"},
                "urls": ["https://u"],
            },
            {"mediaType": mt.OCI_MANIFEST, "digest": DA, "size": 1},
        ],
    }
    assert render_index(mt.OCI_INDEX, manifests) == (json.dumps(doc, indent=2) + "\n").encode()


def test_render_is_stable_and_independent_of_annotation_insertion_order() -> None:
    manifests = (
        Descriptor(mt.OCI_MANIFEST, DA, 1, AMD64, {"b": "1", "a": "2"}),
        Descriptor(mt.OCI_MANIFEST, DB, 2, ARM64_V8),
    )
    first = render_index(mt.OCI_INDEX, manifests, {"z": "1", "m": "2", "a": "3"})
    again = render_index(mt.OCI_INDEX, manifests, {"z": "1", "m": "2", "a": "3"})
    reordered = render_index(
        mt.OCI_INDEX,
        (
            Descriptor(mt.OCI_MANIFEST, DA, 1, AMD64, {"a": "2", "b": "1"}),
            Descriptor(mt.OCI_MANIFEST, DB, 2, ARM64_V8),
        ),
        {"a": "3", "m": "2", "z": "1"},
    )
    assert first == again == reordered
    doc = json.loads(first)
    assert list(doc["annotations"]) == ["a", "m", "z"]
    assert list(doc["manifests"][0]["annotations"]) == ["a", "b"]


def test_render_keeps_entry_order() -> None:
    a = Descriptor(mt.OCI_MANIFEST, DA, 1, AMD64)
    b = Descriptor(mt.OCI_MANIFEST, DB, 2, ARM64_V8)
    ab = render_index(mt.OCI_INDEX, [a, b])
    ba = render_index(mt.OCI_INDEX, [b, a])
    assert ab != ba
    assert [m["digest"] for m in json.loads(ba)["manifests"]] == [DB, DA]


def test_render_docker_list_refuses_annotations() -> None:
    with pytest.raises(ValueError, match="cannot carry annotations"):
        render_index(mt.DOCKER_LIST, [Descriptor(mt.DOCKER_MANIFEST, DA, 1, AMD64)], {"a": "b"})


def test_render_docker_list_accepts_empty_annotations() -> None:
    d = [Descriptor(mt.DOCKER_MANIFEST, DA, 1, AMD64)]
    assert render_index(mt.DOCKER_LIST, d, {}) == render_index(mt.DOCKER_LIST, d)


def test_render_empty_annotations_are_omitted() -> None:
    body = render_index(mt.OCI_INDEX, [], {})
    assert json.loads(body) == {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}


@pytest.mark.parametrize("media_type", [mt.OCI_MANIFEST, mt.DOCKER_MANIFEST, "application/json"])
def test_render_refuses_non_index_media_types(media_type: str) -> None:
    with pytest.raises(ValueError, match="not an index media type"):
        render_index(media_type, [])


def test_render_non_ascii_annotation_is_utf8_and_round_trips() -> None:
    body = render_index(mt.OCI_INDEX, [], {"org.opencontainers.image.authors": "Zoë Café"})
    assert "Zoë Café".encode() in body
    parsed = parse_manifest(body, mt.OCI_INDEX)
    assert isinstance(parsed, Index)
    assert parsed.annotations == {"org.opencontainers.image.authors": "Zoë Café"}


def test_render_then_parse_round_trips_descriptors() -> None:
    manifests = (
        Descriptor(mt.OCI_MANIFEST, DA, 423, AMD64, {"k": "v"}),
        Descriptor(mt.OCI_MANIFEST, DC, 99, WINDOWS, urls=("https://u",)),
    )
    body = render_index(mt.OCI_INDEX, manifests, {"a": "b"})
    parsed = parse_manifest(body, mt.OCI_INDEX + "; charset=utf-8")
    assert parsed == Index(mt.OCI_INDEX, manifests, {"a": "b"})


# --- parse_manifest: the happy paths -----------------------------------------------------------


def test_parse_oci_index() -> None:
    doc = _index_doc(annotations={"a": "b"})
    doc["manifests"].append(
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": DB,
            "size": 500,
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": DA,
            },
        }
    )
    parsed = parse_manifest(_dump(doc), mt.OCI_INDEX)
    assert parsed == Index(
        mt.OCI_INDEX,
        (
            Descriptor(mt.OCI_MANIFEST, DA, 423, AMD64),
            Descriptor(
                mt.OCI_MANIFEST,
                DB,
                500,
                Platform("unknown", "unknown"),
                {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": DA,
                },
            ),
        ),
        {"a": "b"},
    )


def test_parse_image_manifest_and_blobs() -> None:
    parsed = parse_manifest(_dump(_image_doc()), mt.OCI_MANIFEST)
    assert isinstance(parsed, ImageManifest)
    assert parsed.media_type == mt.OCI_MANIFEST
    assert parsed.config == Descriptor(mt.OCI_CONFIG, DA, 10)
    assert [b.digest for b in parsed.blobs()] == [DA, DB]


def test_parse_docker_list_without_content_type() -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_LIST,
        "manifests": [{"mediaType": mt.DOCKER_MANIFEST, "size": 1, "digest": DA}],
    }
    parsed = parse_manifest(_dump(doc))
    assert isinstance(parsed, Index)
    assert parsed.media_type == mt.DOCKER_LIST
    assert parsed.manifests[0].platform is None


def test_parse_takes_media_type_from_header_when_body_has_none() -> None:
    doc = _index_doc()
    del doc["mediaType"]
    parsed = parse_manifest(_dump(doc), mt.DOCKER_LIST)
    assert isinstance(parsed, Index)
    assert parsed.media_type == mt.DOCKER_LIST


@pytest.mark.parametrize(
    ("doc", "expected_type"),
    [
        ({"schemaVersion": 2, "manifests": []}, Index),
        ({"schemaVersion": 2, "config": _image_doc()["config"], "layers": []}, ImageManifest),
    ],
)
def test_parse_infers_oci_type_when_neither_body_nor_header_names_one(
    doc: dict[str, Any], expected_type: type
) -> None:
    parsed = parse_manifest(_dump(doc))
    assert isinstance(parsed, expected_type)
    assert parsed.media_type in (mt.OCI_INDEX, mt.OCI_MANIFEST)


def test_parse_content_type_parameters_and_case_are_ignored() -> None:
    parsed = parse_manifest(
        _dump(_index_doc()), "Application/VND.OCI.Image.Index.v1+JSON ; charset=utf-8"
    )
    assert isinstance(parsed, Index)


def test_parse_accepts_other_digest_algorithms() -> None:
    doc = _index_doc()
    doc["manifests"][0]["digest"] = "sha512:" + "f" * 128
    parsed = parse_manifest(_dump(doc))
    assert isinstance(parsed, Index)
    assert parsed.manifests[0].digest == "sha512:" + "f" * 128


def test_parse_accepts_body_of_exactly_the_limit() -> None:
    body = _dump(_index_doc())
    body += b" " * (MAX_MANIFEST_BYTES - len(body))
    assert len(body) == MAX_MANIFEST_BYTES
    assert isinstance(parse_manifest(body), Index)


# --- parse_manifest: hostile input -------------------------------------------------------------


def _rejects(data: bytes, fragment: str, content_type: str | None = None) -> str:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, content_type)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    return message


def test_manifest_error_is_a_value_error() -> None:
    assert issubclass(ManifestError, ValueError)


def test_parse_rejects_oversized_body_before_parsing() -> None:
    body = _dump(_index_doc())
    body += b" " * (MAX_MANIFEST_BYTES + 1 - len(body))
    _rejects(body, f"larger than {MAX_MANIFEST_BYTES} bytes")


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"not json", b'{"schemaVersion": 2,}', b"\xff\xfe\x00garbage", b"\x80\x81"],
)
def test_parse_rejects_invalid_json(data: bytes) -> None:
    _rejects(data, "not valid JSON")


@pytest.mark.parametrize("data", [b"[]", b'"index"', b"2", b"null", b"true"])
def test_parse_rejects_non_objects(data: bytes) -> None:
    _rejects(data, "not a JSON object")


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_parse_rejects_deeply_nested_json(depth: int) -> None:
    # Well under the size limit, but deep enough to exhaust the parser's recursion.
    _rejects(b"[" * depth + b"]" * depth, "not valid JSON")


def test_parse_rejects_media_type_that_disagrees_with_content_type() -> None:
    message = _rejects(_dump(_index_doc()), "Content-Type", mt.DOCKER_LIST)
    assert mt.OCI_INDEX in message
    assert mt.DOCKER_LIST in message


def test_parse_rejects_non_string_media_type() -> None:
    _rejects(_dump(_index_doc(mediaType=["x"])), "mediaType is not a string")


@pytest.mark.parametrize("version", [None, 1, "2", 3])
def test_parse_rejects_unsupported_schema_version(version: object) -> None:
    doc = _index_doc(schemaVersion=version)
    if version is None:
        del doc["schemaVersion"]
    _rejects(_dump(doc), "schemaVersion")


def test_parse_rejects_schema1() -> None:
    doc = {"schemaVersion": 1, "name": "a/b", "tag": "latest", "fsLayers": []}
    _rejects(_dump(doc), "schemaVersion 1", mt.DOCKER_SCHEMA1_SIGNED)


def test_parse_rejects_unknown_media_type() -> None:
    _rejects(
        _dump(_index_doc(mediaType="application/vnd.example+json")),
        "unsupported manifest media type application/vnd.example+json",
    )


@pytest.mark.parametrize("manifests", [None, {}, "x"])
def test_parse_rejects_index_without_manifests_array(manifests: object) -> None:
    doc = _index_doc(manifests=manifests)
    if manifests is None:
        del doc["manifests"]
    _rejects(_dump(doc), "no manifests array")


def test_parse_rejects_image_without_layers_array() -> None:
    doc = _image_doc()
    del doc["layers"]
    _rejects(_dump(doc), "no layers array")


def test_parse_rejects_image_without_config() -> None:
    doc = _image_doc()
    del doc["config"]
    _rejects(_dump(doc), "config: descriptor is not an object")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"mediaType": None}, "manifests[0]: descriptor has no mediaType"),
        ({"mediaType": ""}, "has no mediaType"),
        ({"mediaType": 5}, "has no mediaType"),
        ({"digest": None}, "is not a valid digest"),
        ({"digest": "a" * 64}, "is not a valid digest"),
        ({"digest": "sha256:" + "A" * 64}, "not a valid sha256 digest"),
        ({"digest": "sha256:" + "a" * 63}, "not a valid sha256 digest"),
        ({"digest": "sha256:" + "a" * 64 + "\n"}, "is not a valid digest"),
        ({"digest": "SHA256:" + "a" * 64}, "is not a valid digest"),
        ({"size": None}, "is not a non-negative integer"),
        ({"size": -1}, "is not a non-negative integer"),
        ({"size": 1.5}, "is not a non-negative integer"),
        ({"size": "423"}, "is not a non-negative integer"),
        ({"size": True}, "is not a non-negative integer"),
        ({"platform": {"os": "linux"}}, "manifests[0]: platform field 'architecture'"),
        ({"platform": "linux/amd64"}, "manifests[0]: platform must be a JSON object"),
        ({"annotations": {"a": 1}}, "annotations must map strings to strings"),
        ({"annotations": ["a"]}, "annotations must map strings to strings"),
        ({"urls": "https://u"}, "urls must be a list of strings"),
        ({"urls": [1]}, "urls must be a list of strings"),
    ],
)
def test_parse_rejects_malformed_descriptors(change: dict[str, Any], fragment: str) -> None:
    doc = _index_doc()
    doc["manifests"][0].update(change)
    _rejects(_dump(doc), fragment)


def test_parse_names_the_bad_entry() -> None:
    doc = _index_doc()
    doc["manifests"].append({"mediaType": mt.OCI_MANIFEST, "digest": "nope", "size": 1})
    _rejects(_dump(doc), "manifests[1]:")


def test_parse_rejects_non_object_descriptor() -> None:
    _rejects(_dump(_index_doc(manifests=["sha256:x"])), "manifests[0]: descriptor is not an object")


def test_parse_rejects_bad_layer_descriptor() -> None:
    doc = _image_doc()
    doc["layers"].append({"mediaType": "x", "digest": DA, "size": -5})
    _rejects(_dump(doc), "layers[1]:")


def test_parse_rejects_bad_index_annotations() -> None:
    _rejects(_dump(_index_doc(annotations={"a": None})), "index: annotations must map")


def test_parse_descriptor_null_optional_fields_are_absent() -> None:
    d = parse_descriptor(
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": DA,
            "size": 0,
            "platform": None,
            "annotations": None,
            "urls": None,
        },
        "x",
    )
    assert d == Descriptor(mt.OCI_MANIFEST, DA, 0)


# --- registry text in messages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"schemaVersion": 2, "x": ' + b"1" * 5000 + b"}", "not valid JSON (ValueError)"),
        (b'{"schemaVersion": 2, "manifests": [{"size": -' + b"9" * 4301 + b"}]}", "not valid JSON"),
    ],
)
def test_parse_rejects_numbers_python_cannot_read(data: bytes, fragment: str) -> None:
    _rejects(data, fragment)


@pytest.mark.parametrize(
    ("media_type", "shown"),
    [
        ("a\nb", "unsupported manifest media type 'a\\nb'"),
        ("a\u2028b", "unsupported manifest media type 'a\\u2028b'"),
        ("\x1b[2Jx", "unsupported manifest media type '\\x1b[2Jx'"),
        (" padded ", "unsupported manifest media type ' padded '"),
        ("x" * 5000, "unsupported manifest media type '" + "x" * 100 + "'…"),
    ],
)
def test_registry_media_types_are_escaped_in_messages(media_type: str, shown: str) -> None:
    message = _rejects(_dump(_index_doc(mediaType=media_type)), shown)
    assert message.isprintable() and message == shown


def test_registry_content_type_is_escaped_in_messages() -> None:
    message = _rejects(_dump(_index_doc()), "Content-Type '\\x1b[2j\\x9b31m'", "\x1b[2J\x9b31m")
    assert message.isprintable()
    assert message.startswith(f"manifest says mediaType {mt.OCI_INDEX} but the registry sent")


def test_descriptor_values_are_escaped_and_cut_in_messages() -> None:
    doc = _index_doc()
    doc["manifests"][0]["digest"] = "sha256:\u2028" + "a" * 500
    message = _rejects(_dump(doc), "manifests[0]: descriptor digest 'sha256:\\u2028aaa")
    assert message.isprintable() and len(message) < 200
    doc["manifests"][0].update(digest=DA, size=[1, 2])
    _rejects(_dump(doc), "descriptor size a JSON array is not a non-negative integer")


def test_schema_version_is_shown_as_a_value() -> None:
    _rejects(_dump(_index_doc(schemaVersion="2")), "unsupported manifest (schemaVersion '2')")
    _rejects(_dump(_index_doc(schemaVersion={"a": 1})), "(schemaVersion a JSON object)")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (DA, True),
        ("sha512:" + "ab" * 64, True),
        ("sha256:" + "A" * 64, False),
        ("sha256:" + "a" * 63, False),
        (DA + "\n", False),
        ("nope", False),
        (None, False),
        (5, False),
    ],
)
def test_is_descriptor_digest(value: object, valid: bool) -> None:
    assert is_descriptor_digest(value) is valid


def test_parse_index_keeps_artifact_type_and_subject() -> None:
    """OCI 1.1 referrers and artifact indexes: fields that change what the index means."""
    doc = _index_doc(artifactType="application/vnd.example.sbom")
    doc["subject"] = {"mediaType": mt.OCI_MANIFEST, "digest": DC, "size": 7}
    doc["manifests"][0]["artifactType"] = "application/vnd.example.part"
    parsed = parse_manifest(_dump(doc), mt.OCI_INDEX)
    assert isinstance(parsed, Index)
    assert parsed.artifact_type == "application/vnd.example.sbom"
    assert parsed.subject == Descriptor(mt.OCI_MANIFEST, DC, 7)
    assert parsed.manifests[0].artifact_type == "application/vnd.example.part"
    rendered = json.loads(render_index(mt.OCI_INDEX, parsed.manifests))
    assert rendered["manifests"][0]["artifactType"] == "application/vnd.example.part"
    docker = json.loads(render_index(mt.DOCKER_LIST, parsed.manifests))
    assert "artifactType" not in docker["manifests"][0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"artifactType": 5}, "index: artifactType 5 is not a media type"),
        ({"artifactType": ""}, "index: artifactType '' is not a media type"),
        ({"subject": "sha256:x"}, "subject: descriptor is not an object"),
        ({"subject": {"mediaType": mt.OCI_MANIFEST, "size": 1}}, "subject: descriptor digest"),
    ],
)
def test_parse_index_rejects_malformed_artifact_type_and_subject(
    extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(_dump(_index_doc(**extra)), mt.OCI_INDEX)


# --- attestations, string maps, the untag placeholder ------------------------------------------


def test_is_attestation() -> None:
    assert is_attestation({"vnd.docker.reference.type": "attestation-manifest"})
    assert is_attestation(
        {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": DA}
    )
    assert not is_attestation({})
    assert not is_attestation({"vnd.docker.reference.type": "sbom"})


def _fail(where: str, expected: str, got: object) -> ValueError:
    return ValueError(f"{where}: expected {expected}, got {got!r}")


def test_str_map_accepts_strings_and_copies() -> None:
    value = {"a": "1"}
    out = str_map(value, "x", _fail)
    assert out == value and out is not value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "x: expected an object, got []"),
        (None, "x: expected an object, got None"),
        ({"k": 1}, "x['k']: expected a string, got 1"),
    ],
)
def test_str_map_errors_are_the_callers(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        str_map(value, "x", _fail)
    assert str(info.value) == message


def test_manifest_annotations_of_the_wrong_kind_are_refused() -> None:
    doc = _index_doc()
    doc["annotations"] = {"k": 1}
    with pytest.raises(ManifestError, match=r"^index: annotations must map strings to strings$"):
        parse_manifest(_dump(doc), mt.OCI_INDEX)


def test_render_placeholder_exact_bytes() -> None:
    """The bytes mplat has always written for the untag trick (indent 2, no final newline)."""
    empty = "sha256:" + "4" * 64
    expected = (
        "{\n"
        '  "schemaVersion": 2,\n'
        '  "mediaType": "application/vnd.oci.image.manifest.v1+json",\n'
        '  "config": {\n'
        '    "mediaType": "application/vnd.oci.empty.v1+json",\n'
        f'    "digest": "{empty}",\n'
        '    "size": 2\n'
        "  },\n"
        '  "layers": [],\n'
        '  "annotations": {\n'
        '    "dev.mplat.untag": "abababababababababababababababab"\n'
        "  }\n"
        "}"
    ).encode()
    assert render_placeholder(empty, 2, "ab" * 16) == expected
    parsed = parse_manifest(expected, mt.OCI_MANIFEST)
    assert isinstance(parsed, ImageManifest) and parsed.layers == ()
