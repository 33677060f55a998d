"""Sources anywhere (issue 4): other repositories, other registries, index sources, repair.

Everything runs against real docker-registry processes; after each apply the registry API
itself is asked whether every child and blob is in the target repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from mplat.values import mediatypes as mt
from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import (
    SeededImage,
    blob_exists,
    get_manifest,
    head_manifest,
    push_index,
    seed_image,
)


def assert_complete(registry: RegistryServer, repo: str, tag: str) -> dict[str, Any]:
    """The tag's list, after checking every child manifest and blob is in ``repo``."""
    got = get_manifest(registry.url, repo, tag)
    assert got is not None, f"{repo}:{tag} is missing"
    index = json.loads(got[0])
    for entry in index["manifests"]:
        child = get_manifest(registry.url, repo, entry["digest"])
        assert child is not None, f"child {entry['digest']} missing from {repo}"
        manifest = json.loads(child[0])
        for blob in [manifest["config"], *manifest["layers"]]:
            assert blob_exists(registry.url, repo, blob["digest"]), f"blob missing from {repo}"
    return index


def config_for(target: str, tag: str, entries: str, fmt: str = "oci") -> str:
    return f"""\
version: 1
lists:
  - repository: {target}
    tags: [{tag}]
    format: {fmt}
    manifests:
{entries}"""


