"""``mplat completion SHELL``: print the tab-completion script for bash, zsh or fish.

The script is written from the parser (``mplat.cli.completion``), so it completes every
command and flag this mplat has; re-run it after an upgrade. Nothing but the parser loads.
"""

from __future__ import annotations

import argparse
import sys

from mplat.cli.completion import describe, script
from mplat.cli.errors import EXIT_OK
from mplat.cli.parser import build_parser


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell, describe(build_parser())))
    return EXIT_OK
