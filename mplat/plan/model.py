"""The plan: what must change in the registry, as plain values.

A plan is computed from the desired lists (config plus resolved sources) and the live state
of each tag, and it carries everything apply needs: the exact bytes to write, the digest each
tag had when planned, and which children must be brought into the target repository first.
So it can be printed, saved, reviewed, and applied later. Only data lives here: deciding is
plan.compare, serialising plan.json_codec and plan.file_codec, printing output.text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mplat.values.manifest import (
    ATTESTATION_REFERENCE_DIGEST,
    Descriptor,
    Index,
    is_attestation,
)
from mplat.values.reference import Reference

Action = Literal["create", "update", "repair", "delete", "no-op"]

OWNER_ANNOTATION = "dev.mplat.managed-by"
"""Written into every OCI index mplat creates: says which tool wrote it (see README)."""
OWNER_VALUE = "mplat"
OWNER_TAGS_ANNOTATION = "dev.mplat.tags"
"""The "registry/repository:tag" references (space-separated, sorted) mplat wrote the list for.

The bytes of a list travel with it: ``skopeo copy --all`` or ``crane copy`` to another tag
keeps both annotations. Only this one says where mplat put the list, so ownership for prune
is "this very tag is named here", which no copy elsewhere can satisfy.
"""
MPLAT_ANNOTATIONS = frozenset({OWNER_ANNOTATION, OWNER_TAGS_ANNOTATION})
"""mplat's own bookkeeping: never part of what a list means, so never a reason to rewrite."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a list, as shown in plans and saved in plan files."""

    media_type: str
    digest: str
    size: int
    platform: Mapping[str, object] | None
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None

    @classmethod
    def of(cls, d: Descriptor) -> Entry:
        return cls(
            media_type=d.media_type,
            digest=d.digest,
            size=d.size,
            platform=d.platform.to_json() if d.platform else None,
            annotations=dict(d.annotations),
            artifact_type=d.artifact_type,
        )

    def meaning(self) -> tuple[object, ...]:
        return (
            self.digest,
            self.size,
            self.media_type,
            _freeze(self.platform),
            _freeze(self.annotations),
            self.artifact_type,
        )

    def label(self) -> str:
        """Platform as users write it, used as the key when diffing entries."""
        p = self.platform or {}
        if not p:
            return f"(no platform) {self.digest[:19]}"
        text = f"{p.get('os')}/{p.get('architecture')}"
        if p.get("variant"):
            text += f"/{p['variant']}"
        if p.get("os.version"):
            text += f" {p['os.version']}"
        if p.get("os.features"):
            text += " +" + "+".join(str(f) for f in p["os.features"])  # type: ignore[attr-defined]
        if is_attestation(self.annotations):
            ref = self.annotations.get(ATTESTATION_REFERENCE_DIGEST, "")
            text = f"attestation for {ref[:19]}" if ref else "attestation"
        return text


