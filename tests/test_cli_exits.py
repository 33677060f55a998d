"""Exit codes and saved plans (issue 10), through the CLI against a real registry.

`--detailed-exitcode` promises 2 = "changes present" and nothing else; a plan with errors is
never saved nor half-applied by default; a --target that selects nothing is an error; and
`apply --json` writes exactly one JSON document on stdout.
"""

from __future__ import annotations

import pytest

from tests.support.cli import run_cli

USAGE = {
    "unknown option": ["plan", "--detailed-exitcode", "--bogus"],
    "no command": [],
    "unknown command": ["frobnicate"],
    "option without its value": ["plan", "-f"],
    "parallelism not a number": ["plan", "--parallelism", "many"],
    "parallelism zero": ["apply", "--parallelism", "0"],
    "timeout NaN": ["plan", "--timeout", "nan"],
    "extra argument": ["validate", "extra"],
}


@pytest.mark.parametrize("argv", USAGE.values(), ids=USAGE)
def test_usage_errors_exit_1_never_2(argv: list[str]) -> None:
    run = run_cli(*argv)
    assert run.code == 1, run.err
    assert "usage: mplat" in run.err and "error:" in run.err and "Traceback" not in run.err


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["--version"]])
def test_help_and_version_still_exit_0(argv: list[str]) -> None:
    assert run_cli(*argv).code == 0
