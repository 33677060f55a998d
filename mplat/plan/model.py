"""The plan: what must change in the registry, as a plain value.

Everything here is pure. A plan is computed from the desired lists (config plus resolved
sources) and the live state of each tag, and it carries everything apply needs: the exact
bytes to write, the digest each tag had when planned, and which children must be brought
into the target repository first. So it can be printed, saved, reviewed, and applied later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from mplat.values import mediatypes as mt
from mplat.values.manifest import Descriptor, Index

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


def owner_annotations(repository: str, tags: Iterable[str]) -> dict[str, str]:
    """The marker for a list mplat writes to ``tags`` of ``repository`` (normalised name)."""
    refs = " ".join(sorted({f"{repository}:{t}" for t in tags}))
    return {OWNER_ANNOTATION: OWNER_VALUE, OWNER_TAGS_ANNOTATION: refs}


def ownership(live: Live | None, repository: str, tag: str) -> Literal["owned", "old", "no"]:
    """Whether mplat wrote the list at ``repository:tag``, as far as its marker proves.

    "old": marked by an mplat older than the tags marker; that marker is the same on every copy
    of the list, so it cannot tell the tag mplat wrote from a peer's copy and proves nothing.
    """
    if not isinstance(live, ListView) or live.annotations.get(OWNER_ANNOTATION) != OWNER_VALUE:
        return "no"
    refs = live.annotations.get(OWNER_TAGS_ANNOTATION)
    if refs is None:
        return "old"
    return "owned" if f"{repository}:{tag}" in refs.split(" ") else "no"


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
        if self.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            ref = self.annotations.get("vnd.docker.reference.digest", "")
            text = f"attestation for {ref[:19]}" if ref else "attestation"
        return text

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform is not None:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        return out


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

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": "list",
            "mediaType": self.media_type,
            "digest": self.digest,
            "manifests": [e.to_json() for e in self.entries],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        return out


@dataclass(frozen=True, slots=True)
class ImageView:
    """A tag that holds a single-platform image (or anything that is not a list)."""

    media_type: str
    digest: str

    def to_json(self) -> dict[str, object]:
        return {"kind": "image", "mediaType": self.media_type, "digest": self.digest}


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
    source: str  # "registry/repository" holding the child
    blobs: tuple[BlobCopy, ...] = ()

    @property
    def bytes_to_copy(self) -> int:
        return sum(b.size for b in self.blobs if b.how == "copy")

    def to_json(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "mediaType": self.media_type,
            "size": self.size,
            "source": self.source,
            "blobs": [{"digest": b.digest, "size": b.size, "how": b.how} for b in self.blobs],
        }


@dataclass(frozen=True, slots=True)
class Desired:
    """The list a set of tags must carry, rendered to its exact bytes."""

    repository: str  # normalised "registry/path"
    media_type: str
    body: bytes = field(repr=False)
    digest: str = ""
    entries: tuple[Entry, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)  # declared image -> resolved digest
    children: tuple[ChildCopy, ...] = ()  # children to bring into the repository first
    warnings: tuple[str, ...] = ()
    prevent_destroy: bool = False

    def view(self) -> ListView:
        return ListView(self.media_type, self.digest, self.entries, self.annotations)


@dataclass(frozen=True, slots=True)
class Change:
    repository: str
    tag: str
    action: Action
    before: Live | None
    after: ListView | None
    live_digest: str | None  # the digest the tag had when planned (None: absent)
    desired: Desired | None = None
    diff: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    prevent_destroy: bool = False

    @property
    def address(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def children(self) -> tuple[ChildCopy, ...]:
        return self.desired.children if self.desired else ()


@dataclass(frozen=True, slots=True)
class PlanError:
    """A list that could not be planned (bad source, refused platform, registry failure)."""

    message: str
    repository: str | None = None
    tags: tuple[str, ...] = ()
    cause: str = ""
    """The failure without the config location: lists that share it share one cause (a
    registry that is down fails every list with the same error), so it is printed once."""
    location: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "repository": self.repository,
            "tags": list(self.tags),
            "message": self.message,
        }
        if self.cause:
            out["cause"] = self.cause
        return out


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


def compare(desired: Desired, tag: str, live: Live | None, children_missing: bool) -> Change:
    """Decide the action for one tag. Pure: all registry facts are already in the arguments."""
    after = desired.view()
    common = {
        "repository": desired.repository,
        "tag": tag,
        "after": after,
        "desired": desired,
        "warnings": desired.warnings,
        "prevent_destroy": desired.prevent_destroy,
    }
    if live is None:
        return Change(action="create", before=None, live_digest=None, **common)  # type: ignore[arg-type]
    if isinstance(live, ImageView):
        return Change(
            action="update",
            before=live,
            live_digest=live.digest,
            diff=(f"replace single image ({live.media_type}) with a list",),
            **common,  # type: ignore[arg-type]
        )
    in_sync = live.digest == desired.digest or live.meaning() == after.meaning()
    if in_sync:
        action: Action = "repair" if children_missing else "no-op"
        diff = (
            tuple(f"child {c.digest} missing from the repository" for c in desired.children)
            if children_missing
            else ()
        )
        # An in-sync list is never rewritten: nothing to PUT beyond missing children.
        return Change(action=action, before=live, live_digest=live.digest, diff=diff, **common)  # type: ignore[arg-type]
    return Change(
        action="update",
        before=live,
        live_digest=live.digest,
        diff=describe_diff(live, after),
        **common,  # type: ignore[arg-type]
    )


def describe_diff(before: ListView, after: ListView) -> tuple[str, ...]:
    """Human lines describing how two lists differ, entry by entry keyed by platform."""
    lines: list[str] = []
    if before.media_type != after.media_type:
        lines.append(
            f"media type: {_short_type(before.media_type)} -> {_short_type(after.media_type)}"
        )
    old = {e.label(): e.to_json() for e in before.entries}
    new = {e.label(): e.to_json() for e in after.entries}
    for label in [e.label() for e in after.entries if e.label() not in old]:
        lines.append(f"+ {label}: {new[label]['digest']}")
    for label in [e.label() for e in before.entries if e.label() not in new]:
        lines.append(f"- {label}: {old[label]['digest']}")
    for label in [e.label() for e in after.entries if e.label() in old]:
        lines.extend(_entry_changes(label, old[label], new[label]))
    if [e.label() for e in before.entries if e.label() in new] != [
        e.label() for e in after.entries if e.label() in old
    ]:
        lines.append("~ entry order: " + ", ".join(e.label() for e in after.entries))
    if before.artifact_type != after.artifact_type:
        if before.artifact_type is not None:
            lines.append(f"- artifactType {before.artifact_type}")
        if after.artifact_type is not None:
            lines.append(f"+ artifactType {after.artifact_type}")
    if (before.subject and before.subject.meaning()) != (after.subject and after.subject.meaning()):
        if before.subject is not None:
            lines.append(f"- subject {before.subject.digest}")
        if after.subject is not None:
            lines.append(f"+ subject {after.subject.digest}")
    strip = before.own_annotations()
    want = after.own_annotations()
    for key in sorted(set(strip) | set(want)):
        if strip.get(key) != want.get(key):
            if key not in strip:
                lines.append(f"+ annotation {key} = {want[key]!r}")
            elif key not in want:
                lines.append(f"- annotation {key} = {strip[key]!r}")
            else:
                lines.append(f"~ annotation {key}: {strip[key]!r} -> {want[key]!r}")
    if not lines:
        lines.append("same entries, different bytes")
    return tuple(lines)


def _entry_changes(label: str, old: dict[str, object], new: dict[str, object]) -> list[str]:
    """Field-level changes of one entry present before and after (same platform label).

    One DeepDiff per entry, in tree view with paths as lists: no threshold makes it report a
    whole entry as one opaque value, and labels from registry data need no quoting rules.
    """
    from deepdiff import DeepDiff  # Costly to import (numpy); only updates need it.

    dd = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    lines = []
    for kind, items in sorted(dd.items()):
        for level in sorted(items, key=lambda lv: str(lv.path(output_format="list"))):
            where = ".".join(str(p) for p in level.path(output_format="list"))
            if kind.endswith("_added"):
                lines.append(f"+ {label}: {where} = {level.t2}")
            elif kind.endswith("_removed"):
                lines.append(f"- {label}: {where} = {level.t1}")
            else:
                lines.append(f"~ {label}: {where}: {level.t1} -> {level.t2}")
    return lines


def _short_type(media_type: str) -> str:
    return {
        mt.OCI_INDEX: "OCI index",
        mt.DOCKER_LIST: "Docker manifest list",
        mt.OCI_MANIFEST: "OCI image",
        mt.DOCKER_MANIFEST: "Docker image",
    }.get(media_type, media_type)


short_type = _short_type
