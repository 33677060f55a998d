"""Platform values of image-index / manifest-list descriptors.

Two concerns are kept apart on purpose: what the user declared (written verbatim into the
index we build) and the containerd-normalised form (used only to compare and de-duplicate),
because real indexes spell the same platform differently (``arm64`` vs ``arm64/v8``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mplat.values.errors import MplatError

__all__ = ["Platform", "PlatformError"]

_PART_RE = re.compile(r"[a-z0-9._-]+")


class PlatformError(MplatError, ValueError):
    """Invalid platform; str() is a one-line human message."""


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's architecture/variant aliases; ``""`` stands for "no variant"."""
    if arch == "i386":
        # 386 has no meaningful variants, so any one given is noise.
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        # v1 is the amd64 baseline, i.e. the same as no variant.
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        # v8 is the implied arm64 default; spellings of v9.0 collapse to v9.
        if variant in ("8", "v8", "v8.0"):
            return "arm64", ""
        if variant in ("9", "9.0", "v9.0"):
            return "arm64", "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        # Bare 32-bit arm means v7 in practice (that is what armhf images are).
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
    return arch, variant


def _optional_str(obj: Mapping[object, object], key: str) -> str | None:
    """Optional string field; null and "" count as absent, as with Go's omitempty."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PlatformError(f"platform field {key!r} must be a string, got {type(value).__name__}")
    return value or None


def _required_str(obj: Mapping[object, object], key: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise PlatformError(f"platform field {key!r} is missing or empty")
    if not isinstance(value, str):
        raise PlatformError(f"platform field {key!r} must be a string, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Platform:
    """One ``platform`` object; fields hold values as declared or as read, not normalised."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Reject states that JSON could never round-trip, so key() and to_json() stay total.
        if not isinstance(self.os, str) or not self.os:
            raise PlatformError("platform os must be a non-empty string")
        if not isinstance(self.architecture, str) or not self.architecture:
            raise PlatformError("platform architecture must be a non-empty string")
        for name, value in (("variant", self.variant), ("os_version", self.os_version)):
            if value is not None and (not isinstance(value, str) or not value):
                raise PlatformError(f"platform {name} must be None or a non-empty string")
        if not isinstance(self.os_features, tuple) or not all(
            isinstance(f, str) for f in self.os_features
        ):
            raise PlatformError("platform os_features must be a tuple of strings")

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse a user specifier ``os/arch[/variant]``, lower-cased but otherwise verbatim.

        No normalisation here: what the user declares is what gets written to the index.
        """
        if not isinstance(text, str):
            raise PlatformError(f"platform must be a string like 'linux/amd64', got {text!r}")
        parts = text.lower().split("/")
        if len(parts) < 2:
            raise PlatformError(f"invalid platform {text!r}: expected os/arch[/variant]")
        if len(parts) > 3:
            raise PlatformError(f"invalid platform {text!r}: more than 3 '/'-separated parts")
        names = ("os", "architecture", "variant")
        for name, part in zip(names, parts, strict=False):
            if not part:
                raise PlatformError(f"invalid platform {text!r}: empty {name}")
            if not _PART_RE.fullmatch(part):
                raise PlatformError(
                    f"invalid platform {text!r}: {name} {part!r} may only contain a-z, 0-9, '.', "
                    "'_' and '-'"
                )
        variant = parts[2] if len(parts) == 3 else None
        return cls(os=parts[0], architecture=parts[1], variant=variant)

    @classmethod
    def from_json(cls, obj: object) -> Platform:
        """Read a descriptor ``platform`` object or an image config blob, values verbatim.

        Unknown keys are ignored (config blobs carry much more; ``features`` is reserved in OCI).
        """
        if not isinstance(obj, Mapping):
            raise PlatformError(f"platform must be a JSON object, got {type(obj).__name__}")
        os_name = _required_str(obj, "os")
        architecture = _required_str(obj, "architecture")
        features = obj.get("os.features")
        if features is None:
            os_features: tuple[str, ...] = ()
        elif isinstance(features, list) and all(isinstance(f, str) for f in features):
            os_features = tuple(features)
        else:
            raise PlatformError("platform field 'os.features' must be an array of strings")
        return cls(
            os=os_name,
            architecture=architecture,
            variant=_optional_str(obj, "variant"),
            os_version=_optional_str(obj, "os.version"),
            os_features=os_features,
        )

    def to_json(self) -> dict[str, object]:
        """JSON form with a fixed key order, so rendered manifests are byte-for-byte stable."""
        out: dict[str, object] = {"architecture": self.architecture, "os": self.os}
        if self.os_version is not None:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant is not None:
            out["variant"] = self.variant
        return out

    def normalized(self) -> Platform:
        """containerd-normalised copy, for comparing differently spelled equal platforms."""
        os_name = self.os.lower()
        if os_name == "macos":
            os_name = "darwin"
        arch, variant = _normalize_arch(self.architecture.lower(), (self.variant or "").lower())
        return Platform(
            os=os_name,
            architecture=arch,
            variant=variant or None,
            os_version=self.os_version,
            os_features=tuple(sorted(set(self.os_features))),
        )

    def matches(self, other: Platform) -> bool:
        """Whether ``other`` (e.g. a source index entry) is the platform ``self`` asks for.

        os.version only constrains when ``self`` sets it, so "windows/amd64" picks any build.
        """
        a, b = self.normalized(), other.normalized()
        if (a.os, a.architecture, a.variant) != (b.os, b.architecture, b.variant):
            return False
        return self.os_version is None or self.os_version == other.os_version

    def key(self) -> tuple[str, str, str, str, tuple[str, ...]]:
        """Identity for duplicate detection within one index (Windows builds differ by version)."""
        n = self.normalized()
        return (n.os, n.architecture, n.variant or "", n.os_version or "", n.os_features)

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        if self.variant is not None:
            text += f"/{self.variant}"
        if self.os_version is not None:
            text += f" {self.os_version}"
        return text

    def is_unknown(self) -> bool:
        """buildx attestation manifests use unknown/unknown; they are not runnable platforms."""
        return self.os.lower() == "unknown" and self.architecture.lower() == "unknown"
