"""Media types mplat reads and writes, and the Accept header that keeps registries honest."""

from __future__ import annotations

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({DOCKER_LIST, OCI_INDEX})
IMAGE_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES

# Without all four types registry 2.8 answers 404 for OCI indexes and rewrites Docker lists into
# a schema1 child with another digest; both would make a plan lie. Never send */*.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

FORMATS: dict[str, str] = {"oci": OCI_INDEX, "docker": DOCKER_LIST}


def base_type(content_type: str | None) -> str:
    """Strip parameters from a Content-Type value, as the distribution spec tells clients to."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def is_image(media_type: str) -> bool:
    return media_type in IMAGE_TYPES
