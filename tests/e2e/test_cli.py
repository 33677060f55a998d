"""End to end through the CLI against a real registry: the issue's core scenarios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mplat.engine.census import MIN_TAGS
from mplat.values import mediatypes as mt
from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import (
    get_manifest,
    head_manifest,
    push_index,
    seed_helloworld,
    seed_image,
)


def helloworld_config(addr: str, repo: str, fmt: str = "docker", tags: str = "[latest]") -> str:
    return f"""\
version: 1
lists:
  - repository: {addr}/{repo}
    tags: {tags}
    format: {fmt}
    manifests:
      - image: {addr}/{repo}:alpine
      - image: {addr}/{repo}:nanoserver
      - image: {addr}/{repo}:nanoserver-1709
        platform:
          os: windows
          architecture: amd64
          os.version: 10.0.16299.248
"""


def read_list(registry: RegistryServer, repo: str, tag: str) -> tuple[str, dict]:
    got = get_manifest(registry.url, repo, tag)
    assert got is not None, f"{repo}:{tag} missing"
    body, media_type = got
    return media_type, json.loads(body)


def test_create_then_idempotent(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    images = seed_helloworld(registry.url, repo)
    cfg = write_config(tmp_path, helloworld_config(registry.address, repo, tags="[latest, '1.0']"))

    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 2, plan.err
    assert f"# {registry.address}/{repo}:latest will be created" in plan.out
    assert "Plan: 2 to create, 0 to update, 0 to delete." in plan.out
    assert head_manifest(registry.url, repo, "latest") is None  # plan writes nothing

    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.err
    media_type, doc = read_list(registry, repo, "latest")
    assert media_type == mt.DOCKER_LIST
    assert [m["digest"] for m in doc["manifests"]] == [
        images["alpine"].digest,
        images["nanoserver"].digest,
        images["nanoserver-1709"].digest,
    ]
    assert [m["platform"] for m in doc["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "amd64", "os": "windows", "os.version": "10.0.14393.2068"},
        {"architecture": "amd64", "os": "windows", "os.version": "10.0.16299.248"},
    ]
    assert all(m["size"] == images[t].size for m, t in zip(doc["manifests"], images, strict=True))
    first = head_manifest(registry.url, repo, "latest")
    assert first == head_manifest(registry.url, repo, "1.0")

    again = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert again.code == 0
    assert "No changes. The registry matches the configuration." in again.out
    assert head_manifest(registry.url, repo, "latest") == first
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0
    # A no-op plan with a warm cache costs one HEAD per source and per target tag, nothing more.
    noop = json.loads(run_cli("plan", "-f", str(cfg), "--json").out)
    assert noop["summary"]["no_op"] == 2
    assert noop["requests"] == {"HEAD": 3 + 2}


def test_drift_is_detected_and_repaired(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    images = seed_helloworld(registry.url, repo)
    cfg = write_config(tmp_path, helloworld_config(registry.address, repo))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    desired = head_manifest(registry.url, repo, "latest")
    # Someone pushes another list to the tag: only linux, with a different platform label.
    push_index(
        registry.url,
        repo,
        "latest",
        [(images["alpine"], {"architecture": "amd64", "os": "linux", "variant": "v2"})],
        oci=False,
    )
    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 2
    assert "will be updated in place" in plan.out
    assert "windows/amd64 10.0.14393.2068" in plan.out  # re-added entries are named
    assert "Plan: 0 to create, 1 to update, 0 to delete." in plan.out
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    assert head_manifest(registry.url, repo, "latest") == desired
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_single_image_replaced_by_list(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    seed_helloworld(registry.url, repo)
    seed_image(registry.url, repo, "latest", os="linux", architecture="arm64", salt="old")
    cfg = write_config(tmp_path, helloworld_config(registry.address, repo, fmt="oci"))
    plan = run_cli("plan", "-f", str(cfg))
    assert "replace single image" in plan.out
    assert "1 to update" in plan.out
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    media_type, doc = read_list(registry, repo, "latest")
    assert media_type == mt.OCI_INDEX
    assert len(doc["manifests"]) == 3


def test_oci_format_with_annotations(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64", oci=True)
    seed_image(
        registry.url, repo, "arm64", os="linux", architecture="arm64", variant="v8", oci=True
    )
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
defaults: {{format: oci}}
lists:
  - repository: {registry.address}/{repo}
    tags: [v1]
    annotations: {{org.opencontainers.image.source: "https://example.com/src"}}
    manifests:
      - image: {registry.address}/{repo}:amd64
      - image: {registry.address}/{repo}:arm64
""",
    )
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    media_type, doc = read_list(registry, repo, "v1")
    assert media_type == mt.OCI_INDEX
    assert doc["mediaType"] == mt.OCI_INDEX
    assert doc["annotations"]["org.opencontainers.image.source"] == "https://example.com/src"
    assert doc["manifests"][1]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
    }
    assert all(m["mediaType"] == mt.OCI_MANIFEST for m in doc["manifests"])
    # Changing an annotation is an update that says what changed.
    cfg.write_text(cfg.read_text().replace("example.com/src", "example.com/other"))
    plan = run_cli("plan", "-f", str(cfg))
    assert "~ annotation org.opencontainers.image.source" in plan.out


