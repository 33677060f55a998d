"""Tests for mplat.plan.compare: the compare() decision, ownership, and the diff as data.

The diff tests check the lines the JSON plan carries (``diff_line`` of each item), exactly as
they always read; the item tests at the end check the data those lines are made from.
"""

from __future__ import annotations

from mplat.plan.compare import (
    change_diff,
    compare,
    describe_diff,
    owner_annotations,
    ownership,
)
from mplat.plan.model import (
    OWNER_ANNOTATION,
    OWNER_TAGS_ANNOTATION,
    OWNER_VALUE,
    ChildCopy,
    DiffItem,
    Entry,
    ImageView,
    ListView,
)
from mplat.plan.wording import diff_line
from mplat.values import mediatypes as mt
from tests.support.builders import (
    DA,
    DB,
    DC,
    DD,
    LIVE,
    OWNED,
    REPO,
    SRC,
    SUBJECT,
    desired,
    entry,
    ref,
    view,
)


def text(items: tuple[DiffItem, ...]) -> tuple[str, ...]:
    return tuple(diff_line(i) for i in items)


def diff_lines(before: ListView, after: ListView) -> tuple[str, ...]:
    return text(describe_diff(before, after))


# --- compare -----------------------------------------------------------------------------------


def test_compare_absent_tag_is_create() -> None:
    want = desired(entry(), warnings=("w1",), prevent_destroy=True)
    c = compare(want, "latest", None, children_missing=False)
    assert c.action == "create"
    assert c.before is None
    assert c.live_digest is None
    assert c.after == want.view()
    assert c.desired is want
    assert text(c.diff) == ()
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
    assert text(c.diff) == (f"replace single image ({mt.DOCKER_MANIFEST}) with a list",)


def test_compare_same_digest_is_no_op() -> None:
    want = desired(entry(DA), entry(DB, arch="arm64"))
    live = ListView(want.media_type, want.digest, want.entries, want.annotations)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "no-op"
    assert text(c.diff) == ()
    assert c.live_digest == want.digest


def test_compare_in_sync_with_missing_children_is_repair() -> None:
    child = ChildCopy(DB, mt.OCI_MANIFEST, 423, ref(SRC))
    want = desired(entry(DA), entry(DB, arch="arm64"), children=(child,))
    c = compare(want, "latest", want.view(), children_missing=True)
    assert c.action == "repair"
    assert text(c.diff) == (f"child {DB} missing from the repository",)
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
    assert text(c.diff) == (f"~ linux/amd64: digest: {DA} -> {DB}",)


def test_compare_docker_list_vs_oci_index_is_update() -> None:
    want = desired(
        entry(DA, media_type=mt.DOCKER_MANIFEST), media_type=mt.DOCKER_LIST, annotations={}
    )
    live = view(entry(DA, media_type=mt.DOCKER_MANIFEST), annotations=OWNED)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "update"
    assert text(c.diff) == ("media type: OCI index -> Docker manifest list",)


def test_compare_peer_referrer_is_update_naming_subject_and_artifact_type() -> None:
    want = desired(entry(DA))
    live = ListView(mt.OCI_INDEX, LIVE, (entry(DA),), OWNED, "a/sbom", SUBJECT)
    c = compare(want, "latest", live, children_missing=False)
    assert c.action == "update"
    assert text(c.diff) == ("- artifactType a/sbom", f"- subject {DD}")


# --- describe_diff, as the lines the JSON documents carry -----------------------------------------


def test_diff_changed_digest() -> None:
    assert diff_lines(view(entry(DA)), view(entry(DB))) == (f"~ linux/amd64: digest: {DA} -> {DB}",)


def test_diff_changed_size_and_entry_media_type() -> None:
    lines = diff_lines(
        view(entry(DA, size=1)), view(entry(DA, size=2, media_type=mt.DOCKER_MANIFEST))
    )
    assert set(lines) == {
        f"~ linux/amd64: mediaType: {mt.OCI_MANIFEST} -> {mt.DOCKER_MANIFEST}",
        "~ linux/amd64: size: 1 -> 2",
    }


