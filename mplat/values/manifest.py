"""Manifests as values: parsing what registries send and rendering what mplat writes.

Digests (mplat.values.digest) are always computed over the exact bytes received or sent;
parsed JSON is never re-serialised for hashing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mplat.values import mediatypes as mt
from mplat.values.digest import GENERIC_RE, is_descriptor_digest
from mplat.values.errors import MplatError
from mplat.values.platform import Platform, PlatformError
from mplat.values.text import brief, shown, shown_value

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""distribution refuses larger manifest bodies; mplat refuses to read larger ones too."""


class ManifestError(MplatError, ValueError):
    """Content that is not a manifest mplat can trust; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A content descriptor: what one entry of an index, or a config/layer, points at."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None  # OCI 1.1: what an artifact entry is, beside mediaType

    def to_json(self, *, oci: bool) -> dict[str, Any]:
        """Render with a fixed key order so that the bytes (and so the digest) are stable."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if not oci:
            # Docker lists order size before digest; docker and distribution both do.
            out = {"mediaType": self.media_type, "size": self.size, "digest": self.digest}
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if oci and self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if oci and self.urls:
            out["urls"] = list(self.urls)
        if oci and self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        return out

    def identity(self) -> dict[str, Any]:
        """The fields that decide whether two entries mean the same thing."""
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
            "platform": self.platform.to_json() if self.platform else None,
            "annotations": dict(sorted(self.annotations.items())),
            "artifactType": self.artifact_type,
        }


@dataclass(frozen=True, slots=True)
class Index:
    """A Docker manifest list or an OCI image index.

    ``artifact_type`` and ``subject`` (OCI 1.1) make an index an artifact or a referrer of
    another manifest: peers write such indexes, and they mean something else than a plain list.
    """

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    subject: Descriptor | None = None


