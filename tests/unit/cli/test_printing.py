"""``cli.printing``: where the plan goes when stdout is for machines (--json, --json-stream)."""

from __future__ import annotations

import argparse

import pytest

from mplat.cli.errors import UsageError
from mplat.cli.printing import check_view, machine_stdout, print_plan
from mplat.plan.model import Plan, PlanError
from tests.support.builders import create


def flags(command: str, **given: object) -> argparse.Namespace:
    values: dict[str, object] = {"command": command, "json": False, "no_color": True}
    values.update(given)
    return argparse.Namespace(**values)


@pytest.fixture(autouse=True)
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_stdout_is_for_machines_under_either_json_flag() -> None:
    assert not machine_stdout(flags("plan"))
    assert machine_stdout(flags("plan", json=True))
    assert machine_stdout(flags("apply", json_stream=True))
    assert not machine_stdout(argparse.Namespace())  # a command without these flags


def test_plan_json_stream_prints_no_plan_its_lines_were_the_plan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_plan(flags("plan", json_stream=True), Plan((create(),)))
    assert capsys.readouterr() == ("", "")


def test_apply_json_stream_shows_the_plan_to_people_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_plan(flags("apply", json_stream=True), Plan((create(),)))
    out, err = capsys.readouterr()
    assert out == ""
    assert "will be created" in err


def test_markdown_and_json_stream_are_two_outputs() -> None:
    with pytest.raises(UsageError, match="--json-stream and --format markdown"):
        check_view(flags("plan", json_stream=True, format="markdown"))
    check_view(flags("plan", json_stream=True, format="text"))


def test_annotations_keep_off_a_json_stream(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    error = PlanError("m.yaml:3:5: bad source", location="m.yaml:3:5", cause="bad source")
    print_plan(flags("plan", json_stream=True), Plan((), errors=(error,)))
    out, err = capsys.readouterr()
    assert out == ""
    assert "::error" in err
