"""Run the mplat CLI in-process and capture what a user would see."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

from mplat.cli.main import main
from tests.support import secrets


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run_cli(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse exits for --help/--version/usage errors
            code = int(exc.code or 0)
    secrets.OUTPUTS.extend((out.getvalue(), err.getvalue()))
    if "--out" in args:
        secrets.WRITTEN_FILES.append(Path(args[args.index("--out") + 1]))
    return Run(code, out.getvalue(), err.getvalue())


def write_config(folder: Path, text: str, name: str = "manifests.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path
