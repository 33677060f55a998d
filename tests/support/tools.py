"""Command-line tools that the test extra installs (actionlint, hadolint, shellcheck, ...)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def find_tool(name: str) -> str | None:
    """``name`` beside this Python (a venv's bin/, where pip put it), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def tool(name: str, install: str) -> str:
    """The path of ``name``; the test is skipped, saying how to install it, when it is absent."""
    found = find_tool(name)
    if found is None:
        pytest.skip(f"{name} is not installed ({install})")
    return found
