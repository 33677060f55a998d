"""Push the demo's three single-platform helloworld images into a plain-HTTP registry.

The images of examples/manifests.yaml: linux/amd64 ``alpine``, and Windows nanoserver images
for Server 2016 (``nanoserver``, os.version 10.0.14393.2068) and 1709 (``nanoserver-1709``,
10.0.16299.248). Each is a Docker v2 image manifest over a tiny real layer. Standard library
only, so it runs with any Python >= 3.11 and depends on neither mplat nor its tests.

    python scripts/seed_demo.py --registry 127.0.0.1:5000 [--repository acme/helloworld]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Image:
    tag: str
    os: str
    architecture: str
    os_version: str | None = None


IMAGES = (
    Image("alpine", "linux", "amd64"),
    Image("nanoserver", "windows", "amd64", "10.0.14393.2068"),
    Image("nanoserver-1709", "windows", "amd64", "10.0.16299.248"),
)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(text: str) -> bytes:
    """A one-file tar with fixed metadata, so the same image gives the same digest every run."""
    payload = text.encode()
    info = tarfile.TarInfo("hello.txt")
    info.size, info.mtime, info.mode = len(payload), 0, 0o644
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


class Registry:
    """Just enough of the distribution API: monolithic blob upload and manifest PUT."""

    def __init__(self, base_url: str, repository: str) -> None:
        self.base = base_url.rstrip("/")
        self.repository = repository

    def _send(self, method: str, url: str, body: bytes = b"", content_type: str = "") -> str:
        request = urllib.request.Request(url, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=30) as resp:
            return str(resp.headers.get("Location", ""))

    def blob(self, data: bytes) -> str:
        digest = digest_of(data)
        start = f"{self.base}/v2/{self.repository}/blobs/uploads/"
        location = urllib.parse.urljoin(start, self._send("POST", start))
        sep = "&" if "?" in location else "?"  # the session URL carries state: append only
        self._send("PUT", f"{location}{sep}digest={digest}", data, "application/octet-stream")
        return digest

    def manifest(self, tag: str, body: bytes, media_type: str) -> None:
        self._send("PUT", f"{self.base}/v2/{self.repository}/manifests/{tag}", body, media_type)


def push(registry: Registry, image: Image) -> str:
    """Push layer, config and manifest; returns the manifest digest."""
    platform = f"{image.os}/{image.architecture} {image.os_version or ''}".strip()
    tar = layer_tar(f"hello from {platform}\n")
    layer = gzip.compress(tar, mtime=0)
    config: dict[str, object] = {"architecture": image.architecture, "os": image.os}
    if image.os_version:
        config["os.version"] = image.os_version
    config["rootfs"] = {"type": "layers", "diff_ids": [digest_of(tar)]}
    config_bytes = json.dumps(config, separators=(",", ":")).encode()

    def descriptor(media_type: str, data: bytes) -> dict[str, object]:
        return {"mediaType": media_type, "size": len(data), "digest": registry.blob(data)}

    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(DOCKER_CONFIG, config_bytes),
        "layers": [descriptor(DOCKER_LAYER, layer)],
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    registry.manifest(image.tag, body, DOCKER_MANIFEST)
    return digest_of(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", required=True, help="host:port of a plain-HTTP registry")
    parser.add_argument("--repository", default="acme/helloworld")
    args = parser.parse_args(argv)
    registry = Registry(f"http://{args.registry}", args.repository)
    try:
        for image in IMAGES:
            digest = push(registry, image)
            print(f"{args.registry}/{args.repository}:{image.tag}  {digest}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        print(f"seeding failed: {exc.url} -> {exc.code} {exc.reason}: {detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"seeding failed: cannot reach {args.registry}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
