"""Tests for mplat.plan.model: entries, list meaning, the compare() decision and describe_diff."""

from __future__ import annotations

from typing import Any

import pytest

from mplat.plan.model import (
    OWNER_ANNOTATION,
    OWNER_TAGS_ANNOTATION,
    OWNER_VALUE,
    BlobCopy,
    Change,
    ChildCopy,
    Desired,
    Entry,
    ImageView,
    ListView,
    Plan,
    PlanError,
    compare,
    describe_diff,
    owner_annotations,
    ownership,
    short_type,
)
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import Descriptor, Index, render_index
from mplat.values.platform import Platform

DA = "sha256:" + "a" * 64
DB = "sha256:" + "b" * 64
DC = "sha256:" + "c" * 64
DD = "sha256:" + "d" * 64
LIVE = "sha256:" + "e" * 64
REPO = "localhost:5000/acme/app"
OWNED = {OWNER_ANNOTATION: OWNER_VALUE}
SUBJECT = Entry(mt.OCI_MANIFEST, DD, 99, None)


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
    p: dict[str, object] = {"architecture": arch, "os": os}
    p.update({k.replace("_", "."): v for k, v in platform.items()})
    return Entry(media_type, digest, size, p, annotations or {})


def view(
    *entries: Entry,
    annotations: dict[str, str] | None = None,
    media_type: str = mt.OCI_INDEX,
    digest: str = LIVE,
) -> ListView:
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
        repository=REPO,
        media_type=media_type,
        body=body,
        digest=sha256_digest(body),
        entries=entries,
        annotations=ann,
        children=children,
        warnings=warnings,
        prevent_destroy=prevent_destroy,
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


def test_entry_to_json_omits_empty_fields() -> None:
    assert Entry(mt.OCI_MANIFEST, DA, 1, None).to_json() == {
        "mediaType": mt.OCI_MANIFEST,
        "digest": DA,
        "size": 1,
    }
    full = entry(annotations={"k": "v"}).to_json()
    assert list(full) == ["mediaType", "digest", "size", "platform", "annotations"]


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


def test_view_to_json() -> None:
    assert ImageView(mt.OCI_MANIFEST, DA).to_json() == {
        "kind": "image",
        "mediaType": mt.OCI_MANIFEST,
        "digest": DA,
    }
    out = view(entry(), annotations={"a": "b"}).to_json()
    assert out == {
        "kind": "list",
        "mediaType": mt.OCI_INDEX,
        "digest": LIVE,
        "manifests": [entry().to_json()],
        "annotations": {"a": "b"},
    }
    assert "annotations" not in view(entry(), annotations={}).to_json()


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


# --- compare -----------------------------------------------------------------------------------


def test_compare_absent_tag_is_create() -> None:
    want = desired(entry(), warnings=("w1",), prevent_destroy=True)
    c = compare(want, "latest", None, children_missing=False)
    assert c.action == "create"
    assert c.before is None
    assert c.live_digest is None
    assert c.after == want.view()
    assert c.desired is want
    assert c.diff == ()
    assert c.warnings == ("w1",)
    assert c.prevent_destroy is True
    assert c.address == f"{REPO}:latest"


def test_compare_single_image_is_replaced_by_a_list() -> None:
    want = desired(entry())
    live = ImageView(mt.DOCKER_MANIFEST, DA)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "update"
    assert c.before == live
    assert c.live_digest == DA
    assert c.diff == (f"replace single image ({mt.DOCKER_MANIFEST}) with a list",)


def test_compare_same_digest_is_no_op() -> None:
    want = desired(entry(DA), entry(DB, arch="arm64"))
    live = ListView(want.media_type, want.digest, want.entries, want.annotations)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "no-op"
    assert c.diff == ()
    assert c.live_digest == want.digest


def test_compare_in_sync_with_missing_children_is_repair() -> None:
    child = ChildCopy(DB, mt.OCI_MANIFEST, 423, "localhost:5000/acme/src")
    want = desired(entry(DA), entry(DB, arch="arm64"), children=(child,))
    c = compare(want, "latest", want.view(), children_missing=True)
    assert c.action == "repair"
    assert c.diff == (f"child {DB} missing from the repository",)
    assert c.children == (child,)


