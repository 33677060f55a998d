"""Seed small but valid images into a registry over its HTTP API (no Docker daemon needed).

Content is derived deterministically from the platform, layer parameters and ``salt`` (never
from the repository or tag), so seeding the same inputs twice yields the same digests and a
different ``salt`` yields different ones. Only ``httpx`` is required, so the README demo can
run ``python -m tests.support.seed --registry 127.0.0.1:5000 helloworld``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import ssl
import sys
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

MANIFEST_ACCEPT: tuple[str, ...] = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)

Auth = tuple[str, str] | httpx.Auth | None
# A CA bundle path is accepted for convenience; httpx itself now wants an SSLContext.
Verify = bool | str | ssl.SSLContext


@dataclass(frozen=True)
class SeededImage:
    """A single-platform image manifest as pushed (exact bytes and digests)."""

    repository: str
    tag: str | None
    digest: str
    size: int
    media_type: str
    manifest: bytes
    config_digest: str
    layer_digests: tuple[str, ...]


@dataclass(frozen=True)
class SeededIndex:
    """A Docker manifest list or OCI index as pushed."""

    repository: str
    tag: str | None
    digest: str
    size: int
    media_type: str
    manifest: bytes
    child_digests: tuple[str, ...]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _deterministic_bytes(seed: str, size: int) -> bytes:
    """Pseudo-random bytes from ``seed``: incompressible-ish, yet reproducible."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}\x00{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _layer_tar(seed: str, size: int) -> bytes:
    """A reproducible tar with one file (fixed metadata, so equal seeds give equal bytes)."""
    payload = _deterministic_bytes(seed, size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name="seed/data.bin")
        info.size = len(payload)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@contextmanager
def _client(base_url: str, auth: Auth, verify: Verify) -> Iterator[httpx.Client]:
    if isinstance(verify, str):
        verify = ssl.create_default_context(cafile=verify)
    with httpx.Client(
        base_url=base_url.rstrip("/"),
        auth=auth,
        verify=verify,
        timeout=30.0,
        follow_redirects=True,
    ) as client:
        yield client


def _raise_for(resp: httpx.Response, what: str) -> None:
    if resp.is_error:
        raise RuntimeError(
            f"{what}: {resp.request.method} {resp.request.url} -> {resp.status_code}: {resp.text}"
        )


