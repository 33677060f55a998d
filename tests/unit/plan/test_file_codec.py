"""Tests for mplat.plan.file_codec: the saved plan's format, round trips and a decoder that
checks every field (messages name no file: plan.planfile puts the path in front)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest

from mplat import __version__
from mplat.output.text import render_plan
from mplat.plan.compare import compare
from mplat.plan.file_codec import FORMAT, VERSION, PlanFileError, decode, encode, to_document
from mplat.plan.json_codec import FORMAT_VERSION, plan_to_json
from mplat.plan.model import Change, DiffItem, Entry, ListView, Plan
from mplat.plan.wording import diff_line
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from tests.support.builders import (
    DA,
    DB,
    DC,
    DO,
    REPO,
    SRC,
    desired,
    entry,
    ref,
    sample_plan,
    two_platform_desired,
    view,
)


def _doc(plan: Plan | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(encode(plan or sample_plan()))
    return doc


def _raw(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _decode_fails(raw: bytes, fragment: str) -> str:
    with pytest.raises(PlanFileError) as info:
        decode(raw)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    return message


# --- round trip --------------------------------------------------------------------------------


def test_round_trip_equals_the_original() -> None:
    plan = sample_plan()
    loaded = decode(encode(plan).encode())
    assert loaded == plan
    for before, after in zip(plan.changes, loaded.changes, strict=True):
        if before.desired is not None:
            assert after.desired is not None
            assert after.desired.body == before.desired.body


def test_round_trip_keeps_warnings() -> None:
    want = two_platform_desired(warnings=("declared variant v7 differs",))
    plan = Plan((compare(want, "latest", None, children_missing=False),))
    loaded = decode(encode(plan).encode())
    assert loaded.changes[0].warnings == ("declared variant v7 differs",)
    assert loaded == plan


def test_round_trip_of_empty_plan() -> None:
    assert decode(encode(Plan(())).encode()) == Plan(())


def test_file_layout() -> None:
    text = encode(sample_plan())
    doc = json.loads(text)
    assert text.endswith("}\n")
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert doc == to_document(sample_plan())
    assert doc["format"] == FORMAT == "mplat-plan"
    assert doc["version"] == VERSION == 1
    assert doc["mplat_version"] == __version__
    first = doc["changes"][0]
    assert first["action"] == "create"
    assert first["live_digest"] is None
    desired = first["desired"]
    assert sha256_digest(base64.b64decode(desired["body"])) == desired["digest"]
    assert desired["sources"] == {f"{SRC}:amd64": DA, f"{SRC}:windows": DB}


def test_encoding_is_deterministic() -> None:
    assert encode(sample_plan()) == encode(sample_plan())


def test_repositories_are_written_as_their_normalised_names() -> None:
    doc = _doc()
    assert doc["changes"][0]["repository"] == REPO
    assert doc["changes"][0]["desired"]["repository"] == REPO
    assert doc["changes"][0]["desired"]["children"][0]["source"] == SRC
    loaded = decode(_raw(doc)).changes[0]
    assert loaded.repository == ref(REPO) and loaded.address == f"{REPO}:latest"
    assert loaded.children[0].source == ref(SRC)


def test_round_trip_keeps_artifact_type_and_subject() -> None:
    """A peer's referrer index shown as "before" must load back exactly (issue 10)."""
    subject = Entry(mt.OCI_MANIFEST, DC, 9, None, {}, "a/subject")
    peer = ListView(
        mt.OCI_INDEX,
        DO,
        (Entry(mt.OCI_MANIFEST, DC, 5, None, {}, "a/sbom"),),
        {"a": "b"},
        "a/index",
        subject,
    )
    plan = Plan((compare(two_platform_desired(), "peer", peer, children_missing=False),))
    before = _doc(plan)["changes"][0]["before"]
    assert before["artifactType"] == "a/index"
    assert before["subject"]["artifactType"] == "a/subject"
    assert decode(encode(plan).encode()) == plan


# --- the diff: lines for readers, derived again from the views when read ----------------------


def test_diff_lines_are_written_as_the_json_plan_writes_them() -> None:
    doc = _doc()
    assert doc["changes"][2]["diff"] == [f"replace single image ({mt.DOCKER_MANIFEST}) with a list"]
    assert doc["changes"][3]["diff"] == [f"child {DB} missing from the repository"]
    assert doc["changes"][1]["diff"] == [
        f"+ linux/amd64: {DA}",
        f"+ windows/amd64 10.0.1 +win32k: {DB}",
        f"- (no platform) {DC[:19]}: {DC}",
        "- annotation a = 'b'",
    ]
    assert doc["changes"][1]["diff"] == plan_to_json(sample_plan())["changes"][1]["diff"]


