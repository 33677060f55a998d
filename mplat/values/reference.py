"""Image references (``[registry/]repository[:tag][@digest]``), parsed the way Docker does.

The grammar and normalisation follow distribution/reference's ``ParseNormalizedNamed`` so that
a name a user copies from ``docker pull`` means the same image to mplat: ``busybox`` is
``docker.io/library/busybox``, and the first path component is a registry only when it looks
like one. Pure string logic; nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from mplat.values.errors import MplatError

__all__ = [
    "Reference",
    "ReferenceError",
    "is_loopback_host",
    "parse_reference",
    "parse_repository",
    "validate_digest",
    "validate_tag",
]

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_INDEX_HOST = "index.docker.io"
DOCKER_HUB_ALIASES = (DOCKER_HUB_INDEX_HOST, DOCKER_HUB_API_HOST)
"""Spellings of Docker Hub that users copy from old docs or from the API host; all mean
docker.io. In the order credential stores are searched for them (docker's before the API's)."""
_OFFICIAL_PREFIX = "library/"
MAX_PATH_LENGTH = 255
"""distribution/reference >= v0.6.0 caps the path only; the registry host is not counted."""
MAX_TAG_LENGTH = 128

# All patterns are ASCII-only on purpose: Python's \w and \d would accept non-ASCII letters and
# digits that Go's regexp (and therefore every registry) rejects. They are used with fullmatch,
# because ``$`` would also match before a trailing newline.
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_NAME_RE = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*")
_HOST_PORT_RE = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>[^:]*))?")
_PORT_RE = re.compile(r"[0-9]+")
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_TAG_RE = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_TAG_LENGTH - 1}}}")
_ALGORITHM_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}")
_IMAGE_ID_RE = _SHA256_HEX_RE


class ReferenceError(MplatError, ValueError):
    """An invalid reference, tag or digest; str() is one line naming the input and the reason."""


def _fail(kind: str, text: str, reason: str) -> ReferenceError:
    # repr() keeps the message on one line even when the input holds newlines or control chars.
    return ReferenceError(f"invalid {kind} {text!r}: {reason}")


def _tag_problem(tag: str) -> str | None:
    if not tag:
        return "the tag is empty"
    if len(tag) > MAX_TAG_LENGTH:
        return f"the tag is {len(tag)} characters long (at most {MAX_TAG_LENGTH})"
    if not _TAG_RE.fullmatch(tag):
        return (
            f"tag {tag!r} must start with a letter, digit or '_' and contain only "
            "letters, digits, '_', '.' and '-'"
        )
    return None


def _digest_problem(digest: str) -> str | None:
    algorithm, sep, encoded = digest.partition(":")
    if not sep or not _ALGORITHM_RE.fullmatch(algorithm):
        return f"invalid digest {digest!r} (expected 'sha256:' followed by 64 hex characters)"
    if algorithm != "sha256":
        return f"unsupported digest algorithm {algorithm!r} (only sha256 is supported)"
    if not _HEX_RE.fullmatch(encoded):
        return "invalid digest: the part after 'sha256:' must be hexadecimal"
    if len(encoded) != 64:
        return f"invalid digest length: sha256 needs 64 hex characters, got {len(encoded)}"
    if not _SHA256_HEX_RE.fullmatch(encoded):
        return "invalid digest: the hex must be lowercase"
    return None


def _domain_problem(domain: str) -> str | None:
    m = _HOST_PORT_RE.fullmatch(domain)
    if m is None:
        return f"registry {domain!r} is not a host name or [IPv6] address with an optional :port"
    host, port = m.group("host"), m.group("port")
    if port is not None and not _PORT_RE.fullmatch(port):
        return f"registry {domain!r} has an invalid port {port!r}"
    if host.startswith("["):
        address = host[1:-1]
        if "%" in address:
            return f"registry {domain!r}: IPv6 zone identifiers are not allowed"
        # ipaddress is stricter than distribution's loose [0-9a-fA-F:]+ and catches typos.
        if not re.fullmatch(r"[0-9a-fA-F:]+", address):
            return f"registry {domain!r}: {address!r} is not an IPv6 address"
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return f"registry {domain!r}: {address!r} is not an IPv6 address"
        return None
    if not _DOMAIN_NAME_RE.fullmatch(host):
        return (
            f"registry host {host!r} must be dot-separated letters, digits and '-' "
            "(not at the start or end of a label)"
        )
    return None


def _path_problem(path: str) -> str | None:
    if path != path.lower():
        return f"repository name must be lowercase (got {path!r})"
    for component in path.split("/"):
        if not component:
            return f"repository path {path!r} has an empty component"
        if not _PATH_COMPONENT_RE.fullmatch(component):
            return (
                f"path component {component!r} must be lowercase letters and digits "
                "separated by '.', '_', '__' or '-'"
            )
    if len(path) > MAX_PATH_LENGTH:
        return f"repository name is {len(path)} characters long (at most {MAX_PATH_LENGTH})"
    return None


def _looks_like_domain(component: str) -> bool:
    """Docker's rule for whether the first component names a registry rather than a namespace."""
    return (
        "." in component
        or ":" in component
        or component == "localhost"
        or component != component.lower()
    )


