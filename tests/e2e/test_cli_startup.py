"""`mplat --version`, `validate`, `schema` and `completion` must not import what they do not
use (issue 6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import ROOT


def imported_modules(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mplat", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (("--version",), {"asyncio", "httpx", "deepdiff", "jsonschema", "ruamel.yaml", "rich"}),
        (("validate", "-f", "examples/manifests.yaml"), {"asyncio", "httpx", "deepdiff", "rich"}),
        (("schema",), {"asyncio", "httpx", "deepdiff", "jsonschema", "ruamel.yaml", "rich"}),
        (
            ("completion", "bash"),
            {"asyncio", "httpx", "deepdiff", "jsonschema", "ruamel.yaml", "rich"},
        ),
    ],
)
def test_light_commands_import_only_what_they_use(args: tuple[str, ...], absent: set[str]) -> None:
    modules = imported_modules(*args)
    assert "mplat.cli.main" in modules  # the measurement itself works
    assert not absent & modules, sorted(absent & modules)