def test_docker_format_refuses_oci_children(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64", oci=True)
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository: {registry.address}/{repo}
    tags: [v1]
    format: docker
    manifests:
      - image: {registry.address}/{repo}:amd64
""",
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert plan.code == 1
    assert "format docker needs Docker image manifests" in plan.out
    assert head_manifest(registry.url, repo, "v1") is None


def test_mislabelled_platform_is_refused_and_nothing_written(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_image(registry.url, repo, "arm", os="linux", architecture="arm64")
    seed_image(registry.url, repo, "x86", os="linux", architecture="amd64")
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository: {registry.address}/{repo}
    tags: [bad]
    manifests:
      - image: {registry.address}/{repo}:x86
      - image: {registry.address}/{repo}:arm
        platform: linux/amd64
  - repository: {registry.address}/{repo}
    tags: [good]
    manifests:
      - image: {registry.address}/{repo}:x86
""",
    )
    result = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert result.code == 1
    assert "declared platform linux/amd64 contradicts the image config" in result.out
    assert "linux/arm64" in result.out
    assert f"{cfg}:7:9" in result.out  # points at the entry
    assert "--allow-partial" in result.err
    assert head_manifest(registry.url, repo, "bad") is None
    assert head_manifest(registry.url, repo, "good") is None  # half a plan is not applied
    partial = run_cli("apply", "-f", str(cfg), "--auto-approve", "--allow-partial")
    assert partial.code == 1
    assert head_manifest(registry.url, repo, "bad") is None
    assert head_manifest(registry.url, repo, "good") is not None  # other lists go on