@dataclass(frozen=True, slots=True)
class ImageManifest:
    """A single-platform image manifest: the only part mplat needs is what it references."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]

    def blobs(self) -> tuple[Descriptor, ...]:
        return (self.config, *self.layers)


Manifest = Index | ImageManifest


ATTESTATION_REFERENCE_TYPE = "vnd.docker.reference.type"
"""BuildKit marks an index entry that is an attestation (not a platform) with this annotation."""
ATTESTATION_MANIFEST = "attestation-manifest"
ATTESTATION_REFERENCE_DIGEST = "vnd.docker.reference.digest"
"""On an attestation entry: the digest of the platform entry it attests."""


def is_attestation(annotations: Mapping[str, str]) -> bool:
    """Whether an entry with these annotations is a BuildKit attestation, not a platform."""
    return annotations.get(ATTESTATION_REFERENCE_TYPE) == ATTESTATION_MANIFEST


def str_map(
    value: object, where: str, bad: Callable[[str, str, object], Exception]
) -> dict[str, str]:
    """``value`` as a JSON object of strings; ``bad(where, expected, got)`` builds the error.

    Shared by manifests and plan files, which word their errors differently.
    """
    if not isinstance(value, dict):
        raise bad(where, "an object", value)
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise bad(f"{where}[{brief(k)}]", "a string", v)
    return dict(value)


def _annotations(value: object, where: str) -> dict[str, str]:
    """Manifest annotations: absent is empty; anything else must map strings to strings."""
    if value is None:
        return {}
    error = ManifestError(f"{where}: annotations must map strings to strings")
    return str_map(value, where, lambda *_: error)


def parse_descriptor(obj: object, where: str) -> Descriptor:
    """Validate a descriptor strictly: registries accept malformed ones, pullers then break."""
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: descriptor is not an object")
    media_type = obj.get("mediaType")
    digest = obj.get("digest")
    size = obj.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestError(f"{where}: descriptor has no mediaType")
    if not isinstance(digest, str) or not GENERIC_RE.fullmatch(digest):
        shown = shown_value(digest)
        raise ManifestError(f"{where}: descriptor digest {shown} is not a valid digest")
    if not is_descriptor_digest(digest):
        shown = shown_value(digest)
        raise ManifestError(f"{where}: descriptor digest {shown} is not a valid sha256 digest")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        shown = shown_value(size)
        raise ManifestError(f"{where}: descriptor size {shown} is not a non-negative integer")
    platform = None
    if obj.get("platform") is not None:
        try:
            platform = Platform.from_json(obj["platform"])
        except PlatformError as exc:
            raise ManifestError(f"{where}: {exc}") from None
    urls = obj.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise ManifestError(f"{where}: urls must be a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform,
        annotations=_annotations(obj.get("annotations"), where),
        urls=tuple(urls),
        artifact_type=_artifact_type(obj.get("artifactType"), where),
    )


def _artifact_type(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where}: artifactType {shown_value(value)} is not a media type")
    return value


def parse_manifest(data: bytes, content_type: str | None = None) -> Manifest:
    """Parse manifest bytes, refusing anything oversized, ambiguous or malformed.

    ``content_type`` is the registry's Content-Type; when the body names its own
    ``mediaType`` the two must agree (the distribution spec requires it, and a registry that
    disagrees with itself is not to be trusted).
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad JSON and integers past Python's 4300-digit limit.
        raise ManifestError(f"manifest is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(obj, dict):
        raise ManifestError("manifest is not a JSON object")
    header_type = mt.base_type(content_type)
    body_type = obj.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise ManifestError("manifest mediaType is not a string")
    if body_type and header_type and body_type != header_type:
        raise ManifestError(
            f"manifest says mediaType {shown(body_type)} but the registry sent Content-Type "
            f"{shown(header_type)}"
        )
    media_type = body_type or header_type
    if not media_type:
        media_type = mt.OCI_INDEX if "manifests" in obj else mt.OCI_MANIFEST
    if obj.get("schemaVersion") != 2:
        version = shown_value(obj.get("schemaVersion"))
        raise ManifestError(f"unsupported manifest (schemaVersion {version})")
    if media_type in mt.INDEX_TYPES:
        entries = obj.get("manifests")
        if not isinstance(entries, list):
            raise ManifestError("index has no manifests array")
        return Index(
            media_type=media_type,
            manifests=tuple(parse_descriptor(e, f"manifests[{i}]") for i, e in enumerate(entries)),
            annotations=_annotations(obj.get("annotations"), "index"),
            artifact_type=_artifact_type(obj.get("artifactType"), "index"),
            subject=(
                parse_descriptor(obj["subject"], "subject")
                if obj.get("subject") is not None
                else None
            ),
        )
    if media_type in mt.IMAGE_TYPES:
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise ManifestError("image manifest has no layers array")
        return ImageManifest(
            media_type=media_type,
            config=parse_descriptor(obj.get("config"), "config"),
            layers=tuple(parse_descriptor(e, f"layers[{i}]") for i, e in enumerate(layers)),
        )
    raise ManifestError(f"unsupported manifest media type {shown(media_type)}")


def render_index(
    media_type: str,
    manifests: tuple[Descriptor, ...] | list[Descriptor],
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """Render a list or index deterministically: same input, same bytes, same digest.

    Docker lists carry no annotations (they are OCI-only per image-spec's compatibility
    matrix), so a Docker list with annotations is a programming error here.
    """
    oci = media_type == mt.OCI_INDEX
    if media_type not in mt.INDEX_TYPES:
        raise ValueError(f"not an index media type: {media_type}")
    if annotations and not oci:
        raise ValueError("Docker manifest lists cannot carry annotations")
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [d.to_json(oci=oci) for d in manifests],
    }
    if annotations:
        doc["annotations"] = dict(sorted(annotations.items()))
    # UTF-8 rather than \u escapes: the bytes are mplat's own and only need to be stable.
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


UNTAG_ANNOTATION = "dev.mplat.untag"
"""Makes each placeholder manifest of the untag trick unique (mplat.engine.delete)."""


def render_placeholder(empty_digest: str, empty_size: int, token: str) -> bytes:
    """The tiny OCI image manifest a tag is moved to before it is deleted by digest.

    ``token`` makes it unique, so deleting it by digest removes no other tag. The layout
    (indent=2, ASCII escapes, no trailing newline) is what mplat has always written.
    """
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": empty_digest, "size": empty_size},
        "layers": [],
        "annotations": {UNTAG_ANNOTATION: token},
    }
    return json.dumps(doc, indent=2).encode()