def api_host_for(registry: str) -> str:
    """Where a registry's /v2/ API lives: Docker Hub's is not served from docker.io itself."""
    return DOCKER_HUB_API_HOST if registry == DOCKER_HUB else registry


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference; construction validates, so every value round-trips via str()."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        shown = f"{self.registry}/{self.repository}"
        problem = _domain_problem(self.registry) or _path_problem(self.repository)
        if problem is None and not _looks_like_domain(self.registry):
            problem = f"registry {self.registry!r} would be read back as a Docker Hub namespace"
        if problem is None and self.registry in DOCKER_HUB_ALIASES:
            problem = f"registry {self.registry!r} must be normalised to {DOCKER_HUB!r}"
        if problem is None and self.registry == DOCKER_HUB and "/" not in self.repository:
            problem = f"a Docker Hub repository needs a namespace, e.g. 'library/{self.repository}'"
        if problem is None and self.tag is not None:
            problem = _tag_problem(self.tag)
        if problem is None and self.digest is not None:
            problem = _digest_problem(self.digest)
        if problem is not None:
            raise _fail("reference", shown, problem)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """Where the /v2/ API lives: Docker Hub's registry is not served from docker.io itself."""
        return api_host_for(self.registry)

    @property
    def ref(self) -> str:
        """The <reference> for /v2/<name>/manifests/<reference>: a digest pins, so it wins."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> Reference:
        """This reference with ``tag`` and no digest.

        Only the tag is checked: ``self`` was checked when it was made and each part's rule
        stands alone, so a valid tag keeps it valid (a build makes one per image it reads).
        """
        validate_tag(tag)
        out = object.__new__(Reference)  # every field set below (a test checks the list)
        object.__setattr__(out, "registry", self.registry)
        object.__setattr__(out, "repository", self.repository)
        object.__setattr__(out, "tag", tag)
        object.__setattr__(out, "digest", None)
        return out

    def with_digest(self, digest: str) -> Reference:
        return replace(self, tag=None, digest=validate_digest(digest))

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


def validate_tag(tag: str) -> str:
    """Return ``tag`` unchanged if it is a valid tag, else raise ReferenceError."""
    problem = _tag_problem(tag)
    if problem is not None:
        raise _fail("tag", tag, problem)
    return tag


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is ``sha256:<64 lowercase hex>``, else raise ReferenceError."""
    problem = _digest_problem(digest)
    if problem is not None:
        raise _fail("digest", digest, problem)
    return digest


def parse_reference(text: str) -> Reference:
    """Parse and normalise a reference; both a tag and a digest may be present and are kept."""
    if not text:
        raise _fail("reference", text, "repository name must have at least one component")
    if "://" in text:
        raise _fail("reference", text, "a reference takes no URL scheme (drop the 'scheme://')")
    if _IMAGE_ID_RE.fullmatch(text):
        # Docker reads a bare 64-hex string as an image ID; accepting it as a name would surprise.
        raise _fail(
            "reference", text, "a 64-character hex string is an image ID, not a repository name"
        )

    first, slash, rest = text.partition("/")
    if slash and _looks_like_domain(first):
        domain, remainder = first, rest
        problem = _domain_problem(domain)
        if problem is not None:
            raise _fail("reference", text, problem)
        if domain in DOCKER_HUB_ALIASES:
            domain = DOCKER_HUB
    else:
        # No '/' at all means a Docker Hub official image, even for "localhost" or
        # "example.com:5000" (Docker's documented behaviour): the ':' is then a tag separator.
        if not slash and text.startswith("["):
            raise _fail("reference", text, "a registry must be followed by '/<repository>'")
        domain, remainder = DOCKER_HUB, text

    name_part, at, digest = remainder.partition("@")
    path, colon, tag = name_part.partition(":")
    if not path:
        raise _fail("reference", text, "the repository name is missing")
    if domain == DOCKER_HUB and "/" not in path:
        path = _OFFICIAL_PREFIX + path

    problem = _path_problem(path)
    if problem is None and colon:
        problem = _tag_problem(tag)
    if problem is None and at:
        problem = _digest_problem(digest)
    if problem is not None:
        raise _fail("reference", text, problem)
    return Reference(
        registry=domain,
        repository=path,
        tag=tag if colon else None,
        digest=digest if at else None,
    )


def parse_repository(text: str) -> Reference:
    """Parse a repository (a reference without tag or digest), e.g. a copy destination."""
    ref = parse_reference(text)
    if ref.tag is not None or ref.digest is not None:
        raise _fail("repository", text, "a repository takes no tag or digest")
    return ref


def is_loopback_host(registry: str) -> bool:
    """True for registries on this machine: localhost, 127.0.0.0/8 and [::1], any port.

    Callers use this to allow plain HTTP, so anything unusual (``127.1``, ``foo.localhost``,
    malformed input) answers False and keeps TLS on.
    """
    m = _HOST_PORT_RE.fullmatch(registry)
    if m is None:
        return False
    host, port = m.group("host"), m.group("port")
    if port is not None and not _PORT_RE.fullmatch(port):
        return False
    if host.lower() == "localhost":
        return True
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        if host.startswith("["):
            if "%" in host:
                return False
            address = ipaddress.IPv6Address(host[1:-1])
            mapped = address.ipv4_mapped
            if mapped is not None:
                return mapped.is_loopback
        else:
            address = ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return address.is_loopback