def test_diff_added_and_removed_platforms() -> None:
    before = view(entry(DA), entry(DB, arch="arm", variant="v7"))
    after = view(entry(DA), entry(DC, arch="arm64"), entry(DD, arch="ppc64le"))
    assert diff_lines(before, after) == (
        f"+ linux/arm64: {DC}",
        f"+ linux/ppc64le: {DD}",
        f"- linux/arm/v7: {DB}",
    )


def test_diff_changed_platform_fields_show_as_replaced_entries() -> None:
    """Every platform field is part of the label, so a changed field is a remove plus an add."""
    before = view(entry(DA, os="windows", os_version="10.0.1"))
    after = view(entry(DA, os="windows", os_version="10.0.2"))
    assert diff_lines(before, after) == (
        f"+ windows/amd64 10.0.2: {DA}",
        f"- windows/amd64 10.0.1: {DA}",
    )
    assert diff_lines(view(entry(arch="arm64")), view(entry(arch="arm64", variant="v8"))) == (
        f"+ linux/arm64/v8: {DA}",
        f"- linux/arm64: {DA}",
    )


def test_diff_changed_entry_annotation_value() -> None:
    before = view(entry(DA, annotations={"k": "v"}))
    after = view(entry(DA, annotations={"k": "w"}))
    assert diff_lines(before, after) == ("~ linux/amd64: annotations.k: v -> w",)


def test_diff_added_entry_annotation_is_not_reported_as_an_added_entry() -> None:
    """An annotation added to an existing entry must not read as "+ linux/amd64: <digest>"."""
    before = view(entry(DA, annotations={"k": "v"}))
    after = view(entry(DA, annotations={"k": "v", "j": "x"}))
    lines = diff_lines(before, after)
    assert f"+ linux/amd64: {DA}" not in lines
    assert any("annotations" in line and "j" in line for line in lines), lines


def test_diff_entry_gaining_annotations_is_not_reported_as_an_added_entry() -> None:
    lines = diff_lines(view(entry(DA)), view(entry(DA, annotations={"k": "v"})))
    assert f"+ linux/amd64: {DA}" not in lines
    assert any("annotations" in line for line in lines), lines


def test_diff_entry_losing_annotations_is_not_reported_as_a_removed_entry() -> None:
    lines = diff_lines(view(entry(DA, annotations={"k": "v"})), view(entry(DA)))
    assert f"- linux/amd64: {DA}" not in lines
    assert any("annotations" in line for line in lines), lines


def test_diff_order_change() -> None:
    before = view(entry(DA), entry(DB, arch="arm64"))
    after = view(entry(DB, arch="arm64"), entry(DA))
    assert diff_lines(before, after) == ("~ entry order: linux/arm64, linux/amd64",)


def test_diff_removal_alone_is_not_an_order_change() -> None:
    before = view(entry(DA), entry(DB, arch="arm64"), entry(DC, arch="s390x"))
    after = view(entry(DA), entry(DC, arch="s390x"))
    assert diff_lines(before, after) == (f"- linux/arm64: {DB}",)


def test_diff_media_type_change() -> None:
    before = view(entry(DA), media_type=mt.DOCKER_LIST, annotations={})
    after = view(entry(DA), media_type=mt.OCI_INDEX)
    assert diff_lines(before, after) == ("media type: Docker manifest list -> OCI index",)


def test_diff_index_annotations() -> None:
    before = view(entry(), annotations={"keep": "1", "drop": "x", "change": "old"})
    after = view(entry(), annotations={**OWNED, "keep": "1", "change": "new", "add": "y"})
    assert diff_lines(before, after) == (
        "+ annotation add = 'y'",
        "~ annotation change: 'old' -> 'new'",
        "- annotation drop = 'x'",
    )


def test_diff_ignores_the_ownership_annotation() -> None:
    before = view(entry(DA), annotations={})
    after = view(entry(DB), annotations=OWNED)
    assert diff_lines(before, after) == (f"~ linux/amd64: digest: {DA} -> {DB}",)


