"""Markdown plans: the layout a reviewer reads, escaping of outside text, and the size cap."""

from __future__ import annotations

from dataclasses import replace

from mplat.output.markdown import COMMENT_LIMIT, render_markdown
from mplat.plan.model import DiffItem, ListView, Plan, PlanError
from mplat.values import mediatypes as mt
from tests.support.builders import DA, DC, DO, REPO, SRC, create, delete, no_op, ref, update


def test_summary_table_sections_and_errors_in_that_order() -> None:
    diff = (DiffItem("changed", "linux/amd64", ("digest",), DC, DA, f"{SRC}:amd64"),)
    plan = Plan(
        (create(), update(diff), delete(), no_op()),
        errors=(PlanError("m.yaml:3:5: source not found", ref(), ("x",), "source not found"),),
    )
    md = render_markdown(plan)
    summary = "Plan: 1 to create, 1 to update, 1 to delete. 1 unchanged. 1 error."
    assert md.startswith(f"### mplat plan\n\n**{summary}**\n")
    assert md.endswith(f"\n{summary}\n")
    order = [md.index(s) for s in ("| action |", "<details>", "#### Errors", "- m.yaml:3:5")]
    assert order == sorted(order)
    assert f"| update | <code>{REPO}:1.0</code> | <code>{DO[:19]}</code> → " in md
    assert f"from <code>{SRC}:amd64</code> |" in md
    assert f"<details><summary><code>{REPO}</code>: 3 changes</summary>" in md
    assert ":stable" not in md  # no-ops are counted, not listed


def test_drift_is_named_in_the_table() -> None:
    md = render_markdown(Plan((update((), ListView(mt.OCI_INDEX, DO, (), {})),)))
    assert "**changed outside mplat**" in md


def test_text_from_outside_cannot_break_the_layout() -> None:
    hostile = "linux/amd64 | </details> `x` ```"
    diff = (DiffItem("added", hostile, (), None, DA),)
    md = render_markdown(
        Plan((update(diff),), errors=(PlanError("m.yaml:1:1: *bold* | <b>x</b>"),))
    )
    lines = md.splitlines()
    assert [line for line in lines if line.startswith(("<details>", "</details>"))] == [
        f"<details><summary><code>{REPO}</code>: 1 change</summary>",
        "</details>",
    ]
    # The hostile label sits in a code block (literal text), whose fence outgrows its backticks.
    start, end = lines.index("````diff"), lines.index("````")
    assert any(hostile in line for line in lines[start:end])
    assert r"\*bold\* \| &lt;b&gt;x&lt;/b&gt;" in md


def test_a_long_plan_is_cut_to_the_limit_and_says_what_was_left_out() -> None:
    changes = tuple(replace(create(f"t{i:04d}"), repository=ref(f"{REPO}-{i}")) for i in range(900))
    md = render_markdown(Plan(changes), full_plan_hint="run `mplat show p --json` for all")
    assert len(md) <= COMMENT_LIMIT
    assert "Left out to fit 65,536 characters:" in md
    assert "run \\`mplat show p --json\\` for all" in md
    assert md.rstrip().endswith("Plan: 900 to create, 0 to update, 0 to delete.")
    small = render_markdown(Plan(changes[:3]), limit=COMMENT_LIMIT)
    assert "Left out" not in small


def test_errors_sharing_a_cause_are_one_line() -> None:
    down = "r.io: connection refused"
    errors = tuple(PlanError(f"m.yaml:{i}:5: {down}", ref(), ("t",), down) for i in (3, 9))
    md = render_markdown(Plan((), errors=(*errors, PlanError("m.yaml:20:5: other"))))
    section = md[md.index("#### Errors") :].splitlines()
    assert section[2:4] == ["- r.io: connection refused (affects 2 lists)", "- m.yaml:20:5: other"]
