"""``mplat completion SHELL``: the script for that shell, on stdout."""

from __future__ import annotations

import argparse

import pytest

from mplat.cli.commands import completion
from mplat.cli.completion import SHELLS, describe, script
from mplat.cli.main import main
from mplat.cli.parser import build_parser


@pytest.mark.parametrize("shell", SHELLS)
def test_prints_the_script_of_the_shell(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert completion.run(argparse.Namespace(shell=shell)) == 0
    assert capsys.readouterr() == (script(shell, describe(build_parser())), "")


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["completion", "tcsh"])
    assert info.value.code == 1
    assert "argument SHELL: invalid choice: 'tcsh'" in capsys.readouterr().err