def test_diff_same_meaning_different_bytes() -> None:
    assert diff_lines(view(entry(), digest=DC), view(entry(), digest=DD)) == (
        "same entries, different bytes",
    )


def test_diff_from_empty_list() -> None:
    assert diff_lines(view(), view(entry(DA))) == (f"+ linux/amd64: {DA}",)


def test_diff_label_with_quote_keeps_the_entry_name() -> None:
    """Live lists come from registries: platform strings may contain any character."""
    lines = diff_lines(view(entry(DA, os="it's")), view(entry(DB, os="it's")))
    assert lines == (f"~ it's/amd64: digest: {DA} -> {DB}",)


def test_diff_added_entry_with_quote_in_label_does_not_crash() -> None:
    lines = diff_lines(view(entry(DA)), view(entry(DA), entry(DB, os="it's")))
    assert lines == (f"+ it's/amd64: {DB}",)


def test_diff_changed_subject_and_artifact_type() -> None:
    other = Entry(mt.OCI_MANIFEST, DC, 99, None)
    before = ListView(mt.OCI_INDEX, LIVE, (), {}, "a/one", SUBJECT)
    after = ListView(mt.OCI_INDEX, DC, (), {}, "a/two", other)
    assert diff_lines(before, after) == (
        "- artifactType a/one",
        "+ artifactType a/two",
        f"- subject {DD}",
        f"+ subject {DC}",
    )


# --- peers: artifactType, subject, ownership marker (issue 10) ---------------------------------


def test_owner_annotations_name_every_tag_sorted() -> None:
    assert owner_annotations([ref()], ["v2", "latest", "v2"]) == {
        OWNER_ANNOTATION: OWNER_VALUE,
        OWNER_TAGS_ANNOTATION: f"{REPO}:latest {REPO}:v2",
    }


def test_owner_annotations_of_one_list_in_several_repositories_name_each() -> None:
    other = ref("ghcr.io/acme/app")
    marker = owner_annotations([ref(), other], ["v1"])
    assert marker[OWNER_TAGS_ANNOTATION] == f"ghcr.io/acme/app:v1 {REPO}:v1"
    live = view(entry(), annotations=marker)
    assert ownership(live, ref(), "v1") == ownership(live, other, "v1") == "owned"
    assert ownership(live, ref("quay.io/acme/app"), "v1") == "no"


def test_ownership_binds_to_the_tags_mplat_wrote() -> None:
    live = view(entry(), annotations=owner_annotations([ref()], ["a", "b"]))
    assert ownership(live, ref(), "a") == "owned"
    assert ownership(live, ref(), "b") == "owned"
    assert ownership(live, ref(), "copied") == "no"  # a peer's copy keeps the bytes
    assert ownership(live, ref("localhost:5000/acme/other"), "a") == "no"  # another repository
    assert ownership(live, ref("localhost:5000/acme"), "app:a") == "no"  # no prefix games
    assert ownership(view(entry(), annotations=OWNED), ref(), "a") == "old"
    assert ownership(view(entry(), annotations={}), ref(), "a") == "no"
    assert ownership(ImageView(mt.OCI_MANIFEST, DA), ref(), "a") == "no"
    assert ownership(None, ref(), "a") == "no"


def test_old_marker_list_is_in_sync_with_the_new_marker() -> None:
    """Upgrading mplat changes every desired digest; no list may be rewritten for that."""
    want = desired(entry(DA), annotations={**owner_annotations([ref()], ["v1"]), "k": "v"})
    old = view(entry(DA), annotations={**OWNED, "k": "v"})
    assert compare(want, "v1", old, children_missing=False).action == "no-op"
    other_tags = view(entry(DA), annotations={**owner_annotations([ref()], ["x"]), "k": "v"})
    assert compare(want, "v1", other_tags, children_missing=False).action == "no-op"
    assert diff_lines(old, view(entry(DB), annotations=want.annotations)) == (
        f"~ linux/amd64: digest: {DA} -> {DB}",
    )


