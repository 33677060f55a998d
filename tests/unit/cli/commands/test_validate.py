"""``mplat validate``: a config checked without a network, counted in one line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mplat.cli.commands import validate
from mplat.config.model import ConfigError
from tests.support.paths import ROOT


def test_the_example_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "examples" / "manifests.yaml")
    assert validate.run(argparse.Namespace(file=path)) == 0
    assert capsys.readouterr() == (f"{path}: valid (1 lists, 1 tags).\n", "")


@pytest.mark.parametrize(
    ("name", "counted"),
    [("for_each.yaml", "15 lists, 30 tags"), ("two-registries.yaml", "3 lists, 6 tags")],
)
def test_every_other_example_is_valid(
    name: str, counted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(ROOT / "examples" / name)
    assert validate.run(argparse.Namespace(file=path)) == 0
    assert capsys.readouterr().out == f"{path}: valid ({counted}).\n"


def test_the_examples_are_all_tested() -> None:
    tested = {"manifests.yaml", "for_each.yaml", "two-registries.yaml"}
    assert {p.name for p in (ROOT / "examples").glob("*.yaml")} == tested


def test_lists_and_tags_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nlists:\n"
        "  - repository: r.example/a\n    tags: [x, y]\n    manifests: [{image: r.example/s:1}]\n"
        "  - repository: r.example/b\n    tags: [z]\n    manifests: [{image: r.example/s:1}]\n"
    )
    assert validate.run(argparse.Namespace(file=str(path))) == 0
    assert capsys.readouterr().out == f"{path}: valid (2 lists, 3 tags).\n"


def test_an_invalid_config_is_raised_for_main_to_print(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("version: 2\nlists: []\n")
    with pytest.raises(ConfigError):
        validate.run(argparse.Namespace(file=str(path)))


def test_file_arguments_are_one_config_as_f_flags_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mplat validate a.yaml b.yaml` (as pre-commit runs it) means `-f a.yaml -f b.yaml`."""
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(
        "version: 1\nvariables: {host: r.example}\nlists:\n"
        "  - repository: ${host}/a\n    tags: [x]\n    manifests: [{image: r.example/s:1}]\n"
    )
    second.write_text(  # uses a variable only the first file declares: one config, or an error
        "version: 1\nlists:\n"
        "  - repository: ${host}/b\n    tags: [y, z]\n    manifests: [{image: r.example/s:1}]\n"
    )
    names = [str(first), str(second)]
    assert validate.run(argparse.Namespace(file=None, files=names)) == 0
    assert validate.run(argparse.Namespace(file=names, files=[])) == 0
    assert validate.run(argparse.Namespace(file=names[:1], files=names[1:])) == 0
    line = f"{first}, {second}: valid (2 lists, 3 tags).\n"
    assert capsys.readouterr().out == line * 3
    with pytest.raises(ConfigError, match="host"):
        validate.run(argparse.Namespace(file=None, files=names[1:]))