def test_an_edited_diff_line_is_not_what_is_shown() -> None:
    """An update's diff follows from its before and after views, which are what apply uses."""
    doc = _doc()
    doc["changes"][1]["diff"] = ["+ nothing to see here"]
    loaded = decode(_raw(doc))
    assert loaded.changes[1].diff == sample_plan().changes[1].diff
    assert all(item.kind != "note" for item in loaded.changes[1].diff)


def test_a_delete_keeps_its_reason() -> None:
    reason = DiffItem("note", "no longer declared; written by mplat (prune: true)")
    prune = Change(ref(REPO), "old", "delete", None, None, DA, diff=(reason,))
    doc = _doc(Plan((prune,)))
    assert doc["changes"][0]["diff"] == ["no longer declared; written by mplat (prune: true)"]
    assert decode(_raw(doc)).changes[0].diff == (reason,)


def test_round_trip_keeps_each_entry_source_and_older_files_have_none() -> None:
    want = replace(two_platform_desired(), entry_sources=(f"{SRC}:amd64", f"{SRC}:arm64"))
    plan = Plan((compare(want, "latest", None, children_missing=False),))
    doc = _doc(plan)
    assert doc["changes"][0]["desired"]["entry_sources"] == [f"{SRC}:amd64", f"{SRC}:arm64"]
    loaded = decode(_raw(doc))
    assert loaded == plan
    del doc["changes"][0]["desired"]["entry_sources"]  # as mplat wrote plan files before
    older = decode(_raw(doc)).changes[0].desired
    assert older is not None and older.entry_sources == ()


@pytest.mark.parametrize(
    ("sources", "fragment"),
    [
        ([f"{SRC}:amd64"], "1 sources for 2 entries"),
        (["Not A Reference", f"{SRC}:x"], "entry_sources[0]: expected an image reference"),
        ([1, 2], "entry_sources[0]: expected a string"),
    ],
)
def test_bad_entry_sources_are_refused(sources: list[object], fragment: str) -> None:
    want = replace(two_platform_desired(), entry_sources=(f"{SRC}:amd64", f"{SRC}:arm64"))
    doc = _doc(Plan((compare(want, "latest", None, children_missing=False),)))
    doc["changes"][0]["desired"]["entry_sources"] = sources
    _decode_fails(_raw(doc), fragment)


# --- tampering ---------------------------------------------------------------------------------


def test_tampered_body_is_rejected() -> None:
    doc = _doc()
    body = base64.b64decode(doc["changes"][0]["desired"]["body"])
    evil = body.replace(b"amd64", b"arm64")
    assert evil != body
    doc["changes"][0]["desired"]["body"] = base64.b64encode(evil).decode()
    _decode_fails(_raw(doc), f"list body for {REPO}:latest does not match its digest")


def test_tampered_digest_is_rejected() -> None:
    doc = _doc()
    doc["changes"][1]["desired"]["digest"] = DC
    _decode_fails(_raw(doc), "does not match its digest")


def test_invalid_base64_body_is_rejected() -> None:
    doc = _doc()
    doc["changes"][0]["desired"]["body"] = "not base64 at all!"
    _decode_fails(_raw(doc), "malformed plan file")


# --- version and format: the file's version is its own --------------------------------------


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_version_is_rejected(version: object) -> None:
    doc = _doc()
    doc["version"] = version
    message = _decode_fails(
        _raw(doc), f"plan file version {version!r} is not supported (expected 1)"
    )
    assert message == f"plan file version {version!r} is not supported (expected 1)"


def test_missing_version_is_rejected() -> None:
    doc = _doc()
    del doc["version"]
    _decode_fails(_raw(doc), "version None is not supported")


def test_the_file_version_is_not_the_json_plan_version() -> None:
    """Each wire format is versioned on its own: the JSON plan's "2" is a string, not this."""
    doc = _doc()
    assert doc["version"] == VERSION and not isinstance(VERSION, str)
    doc["version"] = FORMAT_VERSION
    _decode_fails(_raw(doc), "plan file version '2' is not supported (expected 1)")


@pytest.mark.parametrize(
    "doc",
    [
        {"format": "terraform-plan", "version": 1, "changes": []},
        {"version": 1, "changes": []},
        [],
        "mplat-plan",
        42,
        None,
    ],
)
def test_wrong_format_is_rejected(doc: object) -> None:
    _decode_fails(_raw(doc), "not an mplat plan file")


