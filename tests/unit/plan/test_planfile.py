"""Tests for mplat.plan.planfile: round trips, tamper detection, one-line errors, atomic writes."""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from mplat import __version__
from mplat.plan.model import (
    OWNER_ANNOTATION,
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
)
from mplat.plan.planfile import (
    FORMAT,
    MAX_PLAN_BYTES,
    VERSION,
    PlanFileError,
    dump_plan,
    load_plan,
    save_plan,
)
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import Descriptor, render_index
from mplat.values.platform import Platform

DA = "sha256:" + "a" * 64
DB = "sha256:" + "b" * 64
DC = "sha256:" + "c" * 64
DO = "sha256:" + "0" * 64
REPO = "localhost:5000/acme/app"
SRC = "localhost:5000/acme/src"


def _desired(
    *,
    media_type: str = mt.OCI_INDEX,
    annotations: dict[str, str] | None = None,
    children: tuple[ChildCopy, ...] = (),
    warnings: tuple[str, ...] = (),
    prevent_destroy: bool = False,
) -> Desired:
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
    ann = {OWNER_ANNOTATION: OWNER_VALUE} if annotations is None else annotations
    body = render_index(media_type, descriptors, ann)
    return Desired(
        repository=REPO,
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
        DB, mt.OCI_MANIFEST, 1500, SRC, (BlobCopy(DC, 10, "mount"), BlobCopy(DO, 20, "copy"))
    )
    oci = _desired(children=(child,))
    docker = _desired(media_type=mt.DOCKER_LIST, annotations={}, prevent_destroy=True)
    old_list = ListView(mt.OCI_INDEX, DO, (Entry(mt.OCI_MANIFEST, DC, 5, None),), {"a": "b"})
    changes = (
        compare(oci, "latest", None, children_missing=True),
        compare(oci, "1.0", old_list, children_missing=True),
        compare(oci, "img", ImageView(mt.DOCKER_MANIFEST, DC), children_missing=False),
        compare(oci, "same", oci.view(), children_missing=True),
        compare(docker, "docker", docker.view(), children_missing=False),
        Change(REPO, "gone", "delete", ImageView(mt.OCI_MANIFEST, DC), None, DC),
        Change(REPO, "kept", "delete", old_list, None, DO, prevent_destroy=True),
        Change(REPO, "absent", "no-op", None, None, None),
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


ERRORS = (PlanError("m.yaml:3:5: source not found", SRC, ("x", "y")), PlanError("plain"))


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _saved(tmp_path: Path, plan: Plan | None = None) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "plan.json"
    save_plan(plan or sample_plan(), path)
    return path, json.loads(path.read_text())


def _load_fails(path: Path, fragment: str) -> str:
    with pytest.raises(PlanFileError) as info:
        load_plan(path)
    message = str(info.value)
    assert fragment in message
    assert str(path) in message
    assert "\n" not in message
    return message


# --- round trip --------------------------------------------------------------------------------


def test_round_trip_equals_the_original(tmp_path: Path) -> None:
    plan = sample_plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded = load_plan(path)
    assert loaded == plan
    for before, after in zip(plan.changes, loaded.changes, strict=True):
        if before.desired is not None:
            assert after.desired is not None
            assert after.desired.body == before.desired.body


def test_round_trip_keeps_warnings(tmp_path: Path) -> None:
    want = _desired(warnings=("declared variant v7 differs",))
    plan = Plan((compare(want, "latest", None, children_missing=False),))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded = load_plan(path)
    assert loaded.changes[0].warnings == ("declared variant v7 differs",)
    assert loaded == plan


def test_round_trip_of_empty_plan(tmp_path: Path) -> None:
    path = tmp_path / "p"
    save_plan(Plan(()), path)
    assert load_plan(path) == Plan(())


def test_saved_file_layout(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    text = path.read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(doc, indent=2, sort_keys=True) + "\n"
    assert doc["format"] == FORMAT == "mplat-plan"
    assert doc["version"] == VERSION == 1
    assert doc["mplat_version"] == __version__
    first = doc["changes"][0]
    assert first["action"] == "create"
    assert first["live_digest"] is None
    desired = first["desired"]
    assert sha256_digest(base64.b64decode(desired["body"])) == desired["digest"]
    assert desired["sources"] == {f"{SRC}:amd64": DA, f"{SRC}:windows": DB}


def test_saving_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    save_plan(sample_plan(), a)
    save_plan(sample_plan(), b)
    assert a.read_bytes() == b.read_bytes()
    assert dump_plan(sample_plan()) == json.loads(a.read_text())


# --- tampering ---------------------------------------------------------------------------------


def test_tampered_body_is_rejected(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    body = base64.b64decode(doc["changes"][0]["desired"]["body"])
    evil = body.replace(b"amd64", b"arm64")
    assert evil != body
    doc["changes"][0]["desired"]["body"] = base64.b64encode(evil).decode()
    _load_fails(_write(path, doc), f"list body for {REPO}:latest does not match its digest")


def test_tampered_digest_is_rejected(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    doc["changes"][1]["desired"]["digest"] = DC
    _load_fails(_write(path, doc), "does not match its digest")


def test_invalid_base64_body_is_rejected(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    doc["changes"][0]["desired"]["body"] = "not base64 at all!"
    _load_fails(_write(path, doc), "malformed plan file")


# --- version and format ------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_version_is_rejected(tmp_path: Path, version: object) -> None:
    path, doc = _saved(tmp_path)
    doc["version"] = version
    _load_fails(_write(path, doc), f"plan file version {version!r} is not supported (expected 1)")


def test_missing_version_is_rejected(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    del doc["version"]
    _load_fails(_write(path, doc), "version None is not supported")


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
def test_wrong_format_is_rejected(tmp_path: Path, doc: object) -> None:
    _load_fails(_write(tmp_path / "p.json", doc), "not an mplat plan file")


# --- unusable files ----------------------------------------------------------------------------


def test_directory_is_rejected(tmp_path: Path) -> None:
    _load_fails(tmp_path, "is a directory, not a plan file")


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    _load_fails(tmp_path / "nope.json", "cannot read plan file (No such file or directory)")


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage", b"{", b"\xff\xfe\xfa\x00\x80", b"format = 'mplat-plan'\n"],
)
def test_garbage_is_rejected(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(raw)
    _load_fails(path, "not a plan file (not JSON)")


def test_deeply_nested_garbage_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    _load_fails(path, "not a plan file")


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
def test_malformed_structure_is_rejected(tmp_path: Path, mutate: Any) -> None:
    path, doc = _saved(tmp_path)
    mutate(doc)
    _load_fails(_write(path, doc), "malformed plan file")


@pytest.mark.parametrize("changes", [["x"], [[]], [7], {"latest": {}}])
def test_changes_that_are_not_objects_are_rejected(tmp_path: Path, changes: object) -> None:
    path, doc = _saved(tmp_path)
    doc["changes"] = changes
    _load_fails(_write(path, doc), "malformed plan file")


# --- atomic write ------------------------------------------------------------------------------


def test_save_replaces_an_existing_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old content")
    save_plan(sample_plan(), path)
    assert load_plan(path) == sample_plan()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_failed_save_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    path.write_text("previous plan")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), path)
    # One line naming the path the user gave, not the temporary file the error was about.
    assert str(info.value) == f"{path}: cannot write plan (No space left on device)"
    assert path.read_text() == "previous plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


def test_save_writes_into_the_target_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file must be a sibling: os.replace is only atomic within one filesystem."""
    sub = tmp_path / "out"
    sub.mkdir()
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_plan(Plan(()), sub / "p.json")
    assert len(seen) == 1
    assert Path(seen[0][0]).parent == sub
    assert Path(seen[0][1]) == sub / "p.json"


def test_save_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    save_plan(Plan(()), "plan.json")
    assert load_plan("plan.json") == Plan(())


def test_failed_save_into_a_missing_directory_names_the_target(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "plan.json"
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), target)
    assert str(info.value) == f"{target}: cannot write plan (No such file or directory)"


def test_save_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot write plan (is a directory)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(20)
def test_save_never_replaces_something_that_is_not_a_regular_file(tmp_path: Path) -> None:
    # os.replace would turn a FIFO or a device (as root: /dev/null itself) into a plain file.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link"
    link.symlink_to(fifo)
    for target in (fifo, link):
        with pytest.raises(PlanFileError) as info:
            save_plan(sample_plan(), target)
        assert str(info.value) == f"{target}: cannot write plan (not a regular file)"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link"]


# --- files that are not plans at all -----------------------------------------------------------


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    _load_fails(fifo, "not a regular file, so not a plan file")


def test_a_device_is_refused_without_reading_it() -> None:
    _load_fails(Path("/dev/zero"), "not a regular file, so not a plan file")


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    with path.open("wb") as f:
        f.truncate(MAX_PLAN_BYTES + 1)  # sparse: refused by its size, nothing is parsed
    _load_fails(path, f"too large for a plan file (more than {MAX_PLAN_BYTES} bytes)")


@pytest.mark.parametrize(
    "raw",
    [b'{"format": "mplat-plan", "version": 1, "changes": [], "x": ' + b"1" * 5000 + b"}"],
)
def test_numbers_python_cannot_read_are_not_json(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(raw)
    _load_fails(path, "not a plan file (not JSON)")


# --- every field is checked while loading --------------------------------------------------------


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
def test_every_field_is_checked_while_loading(
    tmp_path: Path, path: tuple[str | int, ...], value: object, fragment: str
) -> None:
    plan_path, doc = _saved(tmp_path)
    _set(doc, path, value)
    message = _load_fails(_write(plan_path, doc), f"malformed plan file ({fragment}")
    assert message.startswith(f"{plan_path}: malformed plan file (") and message.endswith(")")
    assert message.isprintable() and len(message) < 300 + len(str(plan_path))


def test_a_change_to_write_needs_its_after_view(tmp_path: Path) -> None:
    path, doc = _saved(tmp_path)
    doc["changes"][0]["after"] = None
    _load_fails(_write(path, doc), "changes[0]: a change with a list to write needs its after")


def test_platforms_are_loaded_in_the_form_mplat_writes(tmp_path: Path) -> None:
    # Unknown keys are dropped and empty optional fields read as absent, as from a registry.
    path, doc = _saved(tmp_path)
    doc["changes"][1]["before"]["manifests"][0]["platform"] = {
        "os": "linux",
        "architecture": "arm",
        "variant": "",
        "features": ["sse4"],
    }
    loaded = load_plan(_write(path, doc))
    before = loaded.changes[1].before
    assert isinstance(before, ListView)
    assert before.entries[0].platform == {"architecture": "arm", "os": "linux"}


# --- a plan with errors is never saved nor loaded: it would apply only part of the work -------


def test_a_plan_with_errors_is_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    with pytest.raises(PlanFileError) as info:
        save_plan(Plan(sample_plan().changes, ERRORS), path)
    assert str(info.value).startswith(f"the plan has 2 errors, so it was not saved to {path}")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temporary left


@pytest.mark.parametrize("errors", [[{"message": "source not found"}], [5], ["x", "y"]])
def test_a_plan_file_with_errors_is_refused(tmp_path: Path, errors: list[object]) -> None:
    path, doc = _saved(tmp_path)
    doc["errors"] = errors
    message = _load_fails(_write(path, doc), f"the plan holds {len(errors)} error")
    assert "run plan again" in message


def test_round_trip_keeps_artifact_type_and_subject(tmp_path: Path) -> None:
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
    plan = Plan((compare(_desired(), "peer", peer, children_missing=False),))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    before = json.loads(path.read_text())["changes"][0]["before"]
    assert before["artifactType"] == "a/index"
    assert before["subject"]["artifactType"] == "a/subject"
    assert load_plan(path) == plan


# --- saving on a full or failing disk ---------------------------------------------------------


def _enospc(*_args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_leaves_no_temporary_file_and_no_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # ``write``: the disk fills while the plan is written. ``fsync``: NFS, quotas and delayed
    # allocation report ENOSPC only when the data is forced out; the plan was reported saved.
    target = tmp_path / "plan.json"
    if where == "write":
        real_fdopen = os.fdopen

        def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
            fh = real_fdopen(fd, *args, **kwargs)
            fh.write = _enospc
            return fh

        monkeypatch.setattr(os, "fdopen", fdopen)
    else:
        monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(PlanFileError) as info:
        save_plan(sample_plan(), target)
    assert str(info.value) == f"{target}: cannot write plan (No space left on device)"
    assert list(tmp_path.iterdir()) == []  # neither the plan nor a temporary file
