"""The approval prompt of ``mplat apply``: only a typed "yes" on a terminal lets it write."""

from __future__ import annotations

import sys

from mplat.cli import interrupt


def confirm() -> bool:
    """Ask on stderr, read stdin; a signal while waiting acts at once, as without mplat."""
    with interrupt.blocking():  # input() would swallow a signal the loop has yet to handle
        return _ask()


def _ask() -> bool:
    if not sys.stdin.isatty():
        print(
            "Error: confirmation needed but standard input is not a terminal; "
            "re-run with --auto-approve",
            file=sys.stderr,
        )
        return False
    # The question goes to stderr: stdout may be reserved for `--json`.
    print(
        "\nDo you want to perform these actions? Only 'yes' will be accepted: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    answer = sys.stdin.readline()
    if answer.strip() != "yes":
        print("Apply cancelled.", file=sys.stderr)
        return False
    return True