def test_compare_same_meaning_different_bytes_is_no_op() -> None:
    """E.g. pushed by `docker manifest push`: other bytes, same entries, so never rewritten."""
    want = desired(entry(DA), entry(DB, arch="arm64"))
    live = view(entry(DA), entry(DB, arch="arm64"), annotations=OWNED, digest=LIVE)
    assert live.digest != want.digest
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "no-op"
    assert c.before == live
    assert c.live_digest == LIVE


def test_compare_foreign_list_without_owner_annotation_is_in_sync() -> None:
    want = desired(entry(DA))
    live = view(entry(DA), annotations={})
    assert compare(want, "v1", live, children_missing=False).action == "no-op"
    assert compare(want, "v1", live, children_missing=True).action == "repair"


def test_compare_different_list_is_update_with_diff() -> None:
    want = desired(entry(DB))
    live = view(entry(DA))
    c = compare(want, "latest", live, children_missing=True)
    assert c.action == "update"
    assert c.live_digest == LIVE
    assert c.diff == (f"~ linux/amd64: digest: {DA} -> {DB}",)


def test_compare_docker_list_vs_oci_index_is_update() -> None:
    want = desired(
        entry(DA, media_type=mt.DOCKER_MANIFEST), media_type=mt.DOCKER_LIST, annotations={}
    )
    live = view(entry(DA, media_type=mt.DOCKER_MANIFEST), annotations=OWNED)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "update"
    assert c.diff == ("media type: OCI index -> Docker manifest list",)


# --- describe_diff -----------------------------------------------------------------------------


def test_diff_changed_digest() -> None:
    assert describe_diff(view(entry(DA)), view(entry(DB))) == (
        f"~ linux/amd64: digest: {DA} -> {DB}",
    )


def test_diff_changed_size_and_entry_media_type() -> None:
    lines = describe_diff(
        view(entry(DA, size=1)), view(entry(DA, size=2, media_type=mt.DOCKER_MANIFEST))
    )
    assert set(lines) == {
        f"~ linux/amd64: mediaType: {mt.OCI_MANIFEST} -> {mt.DOCKER_MANIFEST}",
        "~ linux/amd64: size: 1 -> 2",
    }


def test_diff_added_and_removed_platforms() -> None:
    before = view(entry(DA), entry(DB, arch="arm", variant="v7"))
    after = view(entry(DA), entry(DC, arch="arm64"), entry(DD, arch="ppc64le"))
    assert describe_diff(before, after) == (
        f"+ linux/arm64: {DC}",
        f"+ linux/ppc64le: {DD}",
        f"- linux/arm/v7: {DB}",
    )


def test_diff_changed_platform_fields_show_as_replaced_entries() -> None:
    """Every platform field is part of the label, so a changed field is a remove plus an add."""
    before = view(entry(DA, os="windows", os_version="10.0.1"))
    after = view(entry(DA, os="windows", os_version="10.0.2"))
    assert describe_diff(before, after) == (
        f"+ windows/amd64 10.0.2: {DA}",
        f"- windows/amd64 10.0.1: {DA}",
    )
    assert describe_diff(view(entry(arch="arm64")), view(entry(arch="arm64", variant="v8"))) == (
        f"+ linux/arm64/v8: {DA}",
        f"- linux/arm64: {DA}",
    )


def test_diff_changed_entry_annotation_value() -> None:
    before = view(entry(DA, annotations={"k": "v"}))
    after = view(entry(DA, annotations={"k": "w"}))
    assert describe_diff(before, after) == ("~ linux/amd64: annotations.k: v -> w",)


def test_diff_added_entry_annotation_is_not_reported_as_an_added_entry() -> None:
    """An annotation added to an existing entry must not read as "+ linux/amd64: <digest>"."""
    before = view(entry(DA, annotations={"k": "v"}))
    after = view(entry(DA, annotations={"k": "v", "j": "x"}))
    lines = describe_diff(before, after)
    assert f"+ linux/amd64: {DA}" not in lines
    assert any("annotations" in line and "j" in line for line in lines), lines


def test_diff_entry_gaining_annotations_is_not_reported_as_an_added_entry() -> None:
    lines = describe_diff(view(entry(DA)), view(entry(DA, annotations={"k": "v"})))
    assert f"+ linux/amd64: {DA}" not in lines
    assert any("annotations" in line for line in lines), lines


