"""``mplat show PLAN``: a saved plan printed as text, JSON or Markdown, with no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mplat.cli.commands import show
from mplat.cli.errors import UsageError
from mplat.cli.main import main
from mplat.cli.parser import build_parser
from mplat.plan.planfile import save_plan
from tests.support.builders import REPO, sample_plan


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "p.plan"
    save_plan(sample_plan(), str(path))
    return path


def test_text_json_and_markdown(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(saved), "--no-color"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Plan: ") and f"# {REPO}:" in text
    assert main(["show", str(saved), "--json", "--show-no-op"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["changes"]) == len(sample_plan().changes)
    assert main(["show", str(saved), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("### mplat plan")


def test_two_outputs_at_once_are_refused(saved: Path) -> None:
    args = build_parser().parse_args(["show", str(saved), "--json", "--format", "markdown"])
    with pytest.raises(UsageError, match="choose one"):
        show.run(args)


def test_a_file_that_is_not_a_plan_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.plan"
    bad.write_text("{}")
    assert main(["show", str(bad)]) == 1
    assert capsys.readouterr().err.startswith("Error: ")
