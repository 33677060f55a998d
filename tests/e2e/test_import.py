"""mplat import against the real registry: lists written by the docker CLI, by skopeo
(containers/image, what podman writes) and by mplat itself import into a config that
validates and plans to "no changes"; what the config cannot express is skipped, loudly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mplat.config.loader import load_config, load_config_text
from mplat.values import mediatypes as mt
from tests.support.cli import run_cli, write_config
from tests.support.fakeregistry import (
    FakeRegistry,
    canonical_json,
    make_image,
    sha256_digest,
)
from tests.support.registry import RegistryServer
from tests.support.seed import get_manifest, head_manifest, push_index, seed_image

PLATFORMS = {
    "amd64": {"os": "linux", "architecture": "amd64"},
    "arm64": {"os": "linux", "architecture": "arm64"},
    "armv7": {"os": "linux", "architecture": "arm", "variant": "v7"},
    "s390x": {"os": "linux", "architecture": "s390x"},
    "win": {"os": "windows", "architecture": "amd64", "os_version": "10.0.17763.1"},
}


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: the import tests use the real {name}", pytrace=False)
    return found


def run(*argv: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"


def seed_images(registry: RegistryServer, repo: str) -> None:
    for tag, platform in PLATFORMS.items():
        seed_image(registry.url, repo, tag, **platform)  # type: ignore[arg-type]


def import_and_check(tmp_path: Path, *refs: str) -> tuple[Path, str]:
    """Import ``refs``, then validate and plan the result: it must say "no changes"."""
    out = tmp_path / "imported.yaml"
    done = run_cli("import", *refs, "-o", str(out))
    assert done.code == 0, done.out + done.err
    assert run_cli("validate", "-f", str(out)).code == 0
    plan = run_cli("plan", "-f", str(out), "--detailed-exitcode")
    assert plan.code == 0, out.read_text() + plan.out + plan.err
    assert "No changes." in plan.out
    return out, done.err


def docker_lists(registry: RegistryServer, repo: str, tmp_path: Path) -> int:
    """Eight Docker lists written by `docker manifest create/annotate/push`; returns how many."""
    addr = registry.address
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker")}
    docker = tool("docker")
    sets = [
        ("d1", ["amd64", "arm64"]),
        ("d2", ["amd64", "arm64", "armv7"]),
        ("d3", ["amd64", "win"]),
        ("d4", ["s390x", "arm64"]),
        ("d5", ["armv7"]),
        ("d6", ["amd64", "s390x", "win"]),
        ("d7", ["arm64", "armv7", "s390x"]),
    ]
    for tag, images in sets:
        refs = [f"{addr}/{repo}:{i}" for i in images]
        run(docker, "manifest", "create", "--insecure", f"{addr}/{repo}:{tag}", *refs, env=env)
        run(docker, "manifest", "push", "--insecure", "--purge", f"{addr}/{repo}:{tag}", env=env)
    # Annotated: the list declares a variant the image config does not have.
    run(docker, "manifest", "create", "--insecure", f"{addr}/{repo}:d8",
        f"{addr}/{repo}:amd64", f"{addr}/{repo}:arm64", env=env)  # fmt: skip
    run(docker, "manifest", "annotate", "--variant", "v8", f"{addr}/{repo}:d8",
        f"{addr}/{repo}:arm64", env=env)  # fmt: skip
    run(docker, "manifest", "push", "--insecure", "--purge", f"{addr}/{repo}:d8", env=env)
    return len(sets) + 1


def skopeo_lists(registry: RegistryServer, repo: str, source: str) -> int:
    """Six OCI indexes written by skopeo (containers/image, as podman writes them)."""
    addr = registry.address
    skopeo = tool("skopeo")
    flags = ["--src-tls-verify=false", "--dest-tls-verify=false"]
    for i, tag in enumerate(["d1", "d2", "d3", "d4", "d6", "d7"]):
        fmt = ["--format", "oci"] if i % 2 == 0 else []
        run(skopeo, "copy", "--all", *flags, *fmt,
            f"docker://{addr}/{source}:{tag}", f"docker://{addr}/{repo}:s{i}")  # fmt: skip
    return 6


MPLAT_CONFIG = """\
version: 1
lists:
  - repository: {addr}/{repo}
    tags: [m1, m1-latest, stable]
    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:arm64
  - repository: {addr}/{repo}
    tags: [m2]
    format: docker
    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:win
  - repository: {addr}/{repo}
    tags: [m3]
    annotations:
      org.opencontainers.image.version: "3.0"
      org.opencontainers.image.source: "https://example.com/a b"
    manifests:
      - image: {addr}/{repo}:armv7
      - image: {addr}/{repo}:s390x
        platform: linux/s390x
  - repository: {addr}/{repo}
    tags: [m4]
    manifests:
      - image: {addr}/{repo}:arm64
        platform: {{os: linux, architecture: arm64, variant: v8}}
      - image: {addr}/{repo}:win
        platform:
          os: windows
          architecture: amd64
          os.version: 10.0.17763.1
          os.features: [win32k]
  - repository: {addr}/{repo}
    tags: [m5]
    manifests:
      - image: {addr}/{other}:d2
        platforms: [linux/arm/v7, linux/amd64]
  - repository: {addr}/{repo}
    tags: [m6]
    format: docker
    manifests:
      - image: {addr}/{repo}:s390x
