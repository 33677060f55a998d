"""Helpers shared by the config tests: write a config, and read back its problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mplat.config.loader import load_config
from mplat.config.model import ConfigError
from tests.support.paths import ROOT

EXAMPLE = ROOT / "examples" / "manifests.yaml"

Problem = tuple[int, int, str]


def write(tmp_path: Path, text: str, name: str = "mplat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems, "a ConfigError must carry at least one problem"
    for problem in caught.value.problems:
        assert problem.location.file == str(path)
    return [(p.location.line, p.location.column, p.message) for p in caught.value.problems]


def problems(tmp_path: Path, text: str) -> list[Problem]:
    return problems_of(write(tmp_path, text))


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the n-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


VALID_HEAD = """\
version: 1
lists:
  - repository: localhost:5000/acme/app
    tags: [latest]
"""


def lists_config(count: int) -> str:
    """``count`` one-tag lists of 3 entries with platforms, named as real registries are."""
    lines = ["version: 1", "lists:"]
    platforms = ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    for i in range(count):
        repository = f"registry.example.com/platform-team/service-{i:05d}"
        lines += [f"  - repository: {repository}", f"    tags: [1.2.{i}]", "    manifests:"]
        for platform in platforms:
            arch = platform.split("/", 1)[1].replace("/", "")
            lines.append(f"      - image: {repository}:1.2.{i}-linux-{arch}")
            lines.append(f"        platform: {platform}")
    return "\n".join(lines) + "\n"
