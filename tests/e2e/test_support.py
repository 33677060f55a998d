"""Tests of the real-registry harness (tests/support) against Debian's docker-registry."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.registry import (
    RegistryServer,
    TokenAuthConfig,
    htpasswd_line,
    write_self_signed_cert,
)
from tests.support.seed import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    SeededImage,
    blob_exists,
    get_blob,
    get_manifest,
    head_manifest,
    push_index,
    seed_helloworld,
    seed_image,
)
from tests.support.seed import main as seed_main

MakeRegistry = Callable[..., RegistryServer]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- server lifecycle ---------------------------------------------------------------------------


def test_registry_start_stop(tmp_path: Path) -> None:
    server = RegistryServer(root=tmp_path / "reg")
    with server:
        assert server.running
        assert server.port != 0
        assert server.address == f"127.0.0.1:{server.port}"
        assert server.url == f"http://127.0.0.1:{server.port}"
        resp = httpx.get(f"{server.url}/v2/")
        assert resp.status_code == 200
        assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        assert (tmp_path / "reg" / "config.yml").is_file()
    assert not server.running
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/v2/", timeout=2)


def test_start_reports_log_when_registry_dies(tmp_path: Path) -> None:
    # A TLS cert path that does not exist makes the registry exit at startup.
    server = RegistryServer(root=tmp_path, tls=(tmp_path / "nope.crt", tmp_path / "nope.key"))
    with pytest.raises(RuntimeError, match="exited early"):
        server.start(timeout=10)
    assert not server.running
    assert "nope.crt" in server.log_text()


def test_session_registry_and_repo_fixture(registry: RegistryServer, repo: str) -> None:
    assert registry.running
    assert repo.startswith("t/test-session-registry-and-repo-fixture-")
    assert httpx.get(f"{registry.url}/v2/").status_code == 200


# --- seeding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("oci", [False, True], ids=["docker", "oci"])
def test_seed_image_round_trip(registry: RegistryServer, repo: str, oci: bool) -> None:
    image = seed_image(
        registry.url,
        repo,
        "v1",
        os="windows",
        architecture="amd64",
        os_version="10.0.17763.1066",
        os_features=["win32k"],
        oci=oci,
        layers=2,
    )
    assert image.media_type == (OCI_MANIFEST if oci else DOCKER_MANIFEST)
    assert image.digest == _sha(image.manifest)
    assert image.size == len(image.manifest)
    assert len(image.layer_digests) == 2

    assert head_manifest(registry.url, repo, "v1") == (image.digest, image.media_type)
    got = get_manifest(registry.url, repo, image.digest)
    assert got == (image.manifest, image.media_type)

    manifest = json.loads(image.manifest)
    assert manifest["config"]["digest"] == image.config_digest
    config_bytes = get_blob(registry.url, repo, image.config_digest)
    assert config_bytes is not None and _sha(config_bytes) == image.config_digest
    config = json.loads(config_bytes)
    assert config["os"] == "windows"
    assert config["architecture"] == "amd64"
    assert config["os.version"] == "10.0.17763.1066"
    assert config["os.features"] == ["win32k"]
    assert "variant" not in config

    # Layers are real gzip'd tars whose uncompressed digests are the config's diff_ids.
    diff_ids = []
    for digest in image.layer_digests:
        assert blob_exists(registry.url, repo, digest)
        blob = get_blob(registry.url, repo, digest)
        assert blob is not None
        diff_ids.append(_sha(gzip.decompress(blob)))
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}


def test_seed_is_deterministic_and_salted(registry: RegistryServer, repo: str) -> None:
    a = seed_image(registry.url, repo, "a", os="linux", architecture="arm", variant="v7")
    b = seed_image(registry.url, f"{repo}-other", "b", os="linux", architecture="arm", variant="v7")
    c = seed_image(registry.url, repo, "c", os="linux", architecture="arm", variant="v7", salt="x")
    assert a.digest == b.digest
    assert c.digest != a.digest
    assert set(c.layer_digests).isdisjoint(a.layer_digests)
    config = json.loads(get_blob(registry.url, repo, a.config_digest) or b"{}")
    assert config["variant"] == "v7"


def test_seed_by_digest_leaves_no_tag(registry: RegistryServer, repo: str) -> None:
    image = seed_image(registry.url, repo, None, os="linux", architecture="s390x", oci=True)
    assert image.tag is None
    assert head_manifest(registry.url, repo, image.digest) == (image.digest, OCI_MANIFEST)
    tags = httpx.get(f"{registry.url}/v2/{repo}/tags/list").json()
    assert not tags.get("tags")


def test_blob_exists_false_for_unknown(registry: RegistryServer, repo: str) -> None:
    seed_image(registry.url, repo, "x", os="linux", architecture="amd64")
    assert not blob_exists(registry.url, repo, _sha(b"never pushed"))
    assert head_manifest(registry.url, repo, "missing") is None
    assert get_manifest(registry.url, repo, "missing") is None


# --- indexes ------------------------------------------------------------------------------------


def _two_images(url: str, repo: str, oci: bool) -> tuple[SeededImage, SeededImage]:
    amd = seed_image(url, repo, None, os="linux", architecture="amd64", oci=oci)
    arm = seed_image(url, repo, None, os="linux", architecture="arm64", variant="v8", oci=oci)
    return amd, arm


def test_push_oci_index_needs_oci_accept(registry: RegistryServer, repo: str) -> None:
    amd, arm = _two_images(registry.url, repo, oci=True)
    index = push_index(
        registry.url,
        repo,
        "multi",
        [
            (amd, {"os": "linux", "architecture": "amd64"}),
            (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ],
        annotations={"org.opencontainers.image.revision": "abc"},
    )
    assert index.media_type == OCI_INDEX
    assert index.digest == _sha(index.manifest)
    assert index.child_digests == (amd.digest, arm.digest)
    assert head_manifest(registry.url, repo, "multi") == (index.digest, OCI_INDEX)
    assert get_manifest(registry.url, repo, "multi") == (index.manifest, OCI_INDEX)
    body = json.loads(index.manifest)
    assert body["annotations"] == {"org.opencontainers.image.revision": "abc"}
    assert body["manifests"][1]["platform"]["variant"] == "v8"

    # Protocol corner mplat relies on: without the OCI index type in Accept, distribution
    # answers 404 for an index that exists, by tag and by digest, for HEAD and GET.
    without_index = [t for t in MANIFEST_ACCEPT if t != OCI_INDEX]
    for ref in ("multi", index.digest):
        assert head_manifest(registry.url, repo, ref, accept=without_index) is None
        assert get_manifest(registry.url, repo, ref, accept=without_index) is None


def test_push_docker_list_with_drift(registry: RegistryServer, repo: str) -> None:
    amd, arm = _two_images(registry.url, repo, oci=False)
    extra = {
        "mediaType": arm.media_type,
        "size": arm.size,
        "digest": arm.digest,
        "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
    }
    index = push_index(
        registry.url,
        repo,
        "list",
        [(amd, {"os": "linux", "architecture": "amd64"})],
        oci=False,
        extra_entries=[extra],
    )
    assert index.media_type == DOCKER_LIST
    got = get_manifest(registry.url, repo, "list")
    assert got == (index.manifest, DOCKER_LIST)
    manifests = json.loads(got[0])["manifests"]
    assert [m["digest"] for m in manifests] == [amd.digest, arm.digest]
    assert manifests[1]["platform"]["architecture"] == "arm"


def test_push_index_rejects_missing_child(registry: RegistryServer, repo: str) -> None:
    amd, _ = _two_images(registry.url, repo, oci=True)
    ghost = SeededImage(repo, None, _sha(b"ghost"), 5, OCI_MANIFEST, b"ghost", "", ())
    with pytest.raises(RuntimeError, match="MANIFEST_BLOB_UNKNOWN"):
        push_index(
            registry.url,
            repo,
            "broken",
            [(amd, {"os": "linux", "architecture": "amd64"}), (ghost, {"os": "linux"})],
        )


# --- helloworld scenario / script ----------------------------------------------------------------


def test_seed_helloworld(registry: RegistryServer, repo: str) -> None:
    images = seed_helloworld(registry.url, repo)
    assert set(images) == {"alpine", "nanoserver", "nanoserver-1709"}
    versions = {}
    for tag, image in images.items():
        assert head_manifest(registry.url, repo, tag) == (image.digest, DOCKER_MANIFEST)
        config = json.loads(get_blob(registry.url, repo, image.config_digest) or b"{}")
        versions[tag] = (config["os"], config["architecture"], config.get("os.version"))
    assert versions == {
        "alpine": ("linux", "amd64", None),
        "nanoserver": ("windows", "amd64", "10.0.14393.2068"),
        "nanoserver-1709": ("windows", "amd64", "10.0.16299.248"),
    }


def test_seed_script(
    registry: RegistryServer, repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert seed_main(["--registry", registry.address, "--repository", repo, "helloworld"]) == 0
    out = capsys.readouterr().out
    assert f"{registry.address}/{repo}:nanoserver-1709  sha256:" in out
    assert head_manifest(registry.url, repo, "alpine") is not None


# --- extra registries: auth, delete disabled, TLS, token ----------------------------------------


def test_htpasswd_line_is_bcrypt() -> None:
    user, _, hashed = htpasswd_line("alice", "pw").partition(":")
    assert user == "alice"
    assert hashed.startswith(("$2y$05$", "$2b$05$"))


def test_htpasswd_registry(make_registry: MakeRegistry) -> None:
    server = make_registry(htpasswd={"alice": "s3cret", "bob": "hunter2"})
    anonymous = httpx.get(f"{server.url}/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert httpx.get(f"{server.url}/v2/", auth=("alice", "s3cret")).status_code == 200
    assert httpx.get(f"{server.url}/v2/", auth=("bob", "hunter2")).status_code == 200
    assert httpx.get(f"{server.url}/v2/", auth=("alice", "wrong")).status_code == 401

    image = seed_image(
        server.url, "p/img", "v1", os="linux", architecture="amd64", auth=("alice", "s3cret")
    )
    assert head_manifest(server.url, "p/img", "v1", auth=("bob", "hunter2")) == (
        image.digest,
        DOCKER_MANIFEST,
    )
    with pytest.raises(RuntimeError, match="401"):
        head_manifest(server.url, "p/img", "v1")


def test_delete_disabled_answers_405(make_registry: MakeRegistry) -> None:
    server = make_registry(delete_enabled=False)
    image = seed_image(server.url, "p/img", "v1", os="linux", architecture="amd64")
    resp = httpx.delete(f"{server.url}/v2/p/img/manifests/{image.digest}")
    assert resp.status_code == 405
    assert resp.json()["errors"][0]["code"] == "UNSUPPORTED"
    assert head_manifest(server.url, "p/img", "v1") == (image.digest, DOCKER_MANIFEST)


def test_delete_enabled_removes_digest_and_tags(registry: RegistryServer, repo: str) -> None:
    image = seed_image(registry.url, repo, "v1", os="linux", architecture="amd64")
    resp = httpx.delete(f"{registry.url}/v2/{repo}/manifests/{image.digest}")
    assert resp.status_code == 202
    assert head_manifest(registry.url, repo, image.digest) is None
    assert head_manifest(registry.url, repo, "v1") is None


def test_tls_registry(make_registry: MakeRegistry, tmp_path: Path) -> None:
    cert, key = write_self_signed_cert(tmp_path / "certs")
    server = make_registry(tls=(cert, key))
    assert server.url.startswith("https://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/v2/")
    trusted = ssl.create_default_context(cafile=str(cert))
    assert httpx.get(f"{server.url}/v2/", verify=trusted).status_code == 200
    image = seed_image(
        server.url, "p/img", "v1", os="linux", architecture="amd64", verify=str(cert)
    )
    assert head_manifest(server.url, "p/img", "v1", verify=str(cert)) == (
        image.digest,
        DOCKER_MANIFEST,
    )


def test_token_auth_registry_challenges(make_registry: MakeRegistry, tmp_path: Path) -> None:
    cert, _ = write_self_signed_cert(tmp_path / "token", name="token-signer")
    server = make_registry(
        token_auth=TokenAuthConfig(
            realm="https://auth.example.test/token",
            service="mplat-registry",
            issuer="mplat-test-issuer",
            rootcertbundle=cert,
        )
    )
    resp = httpx.get(f"{server.url}/v2/")
    assert resp.status_code == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'realm="https://auth.example.test/token"' in challenge
    assert 'service="mplat-registry"' in challenge


# --- docker CLI interop --------------------------------------------------------------------------


def test_docker_cli_builds_list_from_seeded_images(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("the `docker` CLI client is required for this test (no daemon needed)")
    a = seed_image(registry.url, repo, "a", os="linux", architecture="amd64")
    b = seed_image(registry.url, repo, "b", os="linux", architecture="arm64", variant="v8")
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    ref = f"{registry.address}/{repo}"

    def run(*args: str) -> str:
        proc = subprocess.run(
            [docker, "manifest", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"docker manifest {args}: {proc.stdout}{proc.stderr}"
        return proc.stdout

    run("create", "--insecure", f"{ref}:list", f"{ref}:a", f"{ref}:b")
    pushed = run("push", "--insecure", "--purge", f"{ref}:list").strip().splitlines()[-1]

    got = get_manifest(registry.url, repo, "list")
    assert got is not None
    body, media_type = got
    assert media_type == DOCKER_LIST
    assert pushed == _sha(body)
    entries = {
        m["digest"]: (m["mediaType"], m["size"], m["platform"])
        for m in json.loads(body)["manifests"]
    }
    assert entries == {
        a.digest: (DOCKER_MANIFEST, a.size, {"architecture": "amd64", "os": "linux"}),
        b.digest: (
            DOCKER_MANIFEST,
            b.size,
            {"architecture": "arm64", "os": "linux", "variant": "v8"},
        ),
    }