"""


def mplat_lists(registry: RegistryServer, repo: str, other: str, tmp_path: Path) -> int:
    """Six lists mplat writes itself: OCI and Docker, annotations, declared platforms, and
    entries picked from an index in ``other`` (children copied in, so named by digest)."""
    text = MPLAT_CONFIG.format(addr=registry.address, repo=repo, other=other)
    cfg = write_config(tmp_path, text, "m.yaml")
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    return 6


def test_twenty_lists_by_docker_skopeo_and_mplat_import_with_no_changes(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    repos = {w: f"{repo}/{w}" for w in ("docker", "skopeo", "mplat")}
    for r in repos.values():
        seed_images(registry, r)
    written = docker_lists(registry, repos["docker"], tmp_path)
    written += skopeo_lists(registry, repos["skopeo"], repos["docker"])
    written += mplat_lists(registry, repos["mplat"], repos["docker"], tmp_path)
    assert written == 20
    out, err = import_and_check(tmp_path, *(f"{addr}/{r}" for r in repos.values()))
    assert "warning: skipped" not in err
    config = load_config(out)
    assert sum(len(s.tags) for s in config.lists) == 22  # m1's three tags are one item
    (m1,) = [s for s in config.lists if "m1" in s.tags]
    assert m1.tags == ("m1", "m1-latest", "stable")
    assert [str(e.image) for e in m1.manifests] == [
        f"{addr}/{repos['mplat']}:amd64",
        f"{addr}/{repos['mplat']}:arm64",
    ]
    (m3,) = [s for s in config.lists if s.tags == ("m3",)]
    assert dict(m3.annotations) == {
        "org.opencontainers.image.version": "3.0",
        "org.opencontainers.image.source": "https://example.com/a b",
    }
    # Children copied in from another repository are the same bytes as this one's tags.
    (m5,) = [s for s in config.lists if s.tags == ("m5",)]
    assert [e.image.tag for e in m5.manifests] == ["armv7", "amd64"]
    # skopeo --format oci converted the children: new digests, which no tag names.
    (s0,) = [s for s in config.lists if s.tags == ("s0",)]
    assert all(e.image.digest and e.image.tag is None for e in s0.manifests)
    formats = {s.tags[0]: s.format for s in config.lists}
    assert formats["d1"] == "docker" and formats["m2"] == "docker" and formats["m1"] == "oci"
    assert formats["s0"] == "oci"  # skopeo --format oci
    (d8,) = [s for s in config.lists if s.tags == ("d8",)]
    assert [str(e.platform) for e in d8.manifests] == ["linux/amd64", "linux/arm64/v8"]
    # A list mplat wrote is reproduced to its bytes: the plan's list is the live one.
    plan = json.loads(run_cli("plan", "-f", str(out), "--json", "--show-no-op").out)
    live = {c["tag"]: c for c in plan["changes"]}
    assert live["m4"]["action"] == "no-op"
    m4 = head_manifest(registry.url, repos["mplat"], "m4")
    assert m4 is not None and live["m4"]["after"]["digest"] == m4[0]


def test_what_the_config_cannot_express_is_skipped_with_a_warning(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    amd = seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    arm = seed_image(registry.url, repo, None, os="linux", architecture="arm64")
    linux_amd64 = {"os": "linux", "architecture": "amd64"}
    push_index(registry.url, repo, "plain", [(amd, linux_amd64), (arm, PLATFORMS["arm64"])])
    push_index(registry.url, repo, "sha256-" + "0" * 64 + ".sig", [(amd, linux_amd64)])
    attested = {
        "mediaType": arm.media_type,
        "digest": arm.digest,
        "size": arm.size,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": amd.digest,
        },
    }
    push_index(registry.url, repo, "attested", [(amd, linux_amd64)], extra_entries=[attested])
    # What `buildah manifest add --annotation` writes: an annotated platform entry.
    annotated = {**attested, "platform": PLATFORMS["arm64"], "annotations": {"k": "v"}}
    push_index(registry.url, repo, "annotated", [(amd, linux_amd64)], extra_entries=[annotated])
    out, err = import_and_check(tmp_path, f"{addr}/{repo}")
    assert err.startswith(f"warning: skipped {addr}/{repo}:annotated: entry 1 (")
    assert err.count("warning: skipped") == 1
    assert "has annotations, which the config cannot declare per entry" in err
    assert "sha256-" not in err and ":amd64" not in err  # not lists: no warning needed
    config = load_config(out)
    attested_list, plain = config.lists
    assert plain.tags == ("plain",)
    assert [str(e.image) for e in plain.manifests] == [
        f"{addr}/{repo}:amd64",
        f"{addr}/{repo}@{arm.digest}",
    ]
    # Attestations can only come from an index: the list's own digest, attestations: true.
    attested_digest = head_manifest(registry.url, repo, "attested")
    assert attested_digest is not None
    assert attested_list.tags == ("attested",)
    (entry,) = attested_list.manifests
    assert entry.image.digest == attested_digest[0] and entry.attestations


def test_one_tag_to_stdout_and_nothing_to_import_is_an_error(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    amd = seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    push_index(registry.url, repo, "a", [(amd, {"os": "linux", "architecture": "amd64"})])
    push_index(registry.url, repo, "b", [(amd, {"os": "linux", "architecture": "amd64"})])
    done = run_cli("import", f"{addr}/{repo}:b")
    assert done.code == 0, done.err
    assert 'tags: ["b"]' in done.out and '"a"' not in done.out
    cfg = write_config(tmp_path, done.out)
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0
    single = run_cli("import", f"{addr}/{repo}:amd64")
    assert single.code == 1
    assert f"warning: skipped {addr}/{repo}:amd64: a single image, not a list" in single.err
    assert "Error: no list to import" in single.err
    assert get_manifest(registry.url, repo, "amd64") is not None


def test_a_repository_past_one_page_of_tags_imports_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tag listing is followed across pages (``Link: rel="next"``). Debian's
    docker-registry 2.8 ignores ``n`` and sends every tag at once, so a scripted registry
    pages here; sha256-… tags and the single image are left out."""
    monkeypatch.setenv("MPLAT_CACHE_DIR", str(tmp_path / "cache"))
    repo = "acme/paged"
    image = make_image()
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_INDEX,
            "manifests": [image.descriptor({"os": "linux", "architecture": "amd64"})],
        }
    )
    tags = [f"v{i}" for i in range(5)]
    pages = [["amd64", "v0", "v1"], ["v2", "sha256-" + "1" * 64 + ".sig"], ["v3", "v4"]]

    with FakeRegistry() as fake:
        fake.serve_image(repo, "amd64", image)
        fake.serve_manifest(repo, [*tags, sha256_digest(index)], index, mt.OCI_INDEX)
        fake.serve_tag_pages(repo, pages, lambda k: f"/v2/{repo}/tags/list?n=3&last=p{k}")
        addr = fake.address
        done = run_cli("import", f"{addr}/{repo}")
        assert len(fake.requests_to(f"/v2/{repo}/tags/list")) == 3  # every page, once
    assert done.code == 0, done.err
    assert done.err == ""
    (spec,) = load_config_text(done.out, "imported.yaml").lists
    assert spec.tags == tuple(tags)
    assert [str(e.image) for e in spec.manifests] == [f"{addr}/{repo}:amd64"]
