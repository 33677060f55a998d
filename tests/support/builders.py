"""Plan values for tests: digests, names and builders shared by the plan, output and fuzz tests.

Builders render real bodies (the digest is the body's), as the planner does, so a value built
here round-trips through the plan file and compares as the real thing would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mplat.plan.compare import compare
from mplat.plan.model import (
    OWNER_ANNOTATION,
    OWNER_TAGS_ANNOTATION,
    OWNER_VALUE,
    BlobCopy,
    Change,
    ChildCopy,
    Desired,
    DiffItem,
    Entry,
    ImageView,
    ListView,
    Plan,
    PlanError,
)
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import Descriptor, render_index
from mplat.values.platform import Platform
from mplat.values.reference import Reference, parse_repository

DA = "sha256:" + "a" * 64
DB = "sha256:" + "b" * 64
DC = "sha256:" + "c" * 64
DD = "sha256:" + "d" * 64
DE = "sha256:" + "e" * 64
DF = "sha256:" + "f" * 64
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
DO = "sha256:" + "0" * 64  # a live (old) list
DL = "sha256:" + "1" * 64  # a desired list
LIVE = "sha256:" + "e" * 64
REPO = "localhost:5000/acme/app"
OTHER = "localhost:5000/acme/other"
SRC = "localhost:5000/acme/src"
OWNED = {OWNER_ANNOTATION: OWNER_VALUE}
SUBJECT = Entry(mt.OCI_MANIFEST, DD, 99, None)  # the manifest a referrer index is about


def ref(name: str = REPO) -> Reference:
    """A repository as plan values hold it; ``name`` is written exactly as it prints."""
    return parse_repository(name)


def entry(
    digest: str = DA,
    os: str = "linux",
    arch: str = "amd64",
    *,
    size: int = 423,
    media_type: str = mt.OCI_MANIFEST,
    annotations: dict[str, str] | None = None,
    **platform: Any,
) -> Entry:
    """An entry; extra platform fields by keyword, ``os_version`` for "os.version"."""
    p: dict[str, object] = {"architecture": arch, "os": os}
    p.update({k.replace("_", "."): v for k, v in platform.items()})
    return Entry(media_type, digest, size, p, annotations or {})


def view(
    *entries: Entry,
    annotations: Mapping[str, str] | None = None,
    media_type: str = mt.OCI_INDEX,
    digest: str = LIVE,
) -> ListView:
    """A live list, marked as mplat's unless ``annotations`` says otherwise."""
    return ListView(
        media_type, digest, entries, dict(OWNED if annotations is None else annotations)
    )


def desired(
    *entries: Entry,
    annotations: dict[str, str] | None = None,
    media_type: str = mt.OCI_INDEX,
    children: tuple[ChildCopy, ...] = (),
    warnings: tuple[str, ...] = (),
    prevent_destroy: bool = False,
    repository: str = REPO,
    sources: dict[str, str] | None = None,
) -> Desired:
    """A Desired whose body and digest are really rendered, as the planner does."""
    ann = dict(OWNED if annotations is None else annotations)
    descriptors = [
        Descriptor(
            e.media_type,
            e.digest,
            e.size,
            Platform.from_json(e.platform) if e.platform else None,
            dict(e.annotations),
        )
        for e in entries
    ]
    body = render_index(media_type, descriptors, ann)
    return Desired(
        repository=ref(repository),
        media_type=media_type,
        body=body,
        digest=sha256_digest(body),
        entries=entries,
        annotations=ann,
        sources=sources or {},
        children=children,
        warnings=warnings,
        prevent_destroy=prevent_destroy,
    )


def two_platform_desired(
    *,
    media_type: str = mt.OCI_INDEX,
    annotations: dict[str, str] | None = None,
    children: tuple[ChildCopy, ...] = (),
    warnings: tuple[str, ...] = (),
    prevent_destroy: bool = False,
) -> Desired:
    """linux/amd64 and a windows entry with version, features and (OCI only) an annotation."""
    oci = media_type == mt.OCI_INDEX
    child_type = mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST
    descriptors = [
        Descriptor(child_type, DA, 423, Platform("linux", "amd64")),
        Descriptor(
            child_type,
            DB,
            1500,
            Platform("windows", "amd64", None, "10.0.1", ("win32k",)),
            {"k": "v"} if oci else {},
        ),
    ]
    ann = dict(OWNED) if annotations is None else annotations
    body = render_index(media_type, descriptors, ann)
    return Desired(
        repository=ref(REPO),
        media_type=media_type,
        body=body,
        digest=sha256_digest(body),
        entries=tuple(Entry.of(d) for d in descriptors),
        annotations=ann,
        sources={f"{SRC}:amd64": DA, f"{SRC}:windows": DB},
        children=children,
        warnings=warnings,
        prevent_destroy=prevent_destroy,
    )


