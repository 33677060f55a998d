"""Tests for mplat.plan.json_codec: the `plan --json` and `apply --json` documents (a contract)."""

from __future__ import annotations

import json
from dataclasses import replace

from mplat.plan.json_codec import (
    FORMAT_VERSION,
    apply_to_json,
    dumps_apply,
    dumps_plan,
    plan_to_json,
)
from mplat.plan.model import BlobCopy, ChildCopy, DiffItem, ImageView, ListView, Plan, PlanError
from mplat.plan.outcome import ApplyResult, Outcome
from mplat.values import mediatypes as mt
from tests.support.builders import (
    DA,
    DB,
    DC,
    DL,
    DO,
    OTHER,
    OWNED,
    REPO,
    SRC,
    create,
    delete,
    no_op,
    ref,
    update,
)

# --- plan --json ------------------------------------------------------------------------------


def test_plan_to_json_structure() -> None:
    child = ChildCopy(DA, mt.OCI_MANIFEST, 423, ref(SRC), (BlobCopy(DB, 10, "mount"),))
    plan = Plan(
        (
            create("latest", (child,), warnings=("careful",)),
            update((DiffItem("note", "x"),)),
            delete(),
            no_op(),
        ),
        errors=(PlanError("bad", ref(OTHER), ("t",)),),
        notices=("note one",),
        rate_limits={"docker.io": "95 of 100 pulls left"},
    )
    doc = plan_to_json(plan, show_no_op=True)
    assert list(doc) == [
        "format_version",
        "changes",
        "summary",
        "errors",
        "warnings",
        "notices",
        "rate_limits",
        "requests",
    ]
    assert doc["format_version"] == "2"
    assert doc["summary"] == {"create": 1, "update": 1, "repair": 0, "delete": 1, "no_op": 1}
    assert doc["errors"] == [{"repository": OTHER, "tags": ["t"], "message": "bad"}]
    assert doc["warnings"] == ["careful"]
    assert doc["notices"] == ["note one"]
    assert doc["rate_limits"] == {"docker.io": "95 of 100 pulls left"}
    assert [list(c) for c in doc["changes"]] == [
        ["repository", "tag", "action", "drift", "before", "after", "diff", "copies"]
    ] * 4
    created, updated, deleted, unchanged = doc["changes"]
    assert created == {
        "repository": REPO,
        "tag": "latest",
        "action": "create",
        "drift": False,
        "before": None,
        "after": {
            "kind": "list",
            "mediaType": mt.OCI_INDEX,
            "digest": DL,
            "manifests": [
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": DA,
                    "size": 423,
                    "platform": {"architecture": "amd64", "os": "linux"},
                },
                {
                    "mediaType": mt.OCI_MANIFEST,
                    "digest": DB,
                    "size": 1500,
                    "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
                },
            ],
            "annotations": OWNED,
        },
        "diff": [],
        "copies": [
            {
                "digest": DA,
                "mediaType": mt.OCI_MANIFEST,
                "size": 423,
                "source": SRC,
                "blobs": [{"digest": DB, "size": 10, "how": "mount"}],
            }
        ],
    }
    assert updated["diff"] == ["x"]
    assert updated["before"]["kind"] == "list"
    assert deleted["after"] is None
    assert deleted["before"] == {
        "kind": "list",
        "mediaType": mt.DOCKER_LIST,
        "digest": DO,
        "manifests": [],
    }
    assert unchanged["action"] == "no-op"
    # Without --show-no-op, the unchanged tag is counted but not listed.
    plain = plan_to_json(plan)
    assert [c["action"] for c in plain["changes"]] == ["create", "update", "delete"]
    assert plain["summary"] == doc["summary"]


def test_plan_to_json_names_sources_and_drift() -> None:
    change = create()
    assert change.desired is not None
    sourced = replace(
        change, desired=replace(change.desired, entry_sources=(f"{SRC}:a", f"{SRC}:b"))
    )
    by_hand = update((), ListView(mt.OCI_INDEX, DO, (), {}))
    created, drifted = plan_to_json(Plan((sourced, by_hand)))["changes"]
    assert [m["source"] for m in created["after"]["manifests"]] == [f"{SRC}:a", f"{SRC}:b"]
    assert (created["drift"], drifted["drift"]) == (False, True)


