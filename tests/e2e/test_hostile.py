"""Hostile registries: every lie is refused with one readable error, and nothing is written.

A fake registry (tests/support/fakeregistry.py) answers each route the way a test scripts
it. A baseline test proves the fake is acceptable to mplat when it behaves, so each hostile
test fails only because of the one lie it tells. Each is checked through the CLI: ``plan``
exits 1 with exactly one ``Error:`` line naming the registry and repository and saying what
was wrong, no traceback; ``apply`` then sends no write request at all.
"""

from __future__ import annotations

import base64
import contextlib
import io
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mplat.cli.main import main
from mplat.registry.cache import DiskCache
from mplat.registry.taghints import FILE_NAME, TagHints
from mplat.values.manifest import MAX_MANIFEST_BYTES
from tests.support.fakeregistry import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    FakeRegistry,
    Reply,
    canonical_json,
    make_image,
    sha256_digest,
)

REPO = "hostile/app"
USER, PASSWORD = "mona", "s3cret-pw"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.lstrip().startswith("Error")]


def cli(*args: str) -> Run:
    """Run mplat in-process; an escaping exception is what a user would see as a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        except Exception:
            return Run(-1, out.getvalue(), err.getvalue() + traceback.format_exc())
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh content cache (a cached good copy would hide the lie) and no docker creds."""
    monkeypatch.setenv("MPLAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry() as server:
        yield server


def write_config(tmp_path: Path, addr: str, image: str, extra: str = "") -> Path:
    path = tmp_path / "manifests.yaml"
    path.write_text(
        f"""\
version: 1
{extra}lists:
  - repository: {addr}/{REPO}
    tags: [v1]
    manifests:
      - image: {addr}/{REPO}{image}
"""
    )
    return path


def moved_since_last_run(tmp_path: Path, fake: FakeRegistry, tag: str = "src") -> None:
    """Make the source tag one this machine read before, holding something else then: the
    cache holds that old manifest and the hint names it, so mplat HEADs the tag and reads
    the digest the HEAD names (the path a tag that moved takes) instead of GETting the tag."""
    old = make_image(salt="read on an earlier run")
    cache = tmp_path / "cache"
    DiskCache(cache).put(old.digest, old.manifest)
    hints = TagHints(cache / FILE_NAME)
    hints.put(f"{fake.address}/{REPO}:{tag}", old.digest)
    hints.save()


def assert_refused(run: Run, fake: FakeRegistry, *reasons: str) -> None:
    """Exit 1, one readable error line naming registry/repository and the reason."""
    assert "Traceback" not in run.text, run.text
    assert run.code == 1, run.text
    lines = run.error_lines
    assert len(lines) == 1, run.text
    assert f"{fake.address}/{REPO}" in lines[0], lines[0]
    assert any(r in lines[0] for r in reasons), lines[0]


def plan_and_apply(fake: FakeRegistry, cfg: Path, *reasons: str) -> None:
    """``plan`` refuses readably; ``apply`` refuses too and sends no write at all."""
    plan = cli("plan", "-f", str(cfg), "--retries", "2")
    assert_refused(plan, fake, *reasons)
    applied = cli("apply", "-f", str(cfg), "--auto-approve", "--retries", "2")
    assert "Traceback" not in applied.text, applied.text
    assert applied.code == 1, applied.text
    assert fake.writes == [], [(r.method, r.path) for r in fake.writes]


def test_well_behaved_fake_is_accepted(tmp_path: Path, fake: FakeRegistry) -> None:
    """The control: the same scenario without a lie plans a creation (exit 0)."""
    image = make_image()
    fake.serve_image(REPO, "src", image)
    cfg = write_config(tmp_path, fake.address, ":src")
    run = cli("plan", "-f", str(cfg))
    assert run.code == 0, run.text
    assert f"{fake.address}/{REPO}:v1 will be created" in run.out
    by_digest = write_config(tmp_path, fake.address, f"@{image.digest}")
    assert cli("plan", "-f", str(by_digest)).code == 0


def test_bytes_not_matching_the_digest_asked_for(tmp_path: Path, fake: FakeRegistry) -> None:
    asked = make_image(salt="asked")
    other = make_image(salt="other")
    # Asked by digest; the body is another (valid) manifest, with no digest header to check.
    fake.serve_manifest(REPO, [asked.digest], other.manifest, DOCKER_MANIFEST, digest_header=None)
    fake.serve_blob(REPO, other.config_digest, other.config)
    cfg = write_config(tmp_path, fake.address, f"@{asked.digest}")
    plan_and_apply(fake, cfg, f"bytes received hash to {other.digest}")


def test_bytes_not_matching_the_digest_the_registry_claims(
    tmp_path: Path, fake: FakeRegistry
) -> None:
    image = make_image()
    claimed = sha256_digest(b"something else")
    # HEAD omits the digest, so mplat reads by tag; the GET claims a digest the bytes lack.
    fake.route("HEAD", f"/v2/{REPO}/manifests/src", Reply(200, {"Content-Type": DOCKER_MANIFEST}))
    fake.serve_manifest(REPO, ["src"], image.manifest, DOCKER_MANIFEST, digest_header=claimed)
    fake.serve_blob(REPO, image.config_digest, image.config)
    cfg = write_config(tmp_path, fake.address, ":src")
    plan_and_apply(fake, cfg, f"registry claims digest {claimed}")


def test_head_digest_then_other_bytes(tmp_path: Path, fake: FakeRegistry) -> None:
    """HEAD names digest A, GET by A serves B (claiming A): the digest asked for wins."""
    a, b = make_image(salt="a"), make_image(salt="b")
    head = {"Content-Type": DOCKER_MANIFEST, "Docker-Content-Digest": a.digest}
    fake.route(
        "HEAD",
        f"/v2/{REPO}/manifests/src",
        Reply(200, {**head, "Content-Length": str(len(a.manifest))}),
    )
    fake.serve_manifest(REPO, [a.digest], b.manifest, DOCKER_MANIFEST, digest_header=a.digest)
    fake.serve_blob(REPO, b.config_digest, b.config)
    moved_since_last_run(tmp_path, fake)
    cfg = write_config(tmp_path, fake.address, ":src")
    plan_and_apply(fake, cfg, "hash to", "claims digest")


def test_oversized_manifest_is_not_read_past_the_limit(tmp_path: Path, fake: FakeRegistry) -> None:
    """A 64 MiB "manifest": mplat must hang up soon after 4 MiB, not buffer it all."""
    total = 64 * 1024 * 1024
    chunk = b" " * 65536
    fake_digest = sha256_digest(b"the digest of a body that never comes")
    path = f"/v2/{REPO}/manifests/{fake_digest}"
    head = {"Content-Type": DOCKER_MANIFEST, "Docker-Content-Digest": fake_digest}
    fake.route(
        "HEAD", f"/v2/{REPO}/manifests/src", Reply(200, {**head, "Content-Length": str(total)})
    )
    hold = MAX_MANIFEST_BYTES + 1024 * 1024
    fake.route(
        "GET",
        path,
        lambda _req: Reply(
            200,
            head,
            (chunk for _ in range(total // len(chunk))),
            length=total,
            hold_after=hold,
        ),
    )
    moved_since_last_run(tmp_path, fake)
    cfg = write_config(tmp_path, fake.address, ":src")
    run = cli("plan", "-f", str(cfg), "--retries", "1")
    sent = fake.stats.sent[path]
    print(f"\noversized manifest: server offered {total} bytes, sent {sent} before mplat hung up")
    assert_refused(run, fake, f"larger than {MAX_MANIFEST_BYTES} bytes")
    # mplat returned while the server held back the rest: it did not wait for the body.
    assert sent <= hold + len(chunk)
    deadline = time.monotonic() + 5
    while path not in fake.stats.hung_up and time.monotonic() < deadline:
        time.sleep(0.01)  # the server thread notices the hang-up asynchronously
    assert path in fake.stats.hung_up, f"mplat kept the connection open after {sent} bytes"
    assert len(fake.requests_to(path)) == 1  # a content error is not retried


def endless(total: int, hold: int, status: int, content_type: str) -> Reply:
    """A reply whose body is ``total`` bytes, held back after ``hold`` (see Reply)."""
    chunk = b" " * 65536
    return Reply(
        status,
        {"Content-Type": content_type},
        (chunk for _ in range(total // len(chunk))),
        length=total,
        hold_after=hold,
    )


@pytest.mark.parametrize(
    "what", ["manifest-404", "tag-manifest-404", "config-blob-404", "token-200"]
)
def test_huge_bodies_elsewhere_are_not_read_without_limit(tmp_path: Path, what: str) -> None:
    """Error bodies and token answers come from the same untrusted server as manifests: a
    registry must not be able to make mplat buffer 32 MiB of them either."""
    total, hold = 32 * 1024 * 1024, MAX_MANIFEST_BYTES + 1024 * 1024
    image = make_image()
    with FakeRegistry() as token_server, FakeRegistry() as fake:
        fake.serve_image(REPO, "src", image)
        if what == "manifest-404":  # by digest, after a HEAD of the tag
            moved_since_last_run(tmp_path, fake)
            path = f"/v2/{REPO}/manifests/{image.digest}"
            fake.route("GET", path, lambda _r: endless(total, hold, 404, "application/json"))
            server = fake
        elif what == "tag-manifest-404":  # the one GET of a tag never read before
            path = f"/v2/{REPO}/manifests/src"
            fake.route("GET", path, lambda _r: endless(total, hold, 404, "application/json"))
            server = fake
        elif what == "config-blob-404":
            path = f"/v2/{REPO}/blobs/{image.config_digest}"
            fake.route("GET", path, lambda _r: endless(total, hold, 404, "application/json"))
            server = fake
        else:
            path = "/token"
            fake.bearer_realm = f"{token_server.url}/token"
            token_server.route("GET", path, lambda _r: endless(total, hold, 200, "text/plain"))
            server = token_server
        cfg = write_config(tmp_path, fake.address, ":src")
        started = time.monotonic()
        run = cli("plan", "-f", str(cfg), "--retries", "1")
        seconds = time.monotonic() - started
        sent = server.stats.sent[path]
        print(f"\n{what}: server offered {total} bytes, sent {sent} ({seconds:.1f}s)")
        assert "Traceback" not in run.text, run.text
        assert run.code == 1, run.text
        assert sent <= hold + 65536, f"mplat read {sent} bytes of a {what} body"


def test_invalid_json_manifest(tmp_path: Path, fake: FakeRegistry) -> None:
    body = b'{"schemaVersion": 2, "mediaType": "' + DOCKER_MANIFEST.encode() + b'", "config": {'
    fake.serve_manifest(REPO, ["src", sha256_digest(body)], body, DOCKER_MANIFEST)
    cfg = write_config(tmp_path, fake.address, ":src")
    plan_and_apply(fake, cfg, "not valid JSON")


def test_body_media_type_contradicts_content_type(tmp_path: Path, fake: FakeRegistry) -> None:
    image = make_image()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(image.config),
            "digest": image.config_digest,
        },
        "layers": [],
    }
    body = canonical_json(doc)
    fake.serve_manifest(REPO, ["src", sha256_digest(body)], body, DOCKER_MANIFEST)
    fake.serve_blob(REPO, image.config_digest, image.config)
    cfg = write_config(tmp_path, fake.address, ":src")
    plan_and_apply(
        fake,
        cfg,
        f"manifest says mediaType {OCI_MANIFEST} but the registry sent Content-Type "
        f"{DOCKER_MANIFEST}",
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("digest", "sha256:not-a-digest", "descriptor digest 'sha256:not-a-digest'"),
        ("digest", "sha256:" + "A" * 64, "is not a valid sha256 digest"),
        ("size", -1, "descriptor size -1 is not a non-negative integer"),
        ("size", "423", "descriptor size '423' is not a non-negative integer"),
        ("mediaType", None, "descriptor has no mediaType"),
    ],
)
def test_index_with_malformed_child_descriptor(
    tmp_path: Path, fake: FakeRegistry, field: str, value: object, reason: str
) -> None:
    good = make_image(salt="good")
    bad = make_image(architecture="arm64", salt="bad")
    fake.serve_image(REPO, "good", good)
    fake.serve_image(REPO, "bad", bad)
    broken = bad.descriptor({"os": "linux", "architecture": "arm64"})
    if value is None:
        del broken[field]
    else:
        broken[field] = value
    body = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [good.descriptor({"os": "linux", "architecture": "amd64"}), broken],
        }
    )
    fake.serve_manifest(REPO, ["src", sha256_digest(body)], body, OCI_INDEX)
    cfg = write_config(tmp_path, fake.address, ":src")
    plan_and_apply(fake, cfg, reason)