def _upload_blob(client: httpx.Client, repository: str, data: bytes) -> str:
    """Monolithic upload (POST session, PUT whole body); skipped when the blob exists."""
    digest = sha256_digest(data)
    head = client.head(f"/v2/{repository}/blobs/{digest}")
    if head.status_code == 200:
        return digest
    start = client.post(f"/v2/{repository}/blobs/uploads/", headers={"Content-Length": "0"})
    _raise_for(start, "start blob upload")
    location = start.headers["Location"]
    # The session URL carries signed state in its query: append, never rebuild.
    sep = "&" if "?" in location else "?"
    put = client.put(
        f"{location}{sep}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    _raise_for(put, "finish blob upload")
    returned = put.headers.get("Docker-Content-Digest")
    if returned is not None and returned != digest:
        raise RuntimeError(f"registry stored blob as {returned}, expected {digest}")
    return digest


def _put_manifest(
    client: httpx.Client, repository: str, ref: str, body: bytes, media_type: str
) -> str:
    digest = sha256_digest(body)
    resp = client.put(
        f"/v2/{repository}/manifests/{ref}", content=body, headers={"Content-Type": media_type}
    )
    _raise_for(resp, "put manifest")
    returned = resp.headers.get("Docker-Content-Digest")
    if returned is not None and returned != digest:
        raise RuntimeError(f"registry reports manifest digest {returned}, expected {digest}")
    return digest


def put_manifest(
    base_url: str,
    repository: str,
    ref: str,
    body: bytes,
    media_type: str,
    *,
    auth: Auth = None,
    verify: Verify = True,
) -> str:
    """PUT exact manifest bytes by tag or digest; returns the sha256 digest of ``body``."""
    with _client(base_url, auth, verify) as client:
        return _put_manifest(client, repository, ref, body, media_type)


def seed_image(
    base_url: str,
    repository: str,
    tag: str | None,
    *,
    os: str,
    architecture: str,
    variant: str | None = None,
    os_version: str | None = None,
    os_features: list[str] | None = None,
    oci: bool = False,
    layer_size: int = 64,
    layers: int = 1,
    salt: str = "",
    auth: Auth = None,
    verify: Verify = True,
) -> SeededImage:
    """Push a config, ``layers`` gzip tar layers and a manifest (by tag, or by digest if None)."""
    if layers < 0 or layer_size < 0:
        raise ValueError("layers and layer_size must be >= 0")
    platform_key = "|".join(
        [os, architecture, variant or "", os_version or "", ",".join(os_features or []), salt]
    )
    layer_blobs: list[bytes] = []
    diff_ids: list[str] = []
    for i in range(layers):
        tar = _layer_tar(f"{platform_key}|layer{i}|{layer_size}", layer_size)
        diff_ids.append(sha256_digest(tar))
        layer_blobs.append(gzip.compress(tar, compresslevel=6, mtime=0))

    config: dict[str, Any] = {"architecture": architecture, "os": os}
    if variant is not None:
        config["variant"] = variant
    if os_version is not None:
        config["os.version"] = os_version
    if os_features is not None:
        config["os.features"] = list(os_features)
    config["config"] = {"Labels": {"org.mplat.test.salt": salt}} if salt else {}
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config_bytes = _canonical_json(config)

    media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    layer_type = OCI_LAYER if oci else DOCKER_LAYER
    manifest_obj = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
            "size": len(config_bytes),
            "digest": sha256_digest(config_bytes),
        },
        "layers": [
            {"mediaType": layer_type, "size": len(b), "digest": sha256_digest(b)}
            for b in layer_blobs
        ],
    }
    manifest = _canonical_json(manifest_obj)
    digest = sha256_digest(manifest)

    with _client(base_url, auth, verify) as client:
        layer_digests = tuple(_upload_blob(client, repository, b) for b in layer_blobs)
        config_digest = _upload_blob(client, repository, config_bytes)
        _put_manifest(client, repository, tag if tag is not None else digest, manifest, media_type)

    return SeededImage(
        repository=repository,
        tag=tag,
        digest=digest,
        size=len(manifest),
        media_type=media_type,
        manifest=manifest,
        config_digest=config_digest,
        layer_digests=layer_digests,
    )


def push_index(
    base_url: str,
    repository: str,
    tag: str | None,
    entries: Sequence[tuple[SeededImage, dict[str, Any]]],
    *,
    oci: bool = True,
    annotations: dict[str, str] | None = None,
    extra_entries: list[dict[str, Any]] | None = None,
    auth: Auth = None,
    verify: Verify = True,
) -> SeededIndex:
    """Push an OCI index (or Docker list) over already-pushed images.

    Deliberately permissive (annotations on a Docker list, raw ``extra_entries`` appended
    verbatim) so tests can build off-spec or drifted lists.
    """
    media_type = OCI_INDEX if oci else DOCKER_LIST
    manifests: list[dict[str, Any]] = [
        {
            "mediaType": image.media_type,
            "size": image.size,
            "digest": image.digest,
            "platform": dict(platform),
        }
        for image, platform in entries
    ]
    manifests.extend(extra_entries or [])
    obj: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "manifests": manifests}
    if annotations is not None:
        obj["annotations"] = dict(annotations)
    body = _canonical_json(obj)
    digest = sha256_digest(body)
    put_manifest(
        base_url,
        repository,
        tag if tag is not None else digest,
        body,
        media_type,
        auth=auth,
        verify=verify,
    )
    return SeededIndex(
        repository=repository,
        tag=tag,
        digest=digest,
        size=len(body),
        media_type=media_type,
        manifest=body,
        child_digests=tuple(str(m["digest"]) for m in manifests),
    )