# --- the diff as data: kinds and fields, so renderers need not read text ---------------------


def test_items_of_entries_name_the_entry_and_the_field() -> None:
    before = view(entry(DA, size=1, annotations={"k": "v"}), entry(DB, arch="arm", variant="v7"))
    after = view(entry(DA, size=2, annotations={"k": "w", "j": "x"}), entry(DC, arch="arm64"))
    assert describe_diff(before, after) == (
        DiffItem("added", "linux/arm64", (), None, DC),
        DiffItem("removed", "linux/arm/v7", (), DB, None),
        DiffItem("added", "linux/amd64", ("annotations", "j"), None, "x"),
        DiffItem("changed", "linux/amd64", ("annotations", "k"), "v", "w"),
        DiffItem("changed", "linux/amd64", ("size",), 1, 2),
    )


AMD64, ARM64 = "linux/amd64", "linux/arm64"


def test_items_of_the_list_itself_have_no_label() -> None:
    before = ListView(mt.DOCKER_LIST, LIVE, (entry(DA), entry(DB, arch="arm64")), {"a": "1"})
    after = ListView(
        mt.OCI_INDEX, DC, (entry(DB, arch="arm64"), entry(DA)), {"a": "2", "b": "3"}, "a/x"
    )
    items = describe_diff(before, after)
    assert items == (
        DiffItem("changed", "", ("mediaType",), mt.DOCKER_LIST, mt.OCI_INDEX),
        DiffItem(
            "changed",
            "",
            ("manifests",),
            ("linux/amd64", "linux/arm64"),
            ("linux/arm64", "linux/amd64"),
        ),
        DiffItem("added", "", ("artifactType",), None, "a/x"),
        DiffItem("changed", "", ("annotations", "a"), "1", "2"),
        DiffItem("added", "", ("annotations", "b"), None, "3"),
    )
    assert text(items) == (
        "media type: Docker manifest list -> OCI index",
        "~ entry order: linux/arm64, linux/amd64",
        "+ artifactType a/x",
        "~ annotation a: '1' -> '2'",
        "+ annotation b = '3'",
    )


def test_removed_subject_is_an_item_with_its_digest() -> None:
    before = ListView(mt.OCI_INDEX, LIVE, (), {}, None, SUBJECT)
    assert describe_diff(before, view(annotations={})) == (
        DiffItem("removed", "", ("subject",), DD, None),
    )


def test_facts_without_values_are_notes() -> None:
    assert describe_diff(view(entry(), digest=DC), view(entry(), digest=DD)) == (
        DiffItem("note", "same entries, different bytes"),
    )
    image = compare(desired(entry()), "t", ImageView(mt.DOCKER_MANIFEST, DA), False)
    assert [i.kind for i in image.diff] == ["note"]


def test_every_item_kind_is_one_of_four() -> None:
    before = view(entry(DA, annotations={"k": "v"}), entry(DB, arch="arm64"))
    after = view(entry(DC, annotations={"k": "w"}), entry(DD, arch="s390x"), annotations={"n": "1"})
    kinds = {i.kind for i in describe_diff(before, after)}
    assert kinds == {"added", "removed", "changed"}


def test_change_diff_is_what_compare_stores() -> None:
    """A loaded plan file derives its diff with change_diff: it must agree with compare()."""
    child = ChildCopy(DB, mt.OCI_MANIFEST, 423, ref(SRC))
    want = desired(entry(DB), children=(child,))
    for live, missing in [
        (None, False),
        (view(entry(DA)), False),
        (ImageView(mt.OCI_MANIFEST, DA), False),
        (want.view(), True),
        (want.view(), False),
    ]:
        c = compare(want, "t", live, children_missing=missing)
        assert change_diff(c.action, c.before, c.after, c.desired) == c.diff
    assert change_diff("delete", view(entry()), None, None) == ()
    assert change_diff("update", None, want.view(), want) == ()