def test_diff_entry_losing_annotations_is_not_reported_as_a_removed_entry() -> None:
    lines = describe_diff(view(entry(DA, annotations={"k": "v"})), view(entry(DA)))
    assert f"- linux/amd64: {DA}" not in lines
    assert any("annotations" in line for line in lines), lines


def test_diff_order_change() -> None:
    before = view(entry(DA), entry(DB, arch="arm64"))
    after = view(entry(DB, arch="arm64"), entry(DA))
    assert describe_diff(before, after) == ("~ entry order: linux/arm64, linux/amd64",)


def test_diff_removal_alone_is_not_an_order_change() -> None:
    before = view(entry(DA), entry(DB, arch="arm64"), entry(DC, arch="s390x"))
    after = view(entry(DA), entry(DC, arch="s390x"))
    assert describe_diff(before, after) == (f"- linux/arm64: {DB}",)


def test_diff_media_type_change() -> None:
    before = view(entry(DA), media_type=mt.DOCKER_LIST, annotations={})
    after = view(entry(DA), media_type=mt.OCI_INDEX)
    assert describe_diff(before, after) == ("media type: Docker manifest list -> OCI index",)


def test_diff_index_annotations() -> None:
    before = view(entry(), annotations={"keep": "1", "drop": "x", "change": "old"})
    after = view(entry(), annotations={**OWNED, "keep": "1", "change": "new", "add": "y"})
    assert describe_diff(before, after) == (
        "+ annotation add = 'y'",
        "~ annotation change: 'old' -> 'new'",
        "- annotation drop = 'x'",
    )


def test_diff_ignores_the_ownership_annotation() -> None:
    before = view(entry(DA), annotations={})
    after = view(entry(DB), annotations=OWNED)
    assert describe_diff(before, after) == (f"~ linux/amd64: digest: {DA} -> {DB}",)


def test_diff_same_meaning_different_bytes() -> None:
    assert describe_diff(view(entry(), digest=DC), view(entry(), digest=DD)) == (
        "same entries, different bytes",
    )


def test_diff_from_empty_list() -> None:
    assert describe_diff(view(), view(entry(DA))) == (f"+ linux/amd64: {DA}",)


def test_diff_label_with_quote_keeps_the_entry_name() -> None:
    """Live lists come from registries: platform strings may contain any character."""
    lines = describe_diff(view(entry(DA, os="it's")), view(entry(DB, os="it's")))
    assert lines == (f"~ it's/amd64: digest: {DA} -> {DB}",)


def test_diff_added_entry_with_quote_in_label_does_not_crash() -> None:
    lines = describe_diff(view(entry(DA)), view(entry(DA), entry(DB, os="it's")))
    assert lines == (f"+ it's/amd64: {DB}",)


# --- Plan and friends --------------------------------------------------------------------------