@dataclass(frozen=True, slots=True)
class ListView:
    """A list or index reduced to what decides equality: every field that changes its meaning."""

    media_type: str
    digest: str
    entries: tuple[Entry, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    subject: Entry | None = None  # a referrer: the manifest this index is about

    @classmethod
    def of(cls, index: Index, digest: str) -> ListView:
        return cls(
            media_type=index.media_type,
            digest=digest,
            entries=tuple(Entry.of(d) for d in index.manifests),
            annotations=dict(index.annotations),
            artifact_type=index.artifact_type,
            subject=Entry.of(index.subject) if index.subject else None,
        )

    def meaning(self) -> tuple[object, ...]:
        """What two lists must share to be "the same list" regardless of their bytes.

        mplat's own annotations are left out: a list another tool pushed with the same
        entries is in sync (it is just not mplat's to prune), and so is one mplat wrote
        under another marker, so a change of marker never rewrites existing lists.
        """
        return (
            self.media_type,
            tuple(e.meaning() for e in self.entries),
            _freeze(self.own_annotations()),
            self.artifact_type,
            self.subject.meaning() if self.subject else None,
        )

    def own_annotations(self) -> dict[str, str]:
        """The annotations that are the list's, not mplat's bookkeeping."""
        return {k: v for k, v in self.annotations.items() if k not in MPLAT_ANNOTATIONS}


@dataclass(frozen=True, slots=True)
class ImageView:
    """A tag that holds a single-platform image (or anything that is not a list)."""

    media_type: str
    digest: str


Live = ListView | ImageView


def _freeze(value: object) -> object:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class BlobCopy:
    digest: str
    size: int
    how: Literal["mount", "copy"]


@dataclass(frozen=True, slots=True)
class ChildCopy:
    """A child manifest missing from the target repository and where to get it."""

    digest: str
    media_type: str
    size: int
    source: Reference  # the repository holding the child (no tag)
    blobs: tuple[BlobCopy, ...] = ()

    @property
    def bytes_to_copy(self) -> int:
        return sum(b.size for b in self.blobs if b.how == "copy")


@dataclass(frozen=True, slots=True)
class Desired:
    """The list a set of tags must carry, rendered to its exact bytes."""

    repository: Reference  # the target repository (no tag)
    media_type: str
    body: bytes = field(repr=False)
    digest: str = ""
    entries: tuple[Entry, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)  # declared image -> resolved digest
    entry_sources: tuple[str, ...] = ()
    """The declared ``image:`` each entry comes from, parallel to ``entries``: what a reviewer
    needs to see beside a digest move (empty in plan files written before it existed)."""
    children: tuple[ChildCopy, ...] = ()  # children to bring into the repository first
    warnings: tuple[str, ...] = ()
    prevent_destroy: bool = False

    def view(self) -> ListView:
        return ListView(self.media_type, self.digest, self.entries, self.annotations)

    def sources_by_label(self) -> dict[str, str]:
        """Each entry's declared image, keyed by the entry's platform label."""
        return {e.label(): s for e, s in zip(self.entries, self.entry_sources, strict=False)}


DiffKind = Literal["added", "removed", "changed", "note"]


@dataclass(frozen=True, slots=True)
class DiffItem:
    """One way a live list differs from the wanted one, as data: renderers choose the words.

    ``label`` names the entry (its platform label, as ``Entry.label``) or is "" for the list
    itself; ``field`` is the path inside it (``()``: the whole entry). A "note" is a fact
    with no old and new value (``label`` holds it), such as "same entries, different bytes".
    """

    kind: DiffKind
    label: str = ""
    field: tuple[str | int, ...] = ()
    old: object = None
    new: object = None
    source: str = ""
    """The declared image the new value comes from (an entry's digest added or moved)."""


@dataclass(frozen=True, slots=True)
class Change:
    repository: Reference
    tag: str
    action: Action
    before: Live | None
    after: ListView | None
    live_digest: str | None  # the digest the tag had when planned (None: absent)
    desired: Desired | None = None
    diff: tuple[DiffItem, ...] = ()
    warnings: tuple[str, ...] = ()
    prevent_destroy: bool = False

    @property
    def address(self) -> str:
        return f"{self.repository.name}:{self.tag}"

    @property
    def children(self) -> tuple[ChildCopy, ...]:
        return self.desired.children if self.desired else ()


@dataclass(frozen=True, slots=True)
class PlanError:
    """A list that could not be planned (bad source, refused platform, registry failure)."""

    message: str
    repository: Reference | None = None
    tags: tuple[str, ...] = ()
    cause: str = ""
    """The failure without the config location: lists that share it share one cause (a
    registry that is down fails every list with the same error), so it is printed once."""
    location: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    errors: tuple[PlanError, ...] = ()
    notices: tuple[str, ...] = ()
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    requests: Mapping[str, int] = field(default_factory=dict)  # what planning cost, by method

    def summary(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "repair": 0, "delete": 0, "no_op": 0}
        for c in self.changes:
            counts[c.action.replace("-", "_")] += 1
        return counts

    def blocked(self) -> tuple[Change, ...]:
        """Deletions that ``prevent_destroy`` forbids: such a plan must not be applied at all."""
        return tuple(c for c in self.changes if c.action == "delete" and c.prevent_destroy)

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)
