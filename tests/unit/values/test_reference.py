"""Tests for mplat.values.reference, mostly the example table of registry-protocol-notes.md 6.2."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mplat.values.reference import (
    Reference,
    ReferenceError,
    is_loopback_host,
    parse_reference,
    parse_repository,
    validate_digest,
    validate_tag,
)

D1 = "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
D2 = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
HEX64 = "f" * 64

# (input, registry, repository, tag, digest); the "#n" ids refer to the notes' example table.
VALID = [
    pytest.param("busybox", "docker.io", "library/busybox", None, None, id="#1"),
    pytest.param("busybox:latest", "docker.io", "library/busybox", "latest", None, id="#2"),
    pytest.param("library/busybox", "docker.io", "library/busybox", None, None, id="#3"),
    pytest.param("docker.io/busybox", "docker.io", "library/busybox", None, None, id="#4"),
    pytest.param(
        "index.docker.io/library/debian", "docker.io", "library/debian", None, None, id="#5"
    ),
    pytest.param("index.docker.io/debian", "docker.io", "library/debian", None, None, id="#5b"),
    pytest.param(
        "registry-1.docker.io/busybox", "docker.io", "library/busybox", None, None, id="api-host"
    ),
    pytest.param("dmcgowan/myapp", "docker.io", "dmcgowan/myapp", None, None, id="#6"),
    pytest.param("docker.io/library/foo/bar", "docker.io", "library/foo/bar", None, None, id="#7"),
    pytest.param("gcr.io/library/busybox", "gcr.io", "library/busybox", None, None, id="#8"),
    pytest.param("gcr.io/busybox", "gcr.io", "busybox", None, None, id="#8b"),
    pytest.param(
        f"gcr.io/library/busybox:latest@{D1}", "gcr.io", "library/busybox", "latest", D1, id="#9"
    ),
    pytest.param(f"busybox:latest@{D2}", "docker.io", "library/busybox", "latest", D2, id="#10"),
    pytest.param(f"busybox@{D2}", "docker.io", "library/busybox", None, D2, id="digest-only"),
    pytest.param("test_com/foo", "docker.io", "test_com/foo", None, None, id="#11"),
    pytest.param("test.com/foo", "test.com", "foo", None, None, id="#12"),
    pytest.param("test-com:8080/foo", "test-com:8080", "foo", None, None, id="#13"),
    pytest.param("localhost/fooo/bar", "localhost", "fooo/bar", None, None, id="#14"),
    pytest.param("LOCALDOMAIN/fooo", "LOCALDOMAIN", "fooo", None, None, id="#15"),
    pytest.param(
        "127.0.0.1:8000/privatebase", "127.0.0.1:8000", "privatebase", None, None, id="#16"
    ),
    pytest.param(
        "example.com:8000/private/moonbase",
        "example.com:8000",
        "private/moonbase",
        None,
        None,
        id="#17",
    ),
    pytest.param("[::1]:5000/repo", "[::1]:5000", "repo", None, None, id="#18"),
    pytest.param("[2001:db8::1]/repo:v1", "[2001:db8::1]", "repo", "v1", None, id="#18-no-port"),
    pytest.param("foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", None, id="#21"),
    pytest.param("localhost:5000", "docker.io", "library/localhost", "5000", None, id="#21b"),
    pytest.param("localhost", "docker.io", "library/localhost", None, None, id="bare-localhost"),
    pytest.param(
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "b.gcr.io",
        "test.example.com/my-app",
        "test.example.com",
        None,
        id="#22",
    ),
    pytest.param(
        "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", None, id="#23"
    ),
    pytest.param(
        "lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None, id="#26"
    ),
    pytest.param(
        f"docker.io/{'a' * 64}", "docker.io", f"library/{'a' * 64}", None, None, id="#27b"
    ),
    pytest.param(f"example.com/{'a' * 255}:tag", "example.com", "a" * 255, "tag", None, id="#33"),
    pytest.param("dbcc1", "docker.io", "library/dbcc1", None, None, id="#35"),
    pytest.param("a_b__c---d/e.f-g", "docker.io", "a_b__c---d/e.f-g", None, None, id="separators"),
    pytest.param("repo:" + "_" * 128, "docker.io", "library/repo", "_" * 128, None, id="tag-128"),
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_parse_reference_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert ref == Reference(registry, repository, tag, digest)
    assert ref.name == f"{registry}/{repository}"


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID)
def test_str_round_trips(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert parse_reference(str(ref)) == ref


def test_with_tag_sets_every_field() -> None:
    # with_tag sets the fields one by one, skipping __post_init__; a new field must go there.
    assert [f.name for f in dataclasses.fields(Reference)] == [
        "registry",
        "repository",
        "tag",
        "digest",
    ]


# (input, a substring the message must contain)
INVALID = [
    pytest.param("[2001:db8::1]:5000", "must be followed by '/<repository>'", id="#19"),
    pytest.param("[fe80::1%eth0]:5000/repo", "zone identifiers", id="#20"),
    pytest.param("Uppercase:tag", "repository name must be lowercase", id="#24"),
    pytest.param("docker/Docker", "repository name must be lowercase", id="#25"),
    pytest.param("localhost:5000/Repo", "repository name must be lowercase", id="#25b"),
    pytest.param(HEX64, "image ID", id="#27"),
    pytest.param(f"repo@sha256:{'f' * 34}", "invalid digest length", id="#28"),
    pytest.param(f"repo@sha256:{'f' * 63}", "invalid digest length", id="#28b"),
    pytest.param(f"validname@invaliddigest:{HEX64}", "unsupported digest algorithm", id="#29"),
    pytest.param(f"validname@sha512:{'f' * 128}", "unsupported digest algorithm", id="#29b"),
    pytest.param(f"repo@SHA256:{HEX64}", "unsupported digest algorithm", id="#29c"),
    pytest.param(f"repo@sha256:{'F' * 64}", "lowercase", id="digest-upper-hex"),
    pytest.param("repo@sha256:xyz", "hexadecimal", id="digest-not-hex"),
    pytest.param("", "repository name must have at least one component", id="#30-empty"),
    pytest.param(":justtag", "repository name is missing", id="#30-justtag"),
    pytest.param(f"@{D1}", "repository name is missing", id="#30-justdigest"),
    pytest.param("docker///docker", "empty component", id="#31-slashes"),
    pytest.param("-docker", "path component '-docker'", id="#31-leading-dash"),
    pytest.param("docker-/docker", "path component 'docker-'", id="#31-trailing-dash"),
    pytest.param("dock..er/docker", "registry host 'dock..er'", id="#31-double-dot"),
    pytest.param("____/____", "path component '____'", id="#31-underscores"),
    pytest.param("docker/", "empty component", id="#31-trailing-slash"),
    pytest.param("a___b", "path component 'a___b'", id="triple-underscore"),
    pytest.param(f"domain/{'a' * 256}:tag", "at most 255", id="#32"),
    pytest.param(f"example.com/{'a' * 256}", "at most 255", id="#32b"),
    pytest.param("https://github.com/docker/docker", "URL scheme", id="#34"),
    pytest.param("repo:", "tag is empty", id="empty-tag"),
    pytest.param("repo@", "invalid digest", id="empty-digest"),
    pytest.param("repo:a:b", "tag 'a:b'", id="two-colons"),
    pytest.param("repo:-tag", "must start with", id="tag-leading-dash"),
    pytest.param("repo:" + "a" * 129, "at most 128", id="tag-129"),
    pytest.param("repo:t\u0430g", "must start with", id="tag-non-ascii"),
    pytest.param("busybox\n", "path component", id="trailing-newline"),
    pytest.param("[::1:5000/repo", "not a host name", id="unclosed-bracket"),
    pytest.param("[zz::1]/repo", "not an IPv6 address", id="bad-ipv6"),
    pytest.param("[1::2::3]:5000/repo", "not an IPv6 address", id="double-double-colon"),
    pytest.param("[::ffff:1.2.3.4]/repo", "not an IPv6 address", id="ipv6-dotted-quad"),
    pytest.param("localhost:http/repo", "invalid port", id="bad-port"),
    pytest.param("foo_bar.com:80/repo", "registry host 'foo_bar.com'", id="underscore-host"),
    pytest.param("-foo.com/repo", "registry host '-foo.com'", id="dash-host"),
]


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_parse_reference_invalid(text: str, why: str) -> None:
    with pytest.raises(ReferenceError) as info:
        parse_reference(text)
    message = str(info.value)
    assert why in message
    assert message.startswith(f"invalid reference {text!r}")
    assert "\n" not in message


def test_reference_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_reference("Bad/Name")


@pytest.mark.parametrize(
    ("text", "api_host"),
    [
        ("busybox", "registry-1.docker.io"),
        ("index.docker.io/acme/app", "registry-1.docker.io"),
        ("ghcr.io/acme/app", "ghcr.io"),
        ("localhost:5000/app", "localhost:5000"),
        ("[::1]:5000/app", "[::1]:5000"),
    ],
)
def test_api_host(text: str, api_host: str) -> None:
    assert parse_reference(text).api_host == api_host


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("busybox", "latest"),
        ("busybox:1.36", "1.36"),
        (f"busybox@{D1}", D1),
        (f"busybox:1.36@{D1}", D1),
    ],
)
def test_ref_prefers_digest_then_tag_then_latest(text: str, ref: str) -> None:
    assert parse_reference(text).ref == ref


def test_str_is_canonical() -> None:
    assert str(parse_reference("busybox")) == "docker.io/library/busybox"
    assert str(parse_reference(f"index.docker.io/x/y:t@{D1}")) == f"docker.io/x/y:t@{D1}"


def test_with_tag_drops_digest() -> None:
    ref = parse_reference(f"ghcr.io/acme/app:old@{D1}").with_tag("v2")
    assert ref == Reference("ghcr.io", "acme/app", "v2", None)


@pytest.mark.parametrize("text", ["busybox", "localhost:5000/a/b:t", f"[::1]:5000/x@{D1}"])
def test_with_tag_equals_a_reference_made_and_checked_whole(text: str) -> None:
    # with_tag skips the checks of the parts it keeps; the result must be the same value.
    ref = parse_reference(text).with_tag("v2")
    assert ref == Reference(ref.registry, ref.repository, "v2")
    assert hash(ref) == hash(Reference(ref.registry, ref.repository, "v2"))
    assert parse_reference(str(ref)) == ref


def test_with_digest_drops_tag() -> None:
    ref = parse_reference("ghcr.io/acme/app:old").with_digest(D2)
    assert ref == Reference("ghcr.io", "acme/app", None, D2)


@pytest.mark.parametrize("tag", ["", "-x", "a" * 129, "a/b"])
def test_with_tag_validates(tag: str) -> None:
    with pytest.raises(ReferenceError, match="invalid tag"):
        parse_reference("busybox").with_tag(tag)


@pytest.mark.parametrize("digest", ["sha256:abc", f"sha512:{'f' * 128}", HEX64])
def test_with_digest_validates(digest: str) -> None:
    with pytest.raises(ReferenceError, match="invalid digest"):
        parse_reference("busybox").with_digest(digest)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3-rc.1", "_x", "A" * 128, "0"])
def test_validate_tag_accepts(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "a b", "a\n", "x" * 129, "\u00e9"])
def test_validate_tag_rejects(tag: str) -> None:
    with pytest.raises(ReferenceError, match=r"^invalid tag "):
        validate_tag(tag)


def test_validate_digest_accepts() -> None:
    assert validate_digest(D1) == D1


@pytest.mark.parametrize(
    ("digest", "why"),
    [
        (HEX64, "expected 'sha256:'"),
        (f"sha512:{'f' * 128}", "unsupported digest algorithm"),
        (f"md5:{'f' * 32}", "unsupported digest algorithm"),
        (f"sha256:{'f' * 65}", "invalid digest length"),
        (f"sha256:{'A' * 64}", "lowercase"),
        (f"{D1}\n", "hexadecimal"),
        ("sha256:", "hexadecimal"),
    ],
)
def test_validate_digest_rejects(digest: str, why: str) -> None:
    with pytest.raises(ReferenceError, match=r"^invalid digest ") as info:
        validate_digest(digest)
    assert why in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", Reference("docker.io", "library/busybox")),
        ("localhost:5000/acme/app", Reference("localhost:5000", "acme/app")),
        ("index.docker.io/acme/app", Reference("docker.io", "acme/app")),
    ],
)
def test_parse_repository(text: str, expected: Reference) -> None:
    assert parse_repository(text) == expected


@pytest.mark.parametrize("text", ["busybox:latest", f"busybox@{D1}", "localhost:5000"])
def test_parse_repository_rejects_tag_and_digest(text: str) -> None:
    with pytest.raises(ReferenceError, match="a repository takes no tag or digest"):
        parse_repository(text)


def test_parse_repository_rejects_invalid_names() -> None:
    with pytest.raises(ReferenceError, match="lowercase"):
        parse_repository("docker/Docker")


@pytest.mark.parametrize(
    ("registry", "expected"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("LOCALHOST:5000", True),
        ("127.0.0.1", True),
        ("127.0.0.1:5000", True),
        ("127.255.3.4:80", True),
        ("[::1]", True),
        ("[::1]:5000", True),
        ("[0:0:0:0:0:0:0:1]:5000", True),
        ("[::ffff:127.0.0.1]:5000", True),
        ("docker.io", False),
        ("registry-1.docker.io", False),
        ("128.0.0.1:5000", False),
        ("10.0.0.1", False),
        ("0.0.0.0:5000", False),
        ("[::2]:5000", False),
        ("localhost.example.com", False),
        ("foo.localhost", False),
        ("127.1", False),
        ("localhost:", False),
        ("localhost:abc", False),
        ("[::1", False),
        ("[fe80::1%lo]:5000", False),
        ("", False),
    ],
)
def test_is_loopback_host(registry: str, expected: bool) -> None:
    assert is_loopback_host(registry) is expected


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("docker.io", "busybox"), "needs a namespace"),
        (("index.docker.io", "library/busybox"), "must be normalised"),
        (("myregistry", "app"), "Docker Hub namespace"),
        (("ghcr.io", "Acme/app"), "lowercase"),
        (("ghcr.io", "acme/app", "-bad"), "must start with"),
        (("ghcr.io", "acme/app", None, "sha256:abc"), "invalid digest length"),
        (("bad_host.io", "app"), "registry host"),
    ],
)
def test_reference_constructor_rejects_values_that_would_not_round_trip(
    args: tuple[str, ...], why: str
) -> None:
    with pytest.raises(ReferenceError) as info:
        Reference(*args)
    assert why in str(info.value)


_COMPONENT = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:[._-]|__|--)[a-z0-9]{1,6}){0,2}\Z")
_REGISTRY = st.sampled_from(
    ["docker.io", "ghcr.io", "localhost", "localhost:5000", "[::1]:5000", "REG.example:1"]
)


@st.composite
def _references(draw: st.DrawFn) -> Reference:
    registry = draw(_REGISTRY)
    components = draw(
        st.lists(_COMPONENT, min_size=2 if registry == "docker.io" else 1, max_size=3)
    )
    tag = draw(st.none() | st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z"))
    digest = draw(st.none() | st.from_regex(r"\Asha256:[0-9a-f]{64}\Z"))
    return Reference(registry, "/".join(components), tag, digest)


@settings(max_examples=150, deadline=None)
@given(_references())
def test_any_valid_reference_round_trips(ref: Reference) -> None:
    assert parse_reference(str(ref)) == ref
