"""Tests for mplat.output.text: Terraform-like plan text and apply results."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mplat.output.text import (
    Style,
    TextOptions,
    blocked_message,
    human_bytes,
    interrupted_report,
    render_plan,
    render_result,
)
from mplat.plan.json_codec import plan_to_json
from mplat.plan.model import (
    BlobCopy,
    Change,
    ChildCopy,
    DiffItem,
    ImageView,
    ListView,
    Plan,
    PlanError,
)
from mplat.plan.outcome import ApplyResult, Outcome, SplitList
from mplat.values import mediatypes as mt
from tests.support.builders import (
    AFTER,
    DA,
    DB,
    DC,
    DL,
    DO,
    REPO,
    SRC,
    create,
    delete,
    no_op,
    ref,
    shown_desired,
    update,
)

# --- human_bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (423, "423 B"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (1500, "1.5 KB"),
        (2_500_000, "2.5 MB"),
        (3_000_000_000, "3.0 GB"),
        (5_000_000_000_000, "5000.0 GB"),
    ],
)
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


@pytest.mark.parametrize(("n", "text"), [(999_999, "1.0 MB"), (999_950_000, "1.0 GB")])
def test_human_bytes_rounding_never_shows_1000_of_a_unit(n: int, text: str) -> None:
    assert human_bytes(n) == text


# --- render_plan -------------------------------------------------------------------------------


def test_render_create_exact_text() -> None:
    text = render_plan(Plan((create(), no_op())))
    assert text == (
        "Plan: 1 to create, 0 to update, 0 to delete. 1 unchanged.\n"
        "\n"
        "mplat will perform the following actions:\n"
        "\n"
        f"  # {REPO}:latest will be created\n"
        f"  + OCI index {DL}\n"
        f"      + linux/amd64                        {DA} (423 B)\n"
        f"      + linux/arm64/v8                     {DB} (1.5 KB)\n"
        "      + annotation dev.mplat.managed-by = 'mplat'\n"
        "\n"
        "Plan: 1 to create, 0 to update, 0 to delete. 1 unchanged.\n"
    )


def test_render_no_changes() -> None:
    expected = "No changes. The registry matches the configuration."
    assert render_plan(Plan(())) == expected + "\n"
    assert render_plan(Plan((no_op("a"), no_op("b")))) == expected + " 2 unchanged.\n"


def test_render_no_changes_with_errors() -> None:
    plan = Plan((no_op(),), errors=(PlanError("m.yaml:3:5: source not found", ref(), ("x",)),))
    assert render_plan(plan) == (
        "Error: m.yaml:3:5: source not found\n"
        "\n"
        "No changes for the lists that planned; see the errors above. 1 unchanged.\n"
    )


def test_render_update_diff_lines() -> None:
    diff = (
        DiffItem("changed", "linux/amd64", ("digest",), DC, DA),
        DiffItem("added", "linux/arm64/v8", (), None, DB),
        DiffItem("removed", "linux/s390x", (), DC, None),
        DiffItem("changed", "", ("mediaType",), mt.DOCKER_LIST, mt.OCI_INDEX),
    )
    text = render_plan(Plan((update(diff),)))
    assert text == (
        "Plan: 0 to create, 1 to update, 0 to delete.\n"
        "\n"
        "mplat will perform the following actions:\n"
        "\n"
        f"  # {REPO}:1.0 will be updated in place\n"
        f"  ~ OCI index {DO} -> {DL}\n"
        f"      ~ linux/amd64: digest: {DC} -> {DA}\n"
        f"      + linux/arm64/v8: {DB}\n"
        f"      - linux/s390x: {DC}\n"
        "      ~ media type: Docker manifest list -> OCI index\n"
        "\n"
        "Plan: 0 to create, 1 to update, 0 to delete.\n"
    )


def test_render_update_of_single_image() -> None:
    before = ImageView(mt.DOCKER_MANIFEST, DO)
    change = update(
        (DiffItem("note", f"replace single image ({mt.DOCKER_MANIFEST}) with a list"),), before
    )
    lines = render_plan(Plan((change,))).splitlines()
    assert f"  ~ OCI index {DO} -> {DL}" in lines
    assert f"      ~ replace single image ({mt.DOCKER_MANIFEST}) with a list" in lines


def test_render_repair_counts_and_children() -> None:
    child = ChildCopy(DB, mt.OCI_MANIFEST, 1500, ref(SRC), (BlobCopy(DC, 2000, "copy"),))
    repair = Change(ref(REPO), "latest", "repair", AFTER, AFTER, DL, shown_desired((child,)))
    text = render_plan(Plan((repair,)))
    lines = text.splitlines()
    assert f"  # {REPO}:latest will be repaired (children missing from the repository)" in lines
    assert f"      + child {DB} from {SRC}" in lines
    assert lines[-1] == "Plan: 0 to create, 0 to update, 1 to repair, 0 to delete."


def test_render_delete_and_prevent_destroy() -> None:
    text = render_plan(Plan((delete(),)))
    assert f"  # {REPO}:old will be deleted\n  - Docker manifest list {DO}\n" in text
    assert "prevent_destroy" not in text
    assert text.endswith("Plan: 0 to create, 0 to update, 1 to delete.\n")

    blocked = render_plan(Plan((delete(prevent_destroy=True),)))
    assert "      ! prevent_destroy is set: this plan cannot be applied\n" in blocked


def test_render_summary_line_counts_all_actions() -> None:
    plan = Plan((create("a"), create("b"), update(()), delete(), no_op()))
    lines = render_plan(plan).splitlines()
    assert lines[0] == lines[-1] == "Plan: 2 to create, 1 to update, 1 to delete. 1 unchanged."


def test_render_copy_summary_with_bytes() -> None:
    shared = ChildCopy(
        DA,
        mt.OCI_MANIFEST,
        423,
        ref(SRC),
        (BlobCopy(DB, 1_500_000, "copy"), BlobCopy(DC, 2000, "mount")),
    )
    mounted_only = ChildCopy(DB, mt.OCI_MANIFEST, 100, ref(SRC), (BlobCopy(DC, 2000, "mount"),))
    # Two tags need the same children: they are counted once for the repository.
    plan = Plan((create("latest", (shared, mounted_only)), create("1.0", (shared,))))
    lines = render_plan(plan).splitlines()
    start = lines.index(
        f"Into {REPO}: 2 manifest(s) to copy; blobs: 1 to mount (2.0 KB), 1 to copy (1.5 MB)"
    )
    assert lines[start + 1 : start + 4] == [
        f"  {DA} from {SRC} (1.5 MB to copy)",
        f"  {DB} from {SRC} (0 B to copy)",
        "",
    ]
    assert lines[-1] == "Plan: 2 to create, 0 to update, 0 to delete."


def test_render_no_copy_summary_without_children() -> None:
    assert "Into " not in render_plan(Plan((create(),)))


def test_render_warnings_errors_and_rate_limits() -> None:
    plan = Plan(
        (create("a", warnings=("w-b", "w-a")), create("b", warnings=("w-a",))),
        errors=(PlanError("first"), PlanError("second")),
        rate_limits={"docker.io": "95 of 100 pulls left", "a.example": "1 left"},
    )
    lines = render_plan(plan).splitlines()
    tail = lines[lines.index("Warning: w-a") :]
    assert tail == [
        "Warning: w-a",
        "Warning: w-b",
        "Error: first",
        "Error: second",
        "Rate limit: a.example: 1 left",
        "Rate limit: docker.io: 95 of 100 pulls left",
        "",
        "Plan: 2 to create, 0 to update, 0 to delete. 2 errors.",
    ]


def test_render_without_color_has_no_escapes_and_with_color_has_them() -> None:
    plan = Plan((create(), update((DiffItem("removed", "linux/s390x", (), DC),)), delete()))
    plain = render_plan(plan, Style(False))
    assert "\x1b[" not in plain
    assert render_plan(plan) == plain
    coloured = render_plan(plan, Style(True))
    assert "\x1b[32m+\x1b[0m" in coloured
    assert "\x1b[33m~\x1b[0m" in coloured
    assert "\x1b[31m-\x1b[0m" in coloured
    assert "\x1b[1mPlan:\x1b[0m" in coloured
    no_changes = render_plan(Plan(()), Style(True))
    assert no_changes == "\x1b[32mNo changes.\x1b[0m The registry matches the configuration.\n"


def test_diff_marks_are_coloured_by_the_item_kind_not_by_its_text() -> None:
    """An entry whose label starts like a mark ("+ x") is still coloured by what it is."""
    diff = (
        DiffItem("added", "- looks removed", (), None, DA),
        DiffItem("removed", "+ looks added", (), DB, None),
        DiffItem("note", "+ a note"),
        DiffItem("changed", "", ("mediaType",), mt.DOCKER_LIST, mt.OCI_INDEX),
    )
    lines = render_plan(Plan((update(diff),)), Style(True)).splitlines()
    assert f"      \x1b[32m+\x1b[0m - looks removed: {DA}" in lines
    assert f"      \x1b[31m-\x1b[0m + looks added: {DB}" in lines
    assert "      \x1b[33m~\x1b[0m + a note" in lines
    assert "      \x1b[33m~\x1b[0m media type: Docker manifest list -> OCI index" in lines


def test_style_mark() -> None:
    s = Style(False)
    assert [s.mark(a) for a in ("create", "update", "repair", "delete", "no-op")] == [
        "+",
        "~",
        "~",
        "-",
        " ",
    ]


# --- review: sources, drift, --compact, --quiet -------------------------------------------------


def sourced(change: Change) -> Change:
    assert change.desired is not None
    desired = replace(change.desired, entry_sources=(f"{SRC}:amd64", f"{SRC}:arm64"))
    return replace(change, desired=desired)


def test_created_entries_name_their_declared_source() -> None:
    lines = render_plan(Plan((sourced(create()),))).splitlines()
    assert f"      + linux/amd64                        {DA} (423 B) from {SRC}:amd64" in lines
    assert f"      + linux/arm64/v8                     {DB} (1.5 KB) from {SRC}:arm64" in lines


def test_a_moved_digest_names_its_source() -> None:
    diff = (DiffItem("changed", "linux/amd64", ("digest",), DC, DA, f"{SRC}:amd64"),)
    lines = render_plan(Plan((update(diff),))).splitlines()
    assert f"      ~ linux/amd64: digest: {DC} -> {DA} (from {SRC}:amd64)" in lines


def test_drift_is_labelled_as_changed_outside_mplat() -> None:
    pushed_by_hand = ListView(mt.OCI_INDEX, DO, (), {})  # no marker naming this tag
    text = render_plan(Plan((update((), pushed_by_hand), update(()))))
    lines = text.splitlines()
    assert lines[0] == "Plan: 0 to create, 2 to update, 0 to delete. 1 changed outside mplat."
    assert (
        lines.count(
            f"      ! changed outside mplat: was {DO}, declared {DL}; apply puts back what the "
            "configuration declares"
        )
        == 1
    )


def test_compact_is_one_line_per_changed_tag() -> None:
    diff = (
        DiffItem("changed", "linux/amd64", ("digest",), DC, DA),
        DiffItem("changed", "linux/amd64", ("size",), 1, 2),
        DiffItem("added", "linux/arm64/v8", (), None, DB),
    )
    plan = Plan((create(), update(diff), update((), ImageView(mt.DOCKER_MANIFEST, DO)), no_op()))
    plan = Plan((*plan.changes, delete()))
    text = render_plan(plan, options=TextOptions(compact=True))
    short = {d: d[:19] for d in (DO, DL)}
    assert text.splitlines() == [
        "Plan: 1 to create, 2 to update, 1 to delete. 1 unchanged. 1 changed outside mplat.",
        "",
        f"+ {REPO}:latest: create {short[DL]} (2 entries)",
        f"~ {REPO}:1.0: update {short[DO]} -> {short[DL]} (2 entries changed)",
        f"~ {REPO}:1.0: update {short[DO]} -> {short[DL]} (the list changed; changed outside "
        "mplat)",
        f"- {REPO}:old: delete {short[DO]}",
        "",
        "Plan: 1 to create, 2 to update, 1 to delete. 1 unchanged. 1 changed outside mplat.",
    ]


def test_quiet_prints_only_errors_and_the_summary() -> None:
    plan = Plan(
        (create("a", warnings=("w",)), no_op()),
        errors=(PlanError("m.yaml:3:5: source not found", ref(), ("x",)),),
        rate_limits={"docker.io": "1 left"},
    )
    assert render_plan(plan, options=TextOptions(quiet=True)).splitlines() == [
        "Error: m.yaml:3:5: source not found",
        "",
        "Plan: 1 to create, 0 to update, 0 to delete. 1 unchanged. 1 error.",
    ]
    assert render_plan(Plan((no_op(),)), options=TextOptions(quiet=True)) == (
        "No changes. The registry matches the configuration. 1 unchanged.\n"
    )


# --- render_result -----------------------------------------------------------------------------


def test_render_result_success() -> None:
    result = ApplyResult(
        [Outcome(f"{REPO}:a", "create", True, ""), Outcome(f"{REPO}:b", "update", True, "")]
    )
    summary = "Apply complete: 2 done, 0 failed (1 created, 1 updated, 0 repaired, 0 deleted)."
    assert render_result(result) == summary + "\n"
    assert render_result(result, Style(True)) == f"\x1b[1m{summary}\x1b[0m\n"


def test_render_result_with_failures() -> None:
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, ""),
            Outcome(f"{REPO}:b", "update", False, "403 denied"),
            Outcome(f"{REPO}:c", "delete", False, "tag moved"),
        ]
    )
    summary = "Apply complete: 1 done, 2 failed (1 created, 0 updated, 0 repaired, 0 deleted)."
    assert render_result(result) == (
        f"Error: {REPO}:b: 403 denied\nError: {REPO}:c: tag moved\n{summary}\n"
    )
    assert f"\x1b[31m{summary}\x1b[0m" in render_result(result, Style(True))


def test_render_result_empty() -> None:
    assert render_result(ApplyResult()) == (
        "Apply complete: 0 done, 0 failed (0 created, 0 updated, 0 repaired, 0 deleted).\n"
    )


def test_render_result_names_each_kind_of_change_and_the_elapsed_time() -> None:
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, "created"),
            Outcome(f"{REPO}:b", "create", True, "created"),
            Outcome(f"{REPO}:c", "update", True, "updated"),
            Outcome(f"{REPO}:d", "repair", True, "children restored"),
            Outcome(f"{REPO}:e", "delete", True, "deleted (by digest)"),
            Outcome(f"{REPO}:f", "update", True, "already up to date", unchanged=True),
        ]
    )
    assert render_result(result, elapsed=3.24) == (
        "Apply complete: 6 done, 0 failed (2 created, 1 updated, 1 repaired, 1 deleted, "
        "1 already up to date) in 3.2 s.\n"
    )


def test_errors_sharing_one_cause_are_printed_once_with_the_lists_they_affect() -> None:
    """A registry that is down fails every list with one error: one line, not one per list."""
    cause = "127.0.0.1:9: GET failed: ConnectError; mplat stops asking this registry"
    shared = [
        PlanError(
            f"m.yaml:{n}:3: {cause}", ref(f"127.0.0.1:9/r{n}"), ("x",), cause, f"m.yaml:{n}:3"
        )
        for n in range(1, 13)
    ]
    alone = PlanError("m.yaml:99:3: source image a:b not found", ref("r"), ("y",), "source gone")
    errors = (*shared, alone)
    text = render_plan(Plan((), errors=errors))
    assert text.count(cause) == 1
    assert "affects 12 lists: m.yaml:1:3 (127.0.0.1:9/r1), m.yaml:2:3 (127.0.0.1:9/r2)" in text
    assert "m.yaml:10:3 (127.0.0.1:9/r10), and 2 more" in text
    assert "m.yaml:11:3" not in text
    assert "Error: m.yaml:99:3: source image a:b not found" in text  # alone: as it was
    doc = plan_to_json(Plan((), errors=errors))
    assert len(doc["errors"]) == 13 and doc["errors"][0]["cause"] == cause  # JSON keeps each


# --- after a stop, and plans that must not be applied -----------------------------------------


def test_interrupted_report_when_every_list_agrees() -> None:
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, "created"),
            Outcome(f"{REPO}:b", "update", False, "not written (stopped first)", True),
        ],
        interrupted=True,
    )
    assert interrupted_report(result, "SIGTERM") == (
        "Interrupted by SIGTERM: apply stopped before the end.\n"
        "Done (1):\n"
        f"  {REPO}:a: created\n"
        "Not done (1), left as they were:\n"
        f"  {REPO}:b: not written (stopped first)\n"
        "Every list's tags agree (all moved, or none).\n"
        "Apply interrupted: 1 done, 1 not done, 0 unknown, 0 failed. "
        "Run `mplat apply` again to finish.\n"
    )


def test_interrupted_report_names_unknown_failed_and_split_lists() -> None:
    result = ApplyResult(
        [
            Outcome(f"{REPO}:a", "create", True, "created"),
            Outcome(f"{REPO}:b", "create", False, "cut off", unknown=True),
            Outcome(f"{REPO}:c", "create", False, "403 denied"),
            Outcome(f"{REPO}:d", "create", False, "not written (stopped first)", True),
        ],
        interrupted=True,
        split=[SplitList(f"{REPO}@{DL}", (f"{REPO}:a", f"{REPO}:b (maybe)"), (f"{REPO}:d",))],
    )
    assert interrupted_report(result, "SIGINT") == (
        "Interrupted by SIGINT: apply stopped before the end.\n"
        "Done (1):\n"
        f"  {REPO}:a: created\n"
        "Not done (1), left as they were:\n"
        f"  {REPO}:d: not written (stopped first)\n"
        "Unknown (1), the write was cut off; run plan to see:\n"
        f"  {REPO}:b: cut off\n"
        "Failed (1):\n"
        f"  {REPO}:c: 403 denied\n"
        "Lists whose tags disagree (1):\n"
        f"  {REPO}@{DL}: on {REPO}:a, {REPO}:b (maybe); not on {REPO}:d\n"
        "Apply interrupted: 1 done, 1 not done, 1 unknown, 1 failed. "
        "Run `mplat apply` again to finish.\n"
    )


def test_blocked_message_names_the_protected_deletions() -> None:
    assert blocked_message(Plan((create(), delete()))) is None
    assert blocked_message(Plan((create(), delete(prevent_destroy=True)))) == (
        f"prevent_destroy forbids deleting: {REPO}:old"
    )