def sample_plan() -> Plan:
    """Every action and every optional field that a plan file must carry."""
    child = ChildCopy(
        DB, mt.OCI_MANIFEST, 1500, ref(SRC), (BlobCopy(DC, 10, "mount"), BlobCopy(DO, 20, "copy"))
    )
    oci = two_platform_desired(children=(child,))
    docker = two_platform_desired(media_type=mt.DOCKER_LIST, annotations={}, prevent_destroy=True)
    old_list = ListView(mt.OCI_INDEX, DO, (Entry(mt.OCI_MANIFEST, DC, 5, None),), {"a": "b"})
    changes = (
        compare(oci, "latest", None, children_missing=True),
        compare(oci, "1.0", old_list, children_missing=True),
        compare(oci, "img", ImageView(mt.DOCKER_MANIFEST, DC), children_missing=False),
        compare(oci, "same", oci.view(), children_missing=True),
        compare(docker, "docker", docker.view(), children_missing=False),
        Change(ref(REPO), "gone", "delete", ImageView(mt.OCI_MANIFEST, DC), None, DC),
        Change(ref(REPO), "kept", "delete", old_list, None, DO, prevent_destroy=True),
        Change(ref(REPO), "absent", "no-op", None, None, None),
    )
    assert [c.action for c in changes] == [
        "create",
        "update",
        "update",
        "repair",
        "no-op",
        "delete",
        "delete",
        "no-op",
    ]
    return Plan(changes)


CHILD = ChildCopy(
    DA,
    mt.OCI_MANIFEST,
    423,
    ref("localhost:5000/src"),
    (BlobCopy(DB, 100, "copy"), BlobCopy(DC, 1000, "mount"), BlobCopy(DD, 5, "copy")),
)
"""A child to copy: 105 bytes of blobs to copy, 1000 to mount."""

# --- changes as the text and JSON renderers see them ------------------------------------------

AMD64 = Entry(mt.OCI_MANIFEST, DA, 423, {"architecture": "amd64", "os": "linux"})
ARM64 = Entry(mt.OCI_MANIFEST, DB, 1500, {"architecture": "arm64", "os": "linux", "variant": "v8"})
WIN = Entry(
    mt.OCI_MANIFEST,
    DC,
    2_500_000,
    {"architecture": "amd64", "os": "windows", "os.version": "10.0.1"},
)
AFTER = ListView(mt.OCI_INDEX, DL, (AMD64, ARM64), OWNED)
"""The list the change builders below want; its body is not rendered (text tests need none)."""


def shown_desired(children: tuple[ChildCopy, ...] = ()) -> Desired:
    return Desired(
        repository=ref(REPO),
        media_type=AFTER.media_type,
        body=b"{}",
        digest=AFTER.digest,
        entries=AFTER.entries,
        annotations=AFTER.annotations,
        children=children,
    )


def create(
    tag: str = "latest", children: tuple[ChildCopy, ...] = (), warnings: tuple[str, ...] = ()
) -> Change:
    return Change(
        repository=ref(REPO),
        tag=tag,
        action="create",
        before=None,
        after=AFTER,
        live_digest=None,
        desired=shown_desired(children),
        warnings=warnings,
    )


def update(diff: tuple[DiffItem, ...], before: ListView | ImageView | None = None) -> Change:
    """An update of a list mplat wrote for this tag (pass ``before`` for drift)."""
    marker = {OWNER_ANNOTATION: OWNER_VALUE, OWNER_TAGS_ANNOTATION: f"{REPO}:1.0"}
    before = before or ListView(mt.OCI_INDEX, DO, (AMD64,), marker)
    return Change(
        repository=ref(REPO),
        tag="1.0",
        action="update",
        before=before,
        after=AFTER,
        live_digest=before.digest,
        desired=shown_desired(),
        diff=diff,
    )


def no_op(tag: str = "stable") -> Change:
    return Change(ref(REPO), tag, "no-op", AFTER, AFTER, DL, shown_desired())


def delete(prevent_destroy: bool = False) -> Change:
    before = ListView(mt.DOCKER_LIST, DO, (), {})
    return Change(ref(REPO), "old", "delete", before, None, DO, prevent_destroy=prevent_destroy)


ERRORS = (PlanError("m.yaml:3:5: source not found", ref(SRC), ("x", "y")), PlanError("plain"))