def _change(action: str, *, prevent_destroy: bool = False) -> Change:
    return Change(
        repository=REPO,
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


def test_child_copy_bytes_and_json() -> None:
    cp = ChildCopy(
        DA,
        mt.OCI_MANIFEST,
        423,
        "localhost:5000/src",
        (BlobCopy(DB, 100, "copy"), BlobCopy(DC, 1000, "mount"), BlobCopy(DD, 5, "copy")),
    )
    assert cp.bytes_to_copy == 105
    assert cp.to_json() == {
        "digest": DA,
        "mediaType": mt.OCI_MANIFEST,
        "size": 423,
        "source": "localhost:5000/src",
        "blobs": [
            {"digest": DB, "size": 100, "how": "copy"},
            {"digest": DC, "size": 1000, "how": "mount"},
            {"digest": DD, "size": 5, "how": "copy"},
        ],
    }


def test_plan_error_to_json() -> None:
    assert PlanError("boom", REPO, ("a", "b")).to_json() == {
        "repository": REPO,
        "tags": ["a", "b"],
        "message": "boom",
    }
    assert PlanError("boom").to_json() == {"repository": None, "tags": [], "message": "boom"}


def test_desired_view_and_change_children() -> None:
    child = ChildCopy(DA, mt.OCI_MANIFEST, 1, "x/y")
    want = desired(entry(), annotations={"a": "b"}, children=(child,))
    assert want.view() == ListView(mt.OCI_INDEX, want.digest, want.entries, {"a": "b"})
    assert compare(want, "t", None, children_missing=False).children == (child,)
    assert _change("delete").children == ()


@pytest.mark.parametrize(
    ("media_type", "text"),
    [
        (mt.OCI_INDEX, "OCI index"),
        (mt.DOCKER_LIST, "Docker manifest list"),
        (mt.OCI_MANIFEST, "OCI image"),
        (mt.DOCKER_MANIFEST, "Docker image"),
        ("application/x-other", "application/x-other"),
    ],
)
def test_short_type(media_type: str, text: str) -> None:
    assert short_type(media_type) == text


# --- peers: artifactType, subject, ownership marker (issue 10) ---------------------------------


def test_list_view_of_index_keeps_artifact_type_and_subject() -> None:
    subject = Descriptor(mt.OCI_MANIFEST, DD, 99)
    child = Descriptor(mt.OCI_MANIFEST, DA, 5, artifact_type="a/sbom")
    v = ListView.of(Index(mt.OCI_INDEX, (child,), {}, "a/b", subject), LIVE)
    assert v.artifact_type == "a/b"
    assert v.subject == SUBJECT
    assert v.entries[0].artifact_type == "a/sbom"
    assert v.to_json()["artifactType"] == "a/b"
    assert v.to_json()["subject"] == {"mediaType": mt.OCI_MANIFEST, "digest": DD, "size": 99}
    assert v.to_json()["manifests"] == [
        {"mediaType": mt.OCI_MANIFEST, "digest": DA, "size": 5, "artifactType": "a/sbom"}
    ]


def test_compare_peer_referrer_is_update_naming_subject_and_artifact_type() -> None:
    want = desired(entry(DA))
    live = ListView(mt.OCI_INDEX, LIVE, (entry(DA),), OWNED, "a/sbom", SUBJECT)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "update"
    assert c.diff == ("- artifactType a/sbom", f"- subject {DD}")


def test_diff_changed_subject_and_artifact_type() -> None:
    other = Entry(mt.OCI_MANIFEST, DC, 99, None)
    before = ListView(mt.OCI_INDEX, LIVE, (), {}, "a/one", SUBJECT)
    after = ListView(mt.OCI_INDEX, DC, (), {}, "a/two", other)
    assert describe_diff(before, after) == (
        "- artifactType a/one",
        "+ artifactType a/two",
        f"- subject {DD}",
        f"+ subject {DC}",
    )


def test_owner_annotations_name_every_tag_sorted() -> None:
    assert owner_annotations(REPO, ["v2", "latest", "v2"]) == {
        OWNER_ANNOTATION: OWNER_VALUE,
        OWNER_TAGS_ANNOTATION: f"{REPO}:latest {REPO}:v2",
    }


def test_ownership_binds_to_the_tags_mplat_wrote() -> None:
    live = view(entry(), annotations=owner_annotations(REPO, ["a", "b"]))
    assert ownership(live, REPO, "a") == "owned"
    assert ownership(live, REPO, "b") == "owned"
    assert ownership(live, REPO, "copied") == "no"  # a peer's copy keeps the bytes
    assert ownership(live, "localhost:5000/acme/other", "a") == "no"  # another repository
    assert ownership(live, "localhost:5000/acme", "app:a") == "no"  # no prefix games
    assert ownership(view(entry(), annotations=OWNED), REPO, "a") == "old"
    assert ownership(view(entry(), annotations={}), REPO, "a") == "no"
    assert ownership(ImageView(mt.OCI_MANIFEST, DA), REPO, "a") == "no"
    assert ownership(None, REPO, "a") == "no"


def test_old_marker_list_is_in_sync_with_the_new_marker() -> None:
    """Upgrading mplat changes every desired digest; no list may be rewritten for that."""
    want = desired(entry(DA), annotations={**owner_annotations(REPO, ["v1"]), "k": "v"})
    old = view(entry(DA), annotations={**OWNED, "k": "v"})
    assert compare(want, "v1", old, children_missing=False).action == "no-op"
    other_tags = view(entry(DA), annotations={**owner_annotations(REPO, ["x"]), "k": "v"})
    assert compare(want, "v1", other_tags, children_missing=False).action == "no-op"
    assert describe_diff(old, view(entry(DB), annotations=want.annotations)) == (
        f"~ linux/amd64: digest: {DA} -> {DB}",
    )