def test_plan_to_json_image_before_and_stability() -> None:
    plan = Plan((update((DiffItem("note", "y"),), ImageView(mt.OCI_MANIFEST, DO)), create()))
    first = json.dumps(plan_to_json(plan), indent=2)
    assert first == json.dumps(plan_to_json(plan), indent=2)
    doc = json.loads(first)
    assert doc["changes"][0]["before"] == {
        "kind": "image",
        "mediaType": mt.OCI_MANIFEST,
        "digest": DO,
    }


def test_plan_to_json_empty_plan() -> None:
    assert plan_to_json(Plan(())) == {
        "format_version": "2",
        "changes": [],
        "summary": {"create": 0, "update": 0, "repair": 0, "delete": 0, "no_op": 0},
        "errors": [],
        "warnings": [],
        "notices": [],
        "rate_limits": {},
        "requests": {},
    }


def test_diff_lines_are_the_words_people_read_with_their_sign() -> None:
    diff = (
        DiffItem("changed", "linux/amd64", ("digest",), DC, DA),
        DiffItem("added", "linux/arm64/v8", (), None, DB),
        DiffItem("removed", "", ("annotations", "k"), "v", None),
        DiffItem("changed", "", ("mediaType",), mt.DOCKER_LIST, mt.OCI_INDEX),
        DiffItem("note", "same entries, different bytes"),
    )
    assert plan_to_json(Plan((update(diff),)))["changes"][0]["diff"] == [
        f"~ linux/amd64: digest: {DC} -> {DA}",
        f"+ linux/arm64/v8: {DB}",
        "- annotation k = 'v'",
        "media type: Docker manifest list -> OCI index",
        "same entries, different bytes",
    ]


def test_repository_and_sources_are_written_as_normalised_names() -> None:
    child = ChildCopy(DA, mt.OCI_MANIFEST, 1, ref("busybox"))
    doc = plan_to_json(
        Plan((create("t", (child,)),), errors=(PlanError("x", ref("docker.io/a/b")),))
    )
    assert doc["changes"][0]["repository"] == REPO
    assert doc["changes"][0]["copies"][0]["source"] == "docker.io/library/busybox"
    assert doc["errors"][0]["repository"] == "docker.io/a/b"


# --- apply --json ------------------------------------------------------------------------------


def test_apply_to_json_wraps_the_plan_and_counts_outcomes() -> None:
    plan = Plan((create("a"), create("b")), errors=(PlanError("bad"),))
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, "created"),
            Outcome(f"{REPO}:b", "create", False, "denied", unknown=True),
        ]
    )
    doc = apply_to_json(plan, result)
    assert list(doc) == ["format_version", "plan", "outcomes", "summary"]
    assert doc["format_version"] == FORMAT_VERSION == "2"
    assert doc["plan"] == plan_to_json(plan)
    assert doc["outcomes"] == [
        {"address": f"{REPO}:a", "action": "create", "ok": True, "message": "created"},
        {"address": f"{REPO}:b", "action": "create", "ok": False, "message": "denied"},
    ]
    assert doc["summary"] == {"done": 1, "failed": 1, "errors": 1, "applied": True}


def test_apply_to_json_without_a_result_says_nothing_was_applied() -> None:
    doc = apply_to_json(Plan((create(),)), None)
    assert doc["outcomes"] == []
    assert doc["summary"] == {"done": 0, "failed": 0, "errors": 0, "applied": False}


# --- the printed text ---------------------------------------------------------------------------


def test_dumps_are_the_documents_indented_by_two_without_a_final_newline() -> None:
    """The CLI prints these; print adds the one newline, as it always has."""
    plan = Plan((create("a"), no_op("b")), notices=("a notice",))
    text = dumps_plan(plan)
    assert text == json.dumps(plan_to_json(plan), indent=2)
    assert text.startswith('{\n  "format_version": "2",\n  "changes": [\n    {\n')
    assert not text.endswith("\n")
    result = ApplyResult([Outcome(f"{REPO}:a", "create", True, "created")])
    assert dumps_apply(plan, result) == json.dumps(apply_to_json(plan, result), indent=2)
    assert dumps_apply(plan, None).startswith('{\n  "format_version": "2",\n  "plan": {\n')
