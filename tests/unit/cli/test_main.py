"""``main``: every MplatError becomes ``Error: ...`` and exit 1; anything else stays a bug."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from mplat.cli.commands import validate
from mplat.cli.main import main
from mplat.config.model import ConfigError, ConfigProblem, Location
from mplat.registry.secrets import CredentialError
from mplat.values.errors import MplatError
from mplat.values.manifest import ManifestError
from mplat.values.platform import PlatformError


class MadeUpError(MplatError):
    """A subclass main has never heard of: the root alone must be enough."""


def failing(exc: BaseException) -> Callable[..., int]:
    def run(*_args: object) -> int:
        raise exc

    return run


@pytest.mark.parametrize(
    "exc",
    [
        MadeUpError("the frobnicator is out of tune"),
        ManifestError("the frobnicator is out of tune"),
        CredentialError("the frobnicator is out of tune"),
        PlatformError("the frobnicator is out of tune"),
    ],
)
def test_any_mplat_error_is_one_error_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: MplatError
) -> None:
    monkeypatch.setattr(validate, "run", failing(exc))
    assert main(["validate"]) == 1
    assert capsys.readouterr() == ("", "Error: the frobnicator is out of tune\n")


@pytest.mark.parametrize("exc", [RuntimeError("a bug"), KeyError("a bug"), ValueError("a bug")])
def test_other_exceptions_are_not_swallowed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception
) -> None:
    monkeypatch.setattr(validate, "run", failing(exc))
    with pytest.raises(type(exc)):
        main(["validate"])
    assert capsys.readouterr().err == ""


def test_an_unreadable_file_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = PermissionError(13, "Permission denied", "plan.json")
    monkeypatch.setattr(validate, "run", failing(exc))
    assert main(["validate"]) == 1
    assert capsys.readouterr().err == "Error: plan.json: Permission denied\n"


def test_ctrl_c_outside_the_event_loop_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(validate, "run", failing(KeyboardInterrupt()))
    assert main(["validate"]) == 130
    assert capsys.readouterr().err == "Interrupted.\n"


def problem(line: int, message: str) -> ConfigProblem:
    return ConfigProblem(Location("m.yaml", line, 1), message)


def test_several_config_problems_get_a_heading(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = ConfigError([problem(7, "second"), problem(3, "first")])
    monkeypatch.setattr(validate, "run", failing(exc))
    assert main(["validate"]) == 1
    assert capsys.readouterr().err == (
        "Error: invalid configuration\n  m.yaml:3:1: first\n  m.yaml:7:1: second\n"
    )


def test_a_missing_config_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", "-f", str(missing)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"Error: {missing}") and err.count("\n") == 1


def test_a_usage_error_found_by_a_command_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.plan"  # never read: the flags are refused first
    assert main(["apply", str(saved), "--target", "a/b:1", "--no-cache"]) == 1
    assert capsys.readouterr() == (
        "",
        "Error: --target applies to plans being made, not to a saved plan\n",
    )


def test_debug_logging_is_undone_after_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*_args: object) -> int:
        logging.getLogger("mplat.test").debug("hello")
        return 0

    monkeypatch.setattr(validate, "run", run)
    assert main(["validate", "--debug"]) == 0
    assert capsys.readouterr().err == "debug: hello\n"
    logger = logging.getLogger("mplat")
    assert logger.handlers == [] and logger.level == logging.NOTSET