def test_config_blob_not_matching_its_digest(tmp_path: Path, fake: FakeRegistry) -> None:
    image = make_image()
    fake.serve_image(REPO, "src", image)
    liar = b'{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    fake.serve_blob(REPO, image.config_digest, liar)  # the platform would silently change
    cfg = write_config(tmp_path, fake.address, ":src")
    plan_and_apply(fake, cfg, f"blob {image.config_digest}: the bytes received hash to")


@pytest.mark.parametrize(
    "answer",
    [
        b"<html><body>Welcome to our login portal</body></html>",
        b"[]",
        b'{"token": ""}',
        b'{"token": 12345}',
        b'{"token": "abc\\r\\nX-Injected: yes"}',
        b'{"expires_in": 300}',
    ],
    ids=["html", "array", "empty", "number", "header-injection", "no-token"],
)
def test_token_endpoint_answering_garbage(tmp_path: Path, answer: bytes) -> None:
    with (
        FakeRegistry() as token_server,
        FakeRegistry(bearer_realm=f"{token_server.url}/token") as fake,
    ):
        token_server.route(
            "GET", "/token", Reply(200, {"Content-Type": "application/json"}, answer)
        )
        fake.serve_image(REPO, "src", make_image())
        cfg = write_config(tmp_path, fake.address, ":src")
        plan_and_apply(fake, cfg, "the token server answered garbage")
        assert token_server.requests_to("/token"), "mplat never asked the token server"
        # Whatever the garbage was, it was never replayed as a credential.
        for r in fake.requests:
            assert "x-injected" not in r.headers
            assert not r.headers.get("authorization", "").startswith("Bearer")


