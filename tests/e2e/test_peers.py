"""Peers' lists and ownership (issue 10), against the real registry and a real skopeo.

Other tools copy mplat's lists byte for byte, write Docker lists themselves, and push OCI
1.1 referrers; none of that may be deleted by prune or hidden by the comparison.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mplat.values import mediatypes as mt
from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import get_manifest, head_manifest, push_index, put_manifest, seed_image

SKOPEO_MISSING = (
    "skopeo not found: the peers tests copy lists with the real skopeo; "
    "install it with `apt-get install -y skopeo`"
)


def skopeo() -> str:
    found = shutil.which("skopeo")
    if found is None:
        pytest.fail(SKOPEO_MISSING, pytrace=False)
    return found


def two_images(registry: RegistryServer, repo: str) -> None:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    seed_image(registry.url, repo, "arm64", os="linux", architecture="arm64")


def config(addr: str, repo: str, tags: str, extra: str = "") -> str:
    return f"""\
version: 1
lists:
  - repository: {addr}/{repo}
    tags: {tags}
{extra}    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:arm64
"""


def plan_json(cfg: Path) -> dict[str, Any]:
    run = run_cli("plan", "-f", str(cfg), "--json")
    assert run.code == 0, run.out + run.err
    return json.loads(run.out)  # type: ignore[no-any-return]


def deletes(doc: dict[str, Any]) -> list[str]:
    return sorted(c["tag"] for c in doc["changes"] if c["action"] == "delete")


def body(registry: RegistryServer, repo: str, tag: str) -> dict[str, Any]:
    got = get_manifest(registry.url, repo, tag)
    assert got is not None
    return json.loads(got[0])  # type: ignore[no-any-return]


def put_json(registry: RegistryServer, repo: str, tag: str, doc: dict[str, Any]) -> str:
    data = (json.dumps(doc, indent=3) + "\n").encode()
    return put_manifest(registry.url, repo, tag, data, str(doc["mediaType"]))


def test_prune_spares_a_list_skopeo_copied_to_another_tag(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, config(addr, repo, "[a, gone]"))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    copied = subprocess.run(
        [
            skopeo(),
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{addr}/{repo}:a",
            f"docker://{addr}/{repo}:copied",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    a = head_manifest(registry.url, repo, "a")
    assert head_manifest(registry.url, repo, "copied") == a  # same bytes, same marker

    cfg.write_text(config(addr, repo, "[a]", "    prune: true\n"))
    assert deletes(plan_json(cfg)) == ["gone"]  # mplat wrote gone: still pruned
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert head_manifest(registry.url, repo, "gone") is None
    assert head_manifest(registry.url, repo, "copied") == a
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_lists_with_the_old_marker_stay_in_sync_and_are_not_pruned(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    """What an older mplat wrote (plain marker) is not rewritten, and no longer proves ownership."""
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, config(addr, repo, "[fresh]"))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    old = body(registry, repo, "fresh")
    old["annotations"] = {"dev.mplat.managed-by": "mplat"}
    put_json(registry, repo, "kept", old)
    put_json(registry, repo, "old", old)
    kept = head_manifest(registry.url, repo, "kept")

    cfg.write_text(config(addr, repo, "[fresh, kept]", "    prune: true\n"))
    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err  # kept: in sync; old: not proven mplat's
    assert "not pruned: old" in plan.err and "state: absent" in plan.err
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    assert head_manifest(registry.url, repo, "kept") == kept  # not rewritten
    assert head_manifest(registry.url, repo, "old") is not None


def test_docker_format_from_annotated_index_is_in_sync(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    amd = seed_image(registry.url, repo, None, os="linux", architecture="amd64")
    arm = seed_image(registry.url, repo, None, os="linux", architecture="arm64")
    entries = [
        {
            "mediaType": img.media_type,
            "size": img.size,
            "digest": img.digest,
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {"org.opencontainers.image.ref.name": arch},
        }
        for img, arch in ((amd, "amd64"), (arm, "arm64"))
    ]
    push_index(registry.url, repo, "src", [], extra_entries=entries)
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository: {addr}/{repo}
    tags: [mine, theirs]
    format: docker
    manifests:
      - image: {addr}/{repo}:src
""",
    )
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    written = body(registry, repo, "mine")
    assert written["mediaType"] == mt.DOCKER_LIST
    assert all("annotations" not in m for m in written["manifests"])

    # What `docker manifest push` would write: same entries, its own bytes.
    theirs = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_LIST,
        "manifests": [{k: v for k, v in e.items() if k != "annotations"} for e in entries],
    }
    put_json(registry, repo, "theirs", theirs)
    assert head_manifest(registry.url, repo, "theirs") != head_manifest(registry.url, repo, "mine")

    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    for change in plan_json(cfg)["changes"]:
        live = body(registry, repo, change["tag"])
        before = change["before"]
        assert before["manifests"] == live["manifests"]  # the live list exactly
        assert "annotations" not in before and "annotations" not in change["after"]


def test_peer_referrer_index_is_not_in_sync(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    """A peer turns the tag into an OCI 1.1 referrer: same entries, but subject + artifactType."""
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, config(addr, repo, "[r]"))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    amd = head_manifest(registry.url, repo, "amd64")
    assert amd is not None
    got = get_manifest(registry.url, repo, "amd64")
    assert got is not None
    peer = body(registry, repo, "r")
    peer["artifactType"] = "application/vnd.example.sbom"
    peer["subject"] = {"mediaType": got[1], "digest": amd[0], "size": len(got[0])}
    put_json(registry, repo, "r", peer)  # registry 2.8 stores it as is
    assert body(registry, repo, "r")["subject"]["digest"] == amd[0]

    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    assert f"- subject {amd[0]}" in plan.out
    assert "- artifactType application/vnd.example.sbom" in plan.out
    before = plan_json(cfg)["changes"][0]["before"]
    assert before["subject"]["digest"] == amd[0]
    assert before["artifactType"] == "application/vnd.example.sbom"
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    assert "subject" not in body(registry, repo, "r")
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0
