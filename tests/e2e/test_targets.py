"""One list published to several repositories in two real registries (``repository:`` list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mplat.values import mediatypes as mt
from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import blob_exists, get_manifest, seed_image


def test_one_list_in_two_registries_with_a_docker_copy(
    registry: RegistryServer, make_registry: Any, repo: str, tmp_path: Path
) -> None:
    other: RegistryServer = make_registry()
    a, b = registry.address, other.address
    images = [
        seed_image(registry.url, repo, arch, os="linux", architecture=arch, layers=2)
        for arch in ("amd64", "arm64")
    ]
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository:
      - {a}/{repo}
      - {b}/acme/app
      - {{name: {b}/acme/app-docker, format: docker}}
    tags: [v1, latest]
    manifests:
      - image: {a}/{repo}:amd64
      - image: {a}/{repo}:arm64
""",
    )
    plan = run_cli("plan", "-f", str(cfg), "--json")
    assert plan.code == 0, plan.err
    after = {
        (c["repository"], c["tag"]): (c["after"]["mediaType"], c["after"]["digest"])
        for c in json.loads(plan.out)["changes"]
    }
    assert len(after) == 6 and {c for c in after.values()} == {
        (mt.OCI_INDEX, after[(f"{a}/{repo}", "v1")][1]),
        (mt.DOCKER_LIST, after[(f"{b}/acme/app-docker", "v1")][1]),
    }, "the same bytes, so the same digest, wherever the format is the same"

    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    # The sources' repository needs nothing copied; the other registry gets every child.
    assert applied.err.count(f"{a}/{repo}: copied child") == 0
    assert applied.err.count(f"{b}/acme/app: copied child") == 2
    assert applied.err.count(f"{b}/acme/app-docker: copied child") == 2

    # Through each registry's own API: same OCI bytes in both, children and blobs present.
    here = get_manifest(registry.url, repo, "v1")
    there = get_manifest(other.url, "acme/app", "latest")
    docker = get_manifest(other.url, "acme/app-docker", "v1")
    assert here is not None and there is not None and docker is not None
    assert here == there
    assert docker[1] == mt.DOCKER_LIST
    oci_index, docker_list = json.loads(here[0]), json.loads(docker[0])
    children = [m["digest"] for m in oci_index["manifests"]]
    assert children == [m["digest"] for m in docker_list["manifests"]] == [i.digest for i in images]
    marker = oci_index["annotations"]["dev.mplat.tags"].split(" ")
    assert sorted(marker) == sorted(
        f"{r}:{t}" for r in (f"{a}/{repo}", f"{b}/acme/app") for t in ("v1", "latest")
    )
    for path in ("acme/app", "acme/app-docker"):
        for image in images:
            child = get_manifest(other.url, path, image.digest)
            assert child is not None
            manifest = json.loads(child[0])
            for blob in (manifest["config"], *manifest["layers"]):
                assert blob_exists(other.url, path, blob["digest"])

    again = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert again.code == 0, again.out + again.err


def test_optional_entries_and_required_platforms(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    for arch in ("amd64", "arm64"):
        seed_image(registry.url, repo, arch, os="linux", architecture=arch)
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
defaults:
  require_platforms: [linux/amd64]
lists:
  - repository: {addr}/{repo}
    tags: [v1]
    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:arm64
      - image: {addr}/{repo}:riscv64
        optional: true
  - repository: {addr}/{repo}
    tags: [strict]
    require_platforms: [linux/amd64, linux/riscv64]
    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:riscv64
        optional: true
""",
    )
    plan = run_cli("plan", "-f", str(cfg), "--json")
    assert plan.code == 1, plan.err
    doc = json.loads(plan.out)
    assert [(c["tag"], c["action"]) for c in doc["changes"]] == [("v1", "create")]
    assert doc["warnings"] == [
        f"{cfg}:10:9: optional entry skipped: source image {addr}/{repo}:riscv64 not found"
    ]
    (error,) = doc["errors"]
    assert error["message"] == (
        f"{cfg}:14:24: require_platforms: the list would lack linux/riscv64 (it has "
        f"linux/amd64); skipped: {addr}/{repo}:riscv64 is missing"
    )
    text = run_cli("plan", "-f", str(cfg))
    assert "optional entry skipped" in text.out + text.err

    # The skipped platform is built later: the next plan takes it in and both lists plan.
    seed_image(registry.url, repo, "riscv64", os="linux", architecture="riscv64")
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    for tag, count in (("v1", 3), ("strict", 2)):
        got = get_manifest(registry.url, repo, tag)
        assert got is not None
        assert len(json.loads(got[0])["manifests"]) == count
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0
