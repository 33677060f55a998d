"""The completion scripts' source: the parser read into values, and the text of each script.

The scripts are run in real bash, zsh and fish by tests/e2e/test_completion.py.
"""

from __future__ import annotations

import argparse

import pytest

from mplat.cli.completion import (
    DIR_METAVARS,
    FILE_METAVARS,
    SHELLS,
    Cli,
    Values,
    describe,
    script,
)
from mplat.cli.parser import build_parser

# Values that complete to nothing: a number, a reference, a variable. A new metavar must be
# put here or in FILE_METAVARS / DIR_METAVARS, so nobody's path goes uncompleted by oversight.
FREE_TEXT = {"N", "SECONDS", "NAME=VALUE", "REPOSITORY:TAG", "REPOSITORY[:TAG]", "HOST", "SHELL"}


def cli() -> Cli:
    return describe(build_parser())


def test_every_command_of_the_parser_is_described() -> None:
    names = [command.name for command in cli().commands]
    assert names == ["validate", "plan", "apply", "show", "import", "lock", "schema", "completion"]
    helps = {command.name: command.help for command in cli().commands}
    assert helps["plan"] == "show what apply would change in the registries"


def test_every_metavar_is_known_to_complete_to_something_or_nothing() -> None:
    metavars = {
        metavar
        for command in cli().commands
        for metavar in [
            *(o.metavar for o in command.options if o.metavar is not None and not o.values.words),
            *(p.metavar for p in command.positionals),
        ]
    }
    assert metavars - FILE_METAVARS - DIR_METAVARS - FREE_TEXT == set()


def test_values_complete_to_paths_directories_or_choices() -> None:
    commands = {command.name: command for command in cli().commands}
    options = {flag: o for o in commands["plan"].options for flag in o.flags}
    assert options["--file"].values == Values(files=True) and options["--file"].repeatable
    assert options["-f"] is options["--file"]
    assert options["--out"].values == Values(files=True) and not options["--out"].repeatable
    assert options["--cache-dir"].values == Values(dirs=True)
    assert options["--timeout"].values == Values() and options["--timeout"].metavar == "SECONDS"
    assert options["--detailed-exitcode"].metavar is None
    (files,) = commands["validate"].positionals
    assert (files.metavar, files.values, files.many, files.optional) == (
        "FILE",
        Values(files=True),
        True,
        True,
    )
    (plan,) = commands["apply"].positionals
    assert (plan.values, plan.many, plan.optional) == (Values(files=True), False, True)
    (shell,) = commands["completion"].positionals
    assert (shell.values, shell.optional) == (Values(words=SHELLS), False)


def test_help_is_cut_to_its_first_clause_with_defaults_filled_in() -> None:
    options = {
        flag: o for c in cli().commands if c.name == "plan" for o in c.options for flag in o.flags
    }
    assert options["--parallelism"].help == "requests in flight per registry"
    assert options["-v"].help == "show HTTP exchanges"
    assert "%(" not in script("bash", cli()) + script("zsh", cli()) + script("fish", cli())


@pytest.mark.parametrize("shell", SHELLS)
def test_each_script_names_every_command_and_flag(shell: str) -> None:
    text = script(shell, cli())
    for command in cli().commands:
        assert command.name in text
        for option in command.options:
            for flag in option.flags:
                # fish names flags without their dashes: -l detailed-exitcode
                assert (flag.lstrip("-") if shell == "fish" else flag) in text
    assert text.endswith("\n")


def test_bash_registers_its_function_and_completes_files_for_f() -> None:
    text = script("bash", cli())
    assert text.rstrip().endswith("complete -F _mplat mplat")
    assert "-f|--file) _mplat_files; return ;;" in text
    assert "--cache-dir) _mplat_dirs; return ;;" in text


def test_zsh_is_a_compdef_file_that_also_works_sourced() -> None:
    text = script("zsh", cli())
    assert text.startswith("#compdef mplat\n")
    assert "'*--file=[configuration file" in text and ":PATH:_files'" in text
    assert "compdef _mplat mplat" in text


def test_fish_turns_off_file_completion_except_where_a_path_is_wanted() -> None:
    lines = script("fish", cli()).splitlines()
    assert "complete -c mplat -f" in lines
    assert any("-s 'f' -l 'file' -r -F" in line for line in lines)
    assert (
        "complete -c mplat -n '__fish_seen_subcommand_from completion' -x -a 'bash zsh fish'"
        in lines
    )


def _odd_parser() -> argparse.ArgumentParser:
    """Help texts with every character the shells' quoting has to survive."""
    parser = argparse.ArgumentParser(prog="odd")
    sub = parser.add_subparsers(dest="command")
    cmd = sub.add_parser("go", help="it's [really] \\ odd: $HOME `x`")
    cmd.add_argument("--at", metavar="HOST:PORT", help="don't [stop] here; or there")
    cmd.add_argument("--hidden", help=argparse.SUPPRESS)
    return parser


def test_quotes_and_brackets_in_help_are_escaped_for_each_shell() -> None:
    odd = describe(_odd_parser())
    assert [o.flags for o in odd.commands[0].options] == [("-h", "--help"), ("--at",)]
    assert "'--at=[don'\\''t \\[stop\\] here]:HOST\\:PORT: '" in script("zsh", odd)
    assert "'go:it'\\''s [really] \\ odd'" in script("zsh", odd)
    assert "-d 'it\\'s [really] \\\\ odd'" in script("fish", odd)
    assert "--hidden" not in script("bash", odd) + script("zsh", odd) + script("fish", odd)