def _accept_header(accept: Sequence[str] | None) -> str:
    return ", ".join(MANIFEST_ACCEPT if accept is None else accept)


def _media_type(resp: httpx.Response) -> str:
    content_type: str = resp.headers.get("Content-Type", "")
    return content_type.split(";")[0].strip()


def head_manifest(
    base_url: str,
    repository: str,
    ref: str,
    *,
    auth: Auth = None,
    verify: Verify = True,
    accept: Sequence[str] | None = None,
) -> tuple[str, str] | None:
    """``(digest, media_type)`` from HEAD, or None on 404. ``accept`` overrides the 4 types."""
    with _client(base_url, auth, verify) as client:
        resp = client.head(
            f"/v2/{repository}/manifests/{ref}", headers={"Accept": _accept_header(accept)}
        )
    if resp.status_code == 404:
        return None
    _raise_for(resp, "head manifest")
    digest: str = resp.headers["Docker-Content-Digest"]
    return digest, _media_type(resp)


def get_manifest(
    base_url: str,
    repository: str,
    ref: str,
    *,
    auth: Auth = None,
    verify: Verify = True,
    accept: Sequence[str] | None = None,
) -> tuple[bytes, str] | None:
    """``(exact body bytes, media_type)`` from GET, or None on 404."""
    with _client(base_url, auth, verify) as client:
        resp = client.get(
            f"/v2/{repository}/manifests/{ref}", headers={"Accept": _accept_header(accept)}
        )
    if resp.status_code == 404:
        return None
    _raise_for(resp, "get manifest")
    return resp.content, _media_type(resp)


def get_blob(
    base_url: str, repository: str, digest: str, *, auth: Auth = None, verify: Verify = True
) -> bytes | None:
    """Blob bytes, or None on 404."""
    with _client(base_url, auth, verify) as client:
        resp = client.get(f"/v2/{repository}/blobs/{digest}")
    if resp.status_code == 404:
        return None
    _raise_for(resp, "get blob")
    return resp.content


def blob_exists(
    base_url: str, repository: str, digest: str, *, auth: Auth = None, verify: Verify = True
) -> bool:
    with _client(base_url, auth, verify) as client:
        resp = client.head(f"/v2/{repository}/blobs/{digest}")
    if resp.status_code == 404:
        return False
    _raise_for(resp, "head blob")
    return True


def seed_helloworld(
    base_url: str,
    repository: str = "acme/helloworld",
    *,
    auth: Auth = None,
    verify: Verify = True,
) -> dict[str, SeededImage]:
    """The demo scenario: one Linux and two Windows Server (2016, 1709) images, by tag."""
    specs: dict[str, dict[str, Any]] = {
        "alpine": {"os": "linux", "architecture": "amd64"},
        "nanoserver": {"os": "windows", "architecture": "amd64", "os_version": "10.0.14393.2068"},
        "nanoserver-1709": {
            "os": "windows",
            "architecture": "amd64",
            "os_version": "10.0.16299.248",
        },
    }
    return {
        tag: seed_image(base_url, repository, tag, auth=auth, verify=verify, **spec)
        for tag, spec in specs.items()
    }


def _base_url(registry: str) -> str:
    return registry if "://" in registry else f"http://{registry}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.seed", description="Seed demo images into a registry."
    )
    parser.add_argument(
        "--registry", required=True, help="host:port (plain HTTP) or a full http(s):// URL"
    )
    parser.add_argument("--repository", default="acme/helloworld")
    parser.add_argument("scenario", choices=["helloworld"])
    args = parser.parse_args(argv)
    base = _base_url(args.registry)
    host = base.split("://", 1)[1].rstrip("/")
    images = seed_helloworld(base, args.repository)
    for tag, image in images.items():
        print(f"{host}/{image.repository}:{tag}  {image.digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