def test_variant_difference_is_a_warning(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_image(registry.url, repo, "arm", os="linux", architecture="arm", variant="v7")
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository: {registry.address}/{repo}
    tags: [v1]
    manifests:
      - image: {registry.address}/{repo}:arm
        platform: linux/arm/v6
""",
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert plan.code == 0
    assert "Warning:" in plan.out and "declared variant v6" in plan.out


def test_duplicate_platforms_after_normalisation(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_image(registry.url, repo, "a", os="linux", architecture="arm64", variant="v8", salt="a")
    seed_image(registry.url, repo, "b", os="linux", architecture="arm64", salt="b")
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository: {registry.address}/{repo}
    tags: [v1]
    manifests:
      - image: {registry.address}/{repo}:a
      - image: {registry.address}/{repo}:b
""",
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert plan.code == 1
    assert "duplicate platform linux/arm64" in plan.out


def test_missing_source_fails_only_its_list(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_image(registry.url, repo, "x86", os="linux", architecture="amd64")
    cfg = write_config(
        tmp_path,
        f"""\
version: 1
lists:
  - repository: {registry.address}/{repo}
    tags: [broken]
    manifests:
      - image: {registry.address}/{repo}:does-not-exist
  - repository: {registry.address}/{repo}
    tags: [fine]
    manifests:
      - image: {registry.address}/{repo}:x86
""",
    )
    plan = run_cli("plan", "-f", str(cfg), "--json")
    assert plan.code == 1
    doc = json.loads(plan.out)
    assert doc["format_version"] == "2"
    assert [c["tag"] for c in doc["changes"]] == ["fine"]
    assert doc["summary"]["create"] == 1
    assert "does-not-exist not found" in doc["errors"][0]["message"]
    assert doc["errors"][0]["tags"] == ["broken"]


def test_json_plan_shape(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    images = seed_helloworld(registry.url, repo)
    cfg = write_config(tmp_path, helloworld_config(registry.address, repo))
    cache = str(tmp_path / "cache")
    doc = json.loads(run_cli("plan", "-f", str(cfg), "--json", "--cache-dir", cache).out)
    (change,) = doc["changes"]
    assert change["repository"] == f"{registry.address}/{repo}"
    assert change["tag"] == "latest"
    assert change["action"] == "create"
    assert change["before"] is None
    assert change["after"]["mediaType"] == mt.DOCKER_LIST
    assert change["after"]["manifests"][0]["digest"] == images["alpine"].digest
    assert doc["summary"] == {"create": 1, "update": 0, "repair": 0, "delete": 0, "no_op": 0}
    assert doc["errors"] == []
    # The target tag is HEADed; each source, never read through this cache before, costs one
    # GET of its tag (not a HEAD and then a GET) and one of its config blob.
    assert doc["requests"] == {"HEAD": 1, "GET": 3 + 3}
    # Next time the cache holds what the source tags held: a HEAD each, no body read.
    again = json.loads(run_cli("plan", "-f", str(cfg), "--json", "--cache-dir", cache).out)
    assert again["requests"] == {"HEAD": 1 + 3}


def test_many_new_tags_cost_one_tag_list_not_a_head_each(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_helloworld(registry.url, repo)
    tags = ", ".join(f"v{i}" for i in range(MIN_TAGS))
    cfg = write_config(tmp_path, helloworld_config(registry.address, repo, tags=f"[{tags}]"))
    cache = str(tmp_path / "cache")
    doc = json.loads(run_cli("plan", "-f", str(cfg), "--json", "--cache-dir", cache).out)
    assert doc["summary"]["create"] == MIN_TAGS
    # One GET of the tag list rules every new tag out; the sources cost what they always do.
    assert doc["requests"] == {"GET": 1 + 3 + 3}
    done = run_cli("apply", "-f", str(cfg), "--auto-approve", "--json", "--cache-dir", cache)
    assert done.code == 0, done.err
    # Now every tag is listed, so each is HEADed for its digest: all in sync.
    again = json.loads(run_cli("plan", "-f", str(cfg), "--json", "--cache-dir", cache).out)
    assert again["summary"]["no_op"] == MIN_TAGS
    assert again["requests"] == {"GET": 1, "HEAD": MIN_TAGS + 3}


def test_list_pushed_by_docker_cli_is_in_sync(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_helloworld(registry.url, repo)
    addr = registry.address
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker")}
    create = [
        "docker", "manifest", "create", "--insecure", f"{addr}/{repo}:latest",
        f"{addr}/{repo}:alpine", f"{addr}/{repo}:nanoserver", f"{addr}/{repo}:nanoserver-1709",
    ]  # fmt: skip
    subprocess.run(create, check=True, env=env, capture_output=True)
    push = ["docker", "manifest", "push", "--insecure", "--purge", f"{addr}/{repo}:latest"]
    subprocess.run(push, check=True, env=env, capture_output=True)
    pushed = head_manifest(registry.url, repo, "latest")
    cfg = write_config(tmp_path, helloworld_config(addr, repo))
    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 0, plan.out
    assert "No changes." in plan.out
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    assert head_manifest(registry.url, repo, "latest") == pushed  # not rewritten


def test_apply_refuses_without_terminal_or_auto_approve(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    seed_helloworld(registry.url, repo)
    cfg = write_config(tmp_path, helloworld_config(registry.address, repo))
    proc = subprocess.run(
        [sys.executable, "-m", "mplat", "apply", "-f", str(cfg)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    assert "--auto-approve" in proc.stderr
    assert head_manifest(registry.url, repo, "latest") is None


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_config_errors_name_file_line_column(tmp_path: Path, command: str) -> None:
    cfg = write_config(
        tmp_path,
        """\
version: 1
lists:
  - repository: localhost:5000/acme/app
    tags: [latest]
    format: dockr
    manifests:
      - image: localhost:5000/acme/app:UPPER CASE
""",
    )
    result = run_cli(command, "-f", str(cfg))
    assert result.code == 1
    assert f"{cfg}:5:13" in result.err
    assert f"{cfg}:7:16" in result.err
    assert "Traceback" not in result.err


def test_version_and_help() -> None:
    from mplat import __version__

    assert run_cli("--version").out.strip() == f"mplat {__version__}"
    for command in ("validate", "plan", "apply"):
        helped = run_cli(command, "--help")
        assert helped.code == 0 and "--file" in helped.out
