"""Tests for mplat.plan.model: entries, list meaning, plans and their parts."""

from __future__ import annotations

import pytest

from mplat.plan.compare import compare
from mplat.plan.model import (
    OWNER_ANNOTATION,
    OWNER_VALUE,
    Change,
    ChildCopy,
    Entry,
    ListView,
    Plan,
)
from mplat.values import mediatypes as mt
from mplat.values.manifest import Descriptor, Index
from mplat.values.platform import Platform
from tests.support.builders import (
    CHILD,
    DA,
    DB,
    DC,
    DD,
    LIVE,
    OWNED,
    REPO,
    SUBJECT,
    desired,
    entry,
    ref,
    view,
)

# --- Entry -------------------------------------------------------------------------------------


def test_entry_of_descriptor() -> None:
    d = Descriptor(mt.OCI_MANIFEST, DA, 9, Platform("linux", "arm", "v7"), {"k": "v"})
    assert Entry.of(d) == Entry(
        mt.OCI_MANIFEST, DA, 9, {"architecture": "arm", "os": "linux", "variant": "v7"}, {"k": "v"}
    )
    assert Entry.of(Descriptor(mt.OCI_MANIFEST, DA, 9)).platform is None


@pytest.mark.parametrize(
    ("e", "label"),
    [
        (entry(), "linux/amd64"),
        (entry(arch="arm64", variant="v8"), "linux/arm64/v8"),
        (entry(os="windows", os_version="10.0.17763.1066"), "windows/amd64 10.0.17763.1066"),
        (
            entry(os="windows", os_version="10.0.1", os_features=["win32k", "x"]),
            "windows/amd64 10.0.1 +win32k+x",
        ),
        (Entry(mt.OCI_MANIFEST, DA, 1, None), "(no platform) " + DA[:19]),
        (
            entry(
                DB,
                "unknown",
                "unknown",
                annotations={
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": DA,
                },
            ),
            "attestation for " + DA[:19],
        ),
        (
            entry(
                DB,
                "unknown",
                "unknown",
                annotations={"vnd.docker.reference.type": "attestation-manifest"},
            ),
            "attestation",
        ),
    ],
)
def test_entry_label(e: Entry, label: str) -> None:
    assert e.label() == label


# --- ListView / ImageView ----------------------------------------------------------------------


def test_list_view_of_index() -> None:
    index = Index(
        mt.DOCKER_LIST,
        (Descriptor(mt.DOCKER_MANIFEST, DA, 5, Platform("linux", "amd64")),),
        {},
    )
    v = ListView.of(index, LIVE)
    assert v == ListView(
        mt.DOCKER_LIST,
        LIVE,
        (Entry(mt.DOCKER_MANIFEST, DA, 5, {"architecture": "amd64", "os": "linux"}),),
        {},
    )


def test_meaning_ignores_the_ownership_annotation_and_the_digest() -> None:
    owned = view(entry(), annotations={OWNER_ANNOTATION: OWNER_VALUE, "a": "b"}, digest=DC)
    foreign = view(entry(), annotations={"a": "b"}, digest=DD)
    assert owned.meaning() == foreign.meaning()


def test_meaning_ignores_key_order() -> None:
    a = ListView(
        mt.OCI_INDEX,
        LIVE,
        (
            Entry(
                mt.OCI_MANIFEST,
                DA,
                1,
                {"os": "linux", "architecture": "amd64"},
                {"x": "1", "y": "2"},
            ),
        ),
        {"b": "1", "a": "2"},
    )
    b = ListView(
        mt.OCI_INDEX,
        DC,
        (
            Entry(
                mt.OCI_MANIFEST,
                DA,
                1,
                {"architecture": "amd64", "os": "linux"},
                {"y": "2", "x": "1"},
            ),
        ),
        {"a": "2", "b": "1"},
    )
    assert a.meaning() == b.meaning()


@pytest.mark.parametrize(
    "other",
    [
        view(entry(DB), entry(DA, arch="arm64")),  # order
        view(entry(DA), entry(DC, arch="arm64")),  # digest
        view(entry(DA, size=1), entry(DB, arch="arm64")),  # size
        view(entry(DA, media_type=mt.DOCKER_MANIFEST), entry(DB, arch="arm64")),  # entry type
        view(entry(DA), entry(DB, arch="arm64", variant="v8")),  # platform spelling
        view(entry(DA, annotations={"k": "v"}), entry(DB, arch="arm64")),  # entry annotation
        view(entry(DA), entry(DB, arch="arm64"), annotations={**OWNED, "k": "v"}),  # annotation
        view(entry(DA), entry(DB, arch="arm64"), media_type=mt.DOCKER_LIST),  # list type
        view(entry(DA)),  # entry removed
        ListView(mt.OCI_INDEX, LIVE, (entry(DA), entry(DB, arch="arm64")), OWNED, "a/b"),
        ListView(mt.OCI_INDEX, LIVE, (entry(DA), entry(DB, arch="arm64")), OWNED, None, SUBJECT),
        view(
            Entry(mt.OCI_MANIFEST, DA, 423, {"architecture": "amd64", "os": "linux"}, {}, "a/b"),
            entry(DB, arch="arm64"),
        ),  # artifactType of an entry
    ],
)
def test_meaning_sees_every_other_difference(other: ListView) -> None:
    base = view(entry(DA), entry(DB, arch="arm64"))
    assert base.meaning() != other.meaning()


# --- Plan and friends --------------------------------------------------------------------------


def _change(action: str, *, prevent_destroy: bool = False) -> Change:
    return Change(
        repository=ref(REPO),
        tag=action,
        action=action,  # type: ignore[arg-type]
        before=None,
        after=None,
        live_digest=None,
        prevent_destroy=prevent_destroy,
    )


def test_plan_summary_counts_every_action() -> None:
    plan = Plan(
        tuple(
            _change(a)
            for a in ("create", "create", "update", "repair", "delete", "no-op", "no-op", "no-op")
        )
    )
    assert plan.summary() == {"create": 2, "update": 1, "repair": 1, "delete": 1, "no_op": 3}
    assert list(plan.summary()) == ["create", "update", "repair", "delete", "no_op"]


def test_plan_has_changes() -> None:
    assert not Plan(()).has_changes
    assert not Plan((_change("no-op"), _change("no-op"))).has_changes
    for action in ("create", "update", "repair", "delete"):
        assert Plan((_change("no-op"), _change(action))).has_changes


def test_plan_blocked_only_lists_protected_deletions() -> None:
    protected = _change("delete", prevent_destroy=True)
    plan = Plan(
        (
            _change("delete"),
            protected,
            _change("create", prevent_destroy=True),
            _change("no-op", prevent_destroy=True),
        )
    )
    assert plan.blocked() == (protected,)
    assert Plan((_change("delete"),)).blocked() == ()


def test_child_copy_bytes() -> None:
    assert CHILD.bytes_to_copy == 105


def test_desired_view_and_change_children() -> None:
    child = ChildCopy(DA, mt.OCI_MANIFEST, 1, ref("x/y"))
    want = desired(entry(), annotations={"a": "b"}, children=(child,))
    assert want.view() == ListView(mt.OCI_INDEX, want.digest, want.entries, {"a": "b"})
    assert compare(want, "t", None, children_missing=False).children == (child,)
    assert _change("delete").children == ()
