"""The desired state as plain values, with the file position each value came from.

Positions travel with the values so that errors found long after loading (a mislabelled
platform, a missing source) can still point the user at ``file:line:column``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mplat.values.errors import MplatError
from mplat.values.platform import Platform
from mplat.values.reference import Reference

Format = Literal["oci", "docker"]
State = Literal["present", "absent"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was written: 1-based line and column, as editors count."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        # Problems with the file itself (missing, unreadable) have no line to point at.
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigError(MplatError):
    """Every problem found in a config file, reported together so users fix them in one pass.

    Its text is what the CLI prints after ``Error:``: one problem (a missing file, bad YAML)
    says it all in one line; several get a heading and one indented line each.
    """

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(
            problems, key=lambda p: (p.location.file, p.location.line, p.location.column)
        )
        if len(self.problems) == 1:
            super().__init__(str(self.problems[0]))
        else:
            super().__init__("invalid configuration\n" + "\n".join(f"  {p}" for p in self.problems))

    @classmethod
    def at(cls, file: str, line: int, column: int, message: str) -> ConfigError:
        """One problem that stops loading (the file, its YAML), where no other can be found."""
        return cls([ConfigProblem(Location(file, line, column), message)])


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Per-registry settings from ``registries.<host>``; never holds a secret itself."""

    insecure: bool = False
    ca_file: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    parallelism: int | None = None
    http2: bool = False
    """Speak HTTP/2 to this registry when its TLS offers it (see mplat/registry/transports)."""


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One declared entry of a list: a source image, optionally with its platform(s)."""

    image: Reference
    location: Location
    platform: Platform | None = None
    platforms: tuple[Platform, ...] | None = None
    attestations: bool = False
    optional: bool = False
    """Skipped, with a warning, when the source does not exist (manifest-tool's
    ``--ignore-missing``): a platform built late must not block the others."""


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One ``lists:`` item: tags in a repository that must all carry the same list."""

    repository: Reference
    tags: tuple[str, ...]
    format: Format
    location: Location
    manifests: tuple[EntrySpec, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    state: State = "present"
    prune: bool = False
    prevent_destroy: bool = False
    tag_locations: tuple[Location, ...] = ()
    require_platforms: tuple[Platform, ...] = ()
    """Platforms the published list must have; a plan without one of them is refused."""
    require_location: Location | None = None
    written_for: tuple[Reference, ...] = ()
    """Every repository this item publishes the same OCI bytes to (``repository:`` as a list),
    named in the ownership marker so the bytes, and the digest, are the same in each; empty:
    just ``repository``."""

    @property
    def owners(self) -> tuple[Reference, ...]:
        """The repositories the ownership marker names."""
        return self.written_for or (self.repository,)


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    lists: tuple[ListSpec, ...]
    registries: Mapping[str, RegistrySettings] = field(default_factory=dict)
    default_format: Format = "oci"

    def settings_for(self, registry: str) -> RegistrySettings:
        return self.registries.get(registry, RegistrySettings())