def test_same_registry_sources_are_mounted(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    src = f"{repo}-staging"
    amd = seed_image(registry.url, src, "amd64", os="linux", architecture="amd64")
    arm = seed_image(registry.url, src, "arm64", os="linux", architecture="arm64", variant="v8")
    addr = registry.address
    cfg = write_config(
        tmp_path,
        config_for(
            f"{addr}/{repo}",
            "v1",
            f"      - image: {addr}/{src}:amd64\n      - image: {addr}/{src}:arm64\n",
        ),
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert plan.code == 0, plan.out
    assert f"Into {addr}/{repo}: 2 manifest(s) to copy; blobs: 4 to mount" in plan.out
    assert "0 to copy" in plan.out
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    index = assert_complete(registry, repo, "v1")
    assert [m["digest"] for m in index["manifests"]] == [amd.digest, arm.digest]
    # Sources are untouched and a second plan is clean.
    assert head_manifest(registry.url, src, "amd64") is not None
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_cross_registry_copy_streams_blobs(
    registry: RegistryServer, make_registry: Any, repo: str, tmp_path: Path
) -> None:
    other = make_registry()
    big = 12 * 1024 * 1024
    amd = seed_image(other.url, "staging/app", "amd64", os="linux", architecture="amd64",
                     layer_size=big, layers=2, salt=repo)  # fmt: skip
    arm = seed_image(other.url, "staging/app", "arm64", os="linux", architecture="arm64",
                     layer_size=big, salt=repo)  # fmt: skip
    cfg = write_config(
        tmp_path,
        config_for(
            f"{registry.address}/{repo}",
            "v1",
            f"      - image: {other.address}/staging/app:amd64\n"
            f"      - image: {other.address}/staging/app:arm64\n",
        ),
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert "blobs: 0 to mount (0 B), 5 to copy" in plan.out, plan.out

    # The apply runs in a fresh interpreter so that tracemalloc sees mplat alone, not the
    # threads other tests of the session left behind.
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED_APPLY, str(cfg)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MPLAT_CACHE_DIR": str(tmp_path / "cache")},
    )
    peak = int(proc.stdout.split()[-1])
    # 36 MiB of layers went through; memory must not hold them, nor even one of them, whole.
    assert peak < big * 0.75, f"peak traced memory {peak} bytes"
    index = assert_complete(registry, repo, "v1")
    assert [m["digest"] for m in index["manifests"]] == [amd.digest, arm.digest]
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


MEASURED_APPLY = """
import asyncio, sys, tracemalloc
from mplat.engine.apply import Applier
from mplat.config.loader import load_config
from mplat.engine.planner import build_plan
from mplat.registry.pool import ConnectionSettings, RegistryPool

async def apply() -> None:
    config = load_config(sys.argv[1])
    pool = RegistryPool(settings_for=lambda r: ConnectionSettings(), credential_for=lambda *_: None)
    try:
        result = await Applier(pool).apply(await build_plan(config.lists, pool))
        assert not result.failed, result.failed
    finally:
        await pool.aclose()

tracemalloc.start()
asyncio.run(apply())
print(tracemalloc.get_traced_memory()[1])
"""


def seed_buildx_like_index(registry: RegistryServer, repo: str) -> dict[str, Any]:
    """An OCI index with three platforms and an attestation entry per platform."""
    images = {
        "linux/amd64": seed_image(
            registry.url, repo, None, os="linux", architecture="amd64", oci=True
        ),
        "linux/arm64/v8": seed_image(
            registry.url, repo, None, os="linux", architecture="arm64", variant="v8", oci=True
        ),
        "linux/arm/v7": seed_image(
            registry.url, repo, None, os="linux", architecture="arm", variant="v7", oci=True
        ),
    }
    attestations: list[dict[str, Any]] = []
    for n, image in enumerate(images.values()):
        att = seed_image(registry.url, repo, None, os="unknown", architecture="unknown",
                         oci=True, salt=f"att{n}")  # fmt: skip
        attestations.append(
            {
                "mediaType": att.media_type,
                "digest": att.digest,
                "size": att.size,
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": image.digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )

    def platform(key: str) -> dict[str, str]:
        os_, arch, *variant = key.split("/")
        out = {"architecture": arch, "os": os_}
        if variant:
            out["variant"] = variant[0]
        return out

    index = push_index(
        registry.url,
        repo,
        "multi",
        [(img, platform(k)) for k, img in images.items()],
        extra_entries=attestations,
    )
    return {"images": images, "attestations": attestations, "index": index}


def test_index_source_flattened_without_attestations(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    src = f"{repo}-base"
    seeded = seed_buildx_like_index(registry, src)
    addr = registry.address
    cfg = write_config(
        tmp_path, config_for(f"{addr}/{repo}", "v1", f"      - image: {addr}/{src}:multi\n")
    )
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    index = assert_complete(registry, repo, "v1")
    images: dict[str, SeededImage] = seeded["images"]
    assert [m["digest"] for m in index["manifests"]] == [i.digest for i in images.values()]
    assert all(m["platform"]["os"] == "linux" for m in index["manifests"])


def test_index_source_with_platforms_and_attestations(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    src = f"{repo}-base"
    seeded = seed_buildx_like_index(registry, src)
    addr = registry.address
    cfg = write_config(
        tmp_path,
        config_for(
            f"{addr}/{repo}",
            "v1",
            f"      - image: {addr}/{src}:multi\n"
            "        platforms: [linux/arm64, linux/amd64]\n"
            "        attestations: true\n",
        ),
    )
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    index = assert_complete(registry, repo, "v1")
    images: dict[str, SeededImage] = seeded["images"]
    digests = [m["digest"] for m in index["manifests"]]
    # The requested platforms in the requested order (arm64 matched the arm64/v8 entry) ...
    assert digests[:2] == [images["linux/arm64/v8"].digest, images["linux/amd64"].digest]
    # ... then their attestations, still pointing at their subjects; arm/v7's is left out.
    refs = [m["annotations"]["vnd.docker.reference.digest"] for m in index["manifests"][2:]]
    assert sorted(refs) == sorted(digests[:2])
    assert all(
        m["platform"] == {"architecture": "unknown", "os": "unknown"}
        for m in index["manifests"][2:]
    )


def test_platform_missing_from_index_source(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_buildx_like_index(registry, repo)
    addr = registry.address
    cfg = write_config(
        tmp_path,
        config_for(
            f"{addr}/{repo}",
            "v1",
            f"      - image: {addr}/{repo}:multi\n        platforms: [linux/s390x]\n",
        ),
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert plan.code == 1
    assert "has no linux/s390x entry" in plan.out
    assert "linux/amd64" in plan.out and "linux/arm/v7" in plan.out  # says what it has


def test_deleted_child_is_planned_as_repair(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    src = f"{repo}-staging"
    amd = seed_image(registry.url, src, "amd64", os="linux", architecture="amd64")
    seed_image(registry.url, src, "arm64", os="linux", architecture="arm64")
    addr = registry.address
    cfg = write_config(
        tmp_path,
        config_for(
            f"{addr}/{repo}",
            "v1",
            f"      - image: {addr}/{src}:amd64\n      - image: {addr}/{src}:arm64\n",
        ),
    )
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    listed = head_manifest(registry.url, repo, "v1")
    # A cleanup job deletes an "untagged" child from the target repository.
    resp = httpx.delete(f"{registry.url}/v2/{repo}/manifests/{amd.digest}")
    assert resp.status_code == 202
    assert get_manifest(registry.url, repo, amd.digest) is None

    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 2
    assert f"{addr}/{repo}:v1 will be repaired" in plan.out
    assert "Plan: 0 to create, 0 to update, 1 to repair, 0 to delete." in plan.out
    doc = json.loads(run_cli("plan", "-f", str(cfg), "--json").out)
    assert doc["changes"][0]["action"] == "repair"
    assert doc["changes"][0]["copies"][0]["digest"] == amd.digest

    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    assert_complete(registry, repo, "v1")
    assert head_manifest(registry.url, repo, "v1") == listed  # the list itself was not rewritten
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_docker_list_from_index_children_keeps_media_types(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    amd = seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    addr = registry.address
    cfg = write_config(
        tmp_path,
        config_for(f"{addr}/{repo}", "v1", f"      - image: {addr}/{repo}:amd64\n", fmt="docker"),
    )
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    got = get_manifest(registry.url, repo, "v1")
    assert got is not None
    assert got[1] == mt.DOCKER_LIST
    assert json.loads(got[0])["manifests"][0]["mediaType"] == amd.media_type


def test_refused_mount_falls_back_to_upload(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    from tests.support.faultproxy import FaultProxy

    src = f"{repo}-staging"
    seed_image(registry.url, src, "amd64", os="linux", architecture="amd64", salt=repo)
    seed_image(registry.url, src, "arm64", os="linux", architecture="arm64", salt=repo)
    with FaultProxy(registry.address, refuse_mounts=True) as proxy:
        addr = proxy.address
        cfg = write_config(
            tmp_path,
            config_for(
                f"{addr}/{repo}",
                "v1",
                f"      - image: {addr}/{src}:amd64\n      - image: {addr}/{src}:arm64\n",
            ),
        )
        plan = run_cli("plan", "-f", str(cfg))
        assert "blobs: 4 to mount" in plan.out  # the plan cannot know the mount will be refused
        applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
        assert applied.code == 0, applied.out + applied.err
        assert proxy.mounts_refused == 4
    index = assert_complete(registry, repo, "v1")
    assert len(index["manifests"]) == 2