def basic_creds(fake: FakeRegistry, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``registries:`` block giving ``fake`` Basic credentials from the environment."""
    monkeypatch.setenv("FAKE_USER", USER)
    monkeypatch.setenv("FAKE_PASSWORD", PASSWORD)
    return (
        f'registries:\n  "{fake.address}":\n'
        "    username_env: FAKE_USER\n    password_env: FAKE_PASSWORD\n"
    )


def test_redirect_to_another_host_does_not_carry_authorization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Basic credentials go to the registry, never to the host a redirect points at."""
    image = make_image()
    with FakeRegistry() as elsewhere, FakeRegistry(basic_auth=(USER, PASSWORD)) as fake:
        fake.serve_image(REPO, "src", image)
        blob_path = f"/v2/{REPO}/blobs/{image.config_digest}"
        fake.route(
            "GET",
            blob_path,
            Reply(307, {"Location": f"{elsewhere.url}/storage/{image.config_digest}?sig=x"}),
        )
        elsewhere.route(
            "GET",
            f"/storage/{image.config_digest}",
            Reply(200, {"Content-Type": "application/octet-stream"}, image.config),
        )
        cfg = write_config(tmp_path, fake.address, ":src", basic_creds(fake, monkeypatch))
        run = cli("plan", "-f", str(cfg))
        assert "Traceback" not in run.text, run.text
        assert run.code == 0, run.text  # following the redirect is right; leaking is not
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        sent_to_registry = [r.headers.get("authorization") for r in fake.requests_to(blob_path)]
        assert expected in sent_to_registry  # the credential was in use...
        followed = elsewhere.requests_to(f"/storage/{image.config_digest}")
        assert followed, "mplat did not follow the redirect"
        for r in followed:  # ...and did not travel to the other host
            assert "authorization" not in r.headers, r.headers
        assert all(PASSWORD not in v for r in elsewhere.requests for v in r.headers.values())


def test_manifest_redirect_to_another_host_is_not_followed_with_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mplat may refuse to follow a manifest redirect, but never sends credentials along."""
    image = make_image()
    with FakeRegistry() as elsewhere, FakeRegistry(basic_auth=(USER, PASSWORD)) as fake:
        fake.serve_image(REPO, "src", image)
        fake.route(
            "GET",
            f"/v2/{REPO}/manifests/{image.digest}",
            Reply(307, {"Location": f"{elsewhere.url}/m/{image.digest}"}),
        )
        elsewhere.route(
            "GET",
            f"/m/{image.digest}",
            Reply(200, {"Content-Type": DOCKER_MANIFEST}, image.manifest),
        )
        cfg = write_config(tmp_path, fake.address, ":src", basic_creds(fake, monkeypatch))
        run = cli("plan", "-f", str(cfg), "--retries", "1")
        assert "Traceback" not in run.text, run.text
        if run.code != 0:  # not following a manifest redirect is allowed; say so readably
            assert_refused(run, fake, "HTTP 307")
        for r in elsewhere.requests:
            assert "authorization" not in r.headers, r.headers
