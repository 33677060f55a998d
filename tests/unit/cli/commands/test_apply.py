"""``mplat apply``'s decision whether to write, and the flags a saved plan refuses."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import pytest

from mplat.cli import prompt
from mplat.cli.commands import apply
from mplat.cli.errors import UsageError
from mplat.cli.reporter import Reporter
from mplat.plan.model import Plan, PlanError
from tests.support.builders import REPO, create, delete, no_op


def flags(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {"allow_partial": False, "auto_approve": False, "target": []}
    values.update(given)
    return argparse.Namespace(**values)


def never_asked() -> bool:
    raise AssertionError("the prompt was shown")


@pytest.fixture(autouse=True)
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt, "confirm", never_asked)


def test_a_plan_without_changes_writes_nothing_silently(capsys: pytest.CaptureFixture[str]) -> None:
    assert not apply._may_apply(flags(auto_approve=True), Plan((no_op(),)), saved=False)
    assert capsys.readouterr() == ("", "")


def test_a_blocked_plan_is_never_applied(capsys: pytest.CaptureFixture[str]) -> None:
    plan = Plan((create(), delete(prevent_destroy=True)))
    assert not apply._may_apply(flags(auto_approve=True), plan, saved=True)
    assert capsys.readouterr().err == (
        f"Error: prevent_destroy forbids deleting: {REPO}:old; nothing was applied.\n"
    )


@pytest.mark.parametrize(("n", "word"), [(1, "error"), (2, "errors")])
def test_a_plan_with_errors_needs_allow_partial(
    capsys: pytest.CaptureFixture[str], n: int, word: str
) -> None:
    plan = Plan((create(),), errors=tuple(PlanError(f"e{i}") for i in range(n)))
    assert not apply._may_apply(flags(auto_approve=True), plan, saved=False)
    assert capsys.readouterr().err == (
        f"Error: the plan has {n} {word} (see above); nothing was applied. Fix them, or re-run "
        "with --allow-partial to apply the lists that planned.\n"
    )
    assert apply._may_apply(flags(auto_approve=True, allow_partial=True), plan, saved=False)


def test_a_saved_plan_or_auto_approve_skips_the_prompt() -> None:
    plan = Plan((create(),))
    assert apply._may_apply(flags(), plan, saved=True)
    assert apply._may_apply(flags(auto_approve=True), plan, saved=False)


@pytest.mark.parametrize("answer", [True, False])
def test_otherwise_the_prompt_decides(monkeypatch: pytest.MonkeyPatch, answer: bool) -> None:
    monkeypatch.setattr(prompt, "confirm", lambda: answer)
    assert apply._may_apply(flags(), Plan((create(),)), saved=False) is answer


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"target": ["a/b:1"]}, "--target applies to plans being made, not to a saved plan"),
        (
            {"allow_partial": True},
            "--allow-partial: a saved plan never has errors, so it has no use",
        ),
        (
            {"update_lock": True},
            "--update-lock: a saved plan's sources were resolved when it was made; the lock "
            "applies to plans being made",
        ),
    ],
)
def test_a_saved_plan_refuses_flags_for_making_plans(
    tmp_path: Path, given: dict[str, object], message: str
) -> None:
    args = flags(plan_file=str(tmp_path / "never-read.plan"), **given)
    with pytest.raises(UsageError) as caught:
        asyncio.run(apply._apply(args))
    assert str(caught.value) == message


def test_a_saved_plan_without_a_config_file_uses_default_settings(tmp_path: Path) -> None:
    assert apply._try_load_for_settings(argparse.Namespace(file=str(tmp_path / "no.yaml"))) is None


def test_a_blocked_plan_is_an_errored_line_on_the_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = Plan((create(), delete(prevent_destroy=True)))
    assert not apply._may_apply(flags(auto_approve=True), plan, True, Reporter(stream=True))
    out, err = capsys.readouterr()
    (line,) = [json.loads(text) for text in out.splitlines()]
    assert (line["type"], line["phase"]) == ("errored", "run")
    assert line["message"] == f"prevent_destroy forbids deleting: {REPO}:old"
    assert err.startswith("Error: prevent_destroy forbids deleting")