# --- not a plan at all -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage", b"{", b"\xff\xfe\xfa\x00\x80", b"format = 'mplat-plan'\n"],
)
def test_garbage_is_rejected(raw: bytes) -> None:
    _decode_fails(raw, "not a plan file (not JSON)")


def test_deeply_nested_garbage_is_rejected() -> None:
    _decode_fails(b"[" * 100_000 + b"]" * 100_000, "not a plan file")


@pytest.mark.parametrize(
    "raw",
    [b'{"format": "mplat-plan", "version": 1, "changes": [], "x": ' + b"1" * 5000 + b"}"],
)
def test_numbers_python_cannot_read_are_not_json(raw: bytes) -> None:
    _decode_fails(raw, "not a plan file (not JSON)")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("changes"),
        lambda d: d.update(changes=5),
        lambda d: d.update(errors={"repository": "x"}),
        lambda d: d["changes"][0].pop("after"),
        lambda d: d["changes"][0].update(action="destroy"),
        lambda d: d["changes"][0]["desired"].pop("body"),
        lambda d: d["changes"][0]["desired"].update(body=5),
        lambda d: d["changes"][0]["after"]["manifests"][0].update(size="big"),
        lambda d: d["changes"][0]["after"].update(manifests=[5]),
        lambda d: d["changes"][0]["desired"]["children"][0]["blobs"][0].pop("how"),
        lambda d: d["changes"][1]["before"].pop("kind"),
    ],
)
def test_malformed_structure_is_rejected(mutate: Any) -> None:
    doc = _doc()
    mutate(doc)
    _decode_fails(_raw(doc), "malformed plan file")


@pytest.mark.parametrize("changes", [["x"], [[]], [7], {"latest": {}}])
def test_changes_that_are_not_objects_are_rejected(changes: object) -> None:
    doc = _doc()
    doc["changes"] = changes
    _decode_fails(_raw(doc), "malformed plan file")


# --- every field is checked while decoding -----------------------------------------------------


