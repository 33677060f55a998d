"""--var parsing and MPLAT_VAR_<NAME>: the CLI's side of config variables."""

from __future__ import annotations

import argparse

import pytest

from mplat.cli.parser import build_parser
from mplat.cli.variables import config_paths, env_variables, var_flag


def test_var_flag_splits_at_the_first_equals() -> None:
    assert var_flag("a=b=c") == ("a", "b=c")
    assert var_flag("a=") == ("a", "")
    for bad in ("a", "=b", "1a=b", "a b=c"):
        with pytest.raises(argparse.ArgumentTypeError):
            var_flag(bad)


def test_var_is_repeatable_on_every_command_that_reads_the_config() -> None:
    for command in ("validate", "plan", "apply"):
        args = build_parser().parse_args([command, "--var", "a=1", "--var", "b=2"])
        assert args.var == [("a", "1"), ("b", "2")]
    assert build_parser().parse_args(["validate"]).var == []


def test_env_variables_takes_only_valid_names_after_the_prefix() -> None:
    environ = {"MPLAT_VAR_version": "1", "MPLAT_VAR_": "x", "MPLAT_VAR_a-b": "x", "HOME": "/"}
    assert env_variables(environ) == {"version": "1"}


@pytest.mark.parametrize(
    ("argv", "paths"),
    [
        (["validate"], ["manifests.yaml"]),
        (["validate", "a.yaml", "b.yaml"], ["a.yaml", "b.yaml"]),
        (["validate", "-f", "a.yaml", "-f", "b.yaml"], ["a.yaml", "b.yaml"]),
        (["validate", "-f", "a.yaml", "b.yaml", "conf.d"], ["a.yaml", "b.yaml", "conf.d"]),
        (["validate", "c.yaml", "-f", "a.yaml"], ["a.yaml", "c.yaml"]),  # -f first, then FILEs
        (["plan", "-f", "a.yaml"], ["a.yaml"]),
    ],
)
def test_config_paths_are_the_f_flags_then_validates_file_arguments(
    argv: list[str], paths: list[str]
) -> None:
    assert config_paths(build_parser().parse_args(argv)) == paths