def _set(doc: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


BAD_FIELDS: dict[str, tuple[tuple[str | int, ...], object, str]] = {
    "infinite size": (
        ("changes", 0, "after", "manifests", 0, "size"),
        float("inf"),
        "changes[0].after.manifests[0].size: expected a whole number >= 0, got inf",
    ),
    "negative size": (
        ("changes", 0, "desired", "children", 0, "size"),
        -1,
        "changes[0].desired.children[0].size: expected a whole number >= 0, got -1",
    ),
    "boolean size": (
        ("changes", 0, "desired", "children", 0, "blobs", 0, "size"),
        True,
        "changes[0].desired.children[0].blobs[0].size: expected a whole number >= 0, got True",
    ),
    "platform is a list": (
        ("changes", 0, "after", "manifests", 0, "platform"),
        ["linux"],
        "changes[0].after.manifests[0].platform: expected an object, got a list",
    ),
    "platform without architecture": (
        ("changes", 0, "after", "manifests", 0, "platform"),
        {"os": "linux"},
        "changes[0].after.manifests[0].platform: platform field 'architecture' is missing",
    ),
    "null warning": (
        ("changes", 1, "warnings"),
        [None],
        "changes[1].warnings[0]: expected a string, got None",
    ),
    "diff line that is a list": (
        ("changes", 1, "diff"),
        [["~ x"]],
        "changes[1].diff[0]: expected a string, got a list",
    ),
    "errors that are not a list": (("errors",), 5, "errors: expected a list, got 5"),
    "media type that is an object": (
        ("changes", 0, "after", "manifests", 0, "mediaType"),
        {"a": 1},
        "changes[0].after.manifests[0].mediaType: expected a string, got an object",
    ),
    "digest that is an object": (
        ("changes", 0, "after", "digest"),
        {"a": 1},
        "changes[0].after.digest: expected a digest, got an object",
    ),
    "digest with a newline": (
        ("changes", 0, "after", "manifests", 0, "digest"),
        DA + "\n",
        "changes[0].after.manifests[0].digest: expected a digest, got 'sha256:",
    ),
    "upper-case sha256": (
        ("changes", 1, "live_digest"),
        DA.upper(),
        "changes[1].live_digest: expected a digest",
    ),
    "annotation that is a number": (
        ("changes", 1, "before", "annotations", "a"),
        1,
        "changes[1].before.annotations['a']: expected a string, got 1",
    ),
    "source digest that is null": (
        ("changes", 0, "desired", "sources", f"{SRC}:amd64"),
        None,
        f"changes[0].desired.sources['{SRC}:amd64']: expected a string, got None",
    ),
    "repository that is not normalised": (
        ("changes", 0, "repository"),
        "busybox",
        "changes[0].repository: expected a repository name (registry/path), got 'busybox'",
    ),
    "repository with a tag": (
        ("changes", 0, "desired", "repository"),
        REPO + ":latest",
        "changes[0].desired.repository: expected a repository name",
    ),
    "source with a control character": (
        ("changes", 0, "desired", "children", 0, "source"),
        SRC + "\x1b[2J",
        "changes[0].desired.children[0].source: expected a repository name (registry/path), "
        "got 'localhost:5000/acme/src\\x1b[2J'",
    ),
    "tag that is not a tag": (
        ("changes", 0, "tag"),
        "../latest",
        "changes[0].tag: expected a tag, got '../latest'",
    ),
    "unknown blob copy": (
        ("changes", 0, "desired", "children", 0, "blobs", 0, "how"),
        "teleport",
        "changes[0].desired.children[0].blobs[0].how: expected one of 'mount', 'copy', got "
        "'teleport'",
    ),
    "desired media type of an image": (
        ("changes", 0, "desired", "media_type"),
        mt.OCI_MANIFEST,
        "changes[0].desired.media_type: expected one of",
    ),
    "after is an image": (
        ("changes", 0, "after"),
        {"kind": "image", "mediaType": mt.OCI_MANIFEST, "digest": DA},
        "changes[0].after: expected a list or null, got an image",
    ),
    "prevent_destroy that is a string": (
        ("changes", 0, "prevent_destroy"),
        "no",
        "changes[0].prevent_destroy: expected true or false, got 'no'",
    ),
    "kind that is unknown": (
        ("changes", 1, "before", "kind"),
        "tarball",
        "changes[1].before.kind: expected one of 'image', 'list', got 'tarball'",
    ),
    "very long text is cut": (
        ("changes", 0, "tag"),
        "x" * 10_000,
        "changes[0].tag: expected a tag, got 'xxxxxxxx",
    ),
}


@pytest.mark.parametrize(("path", "value", "fragment"), BAD_FIELDS.values(), ids=BAD_FIELDS)
def test_every_field_is_checked_while_decoding(
    path: tuple[str | int, ...], value: object, fragment: str
) -> None:
    doc = _doc()
    _set(doc, path, value)
    message = _decode_fails(_raw(doc), f"malformed plan file ({fragment}")
    assert message.startswith("malformed plan file (") and message.endswith(")")
    assert message.isprintable() and len(message) < 300


def test_a_change_to_write_needs_its_after_view() -> None:
    doc = _doc()
    doc["changes"][0]["after"] = None
    _decode_fails(_raw(doc), "changes[0]: a change with a list to write needs its after")


def test_platforms_are_loaded_in_the_form_mplat_writes() -> None:
    # Unknown keys are dropped and empty optional fields read as absent, as from a registry.
    doc = _doc()
    doc["changes"][1]["before"]["manifests"][0]["platform"] = {
        "os": "linux",
        "architecture": "arm",
        "variant": "",
        "features": ["sse4"],
    }
    before = decode(_raw(doc)).changes[1].before
    assert isinstance(before, ListView)
    assert before.entries[0].platform == {"architecture": "arm", "os": "linux"}


# --- a plan file with errors is never decoded: it would apply only part of the work ----------


@pytest.mark.parametrize("errors", [[{"message": "source not found"}], [5], ["x", "y"]])
def test_a_plan_file_with_errors_is_refused(errors: list[object]) -> None:
    doc = _doc()
    doc["errors"] = errors
    message = _decode_fails(_raw(doc), f"the plan holds {len(errors)} error")
    assert "run plan again" in message


def test_a_loaded_diff_reads_as_it_did_when_planned() -> None:
    """The file sorts mapping keys; a whole mapping in a diff line keeps the registry's order."""
    live = view(entry(DA, annotations={"k": "w", "j": "x"}), annotations={})
    plan = Plan((compare(desired(entry(DA)), "t", live, children_missing=False),))
    line = "- linux/amd64: annotations = {'k': 'w', 'j': 'x'}"
    assert text(plan.changes[0].diff) == (line,)
    loaded = decode(encode(plan).encode())
    assert text(loaded.changes[0].diff) == (line,)
    assert loaded == plan
    assert render_plan(loaded) == render_plan(plan)


def text(items: tuple[DiffItem, ...]) -> tuple[str, ...]:
    return tuple(diff_line(i) for i in items)
