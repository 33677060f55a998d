"""``mplat validate``: check the configuration file, without network access."""

from __future__ import annotations

import argparse

from mplat.cli.errors import EXIT_OK
from mplat.cli.variables import config_paths, load


def run(args: argparse.Namespace) -> int:
    config = load(args)
    tags = sum(len(spec.tags) for spec in config.lists)
    print(f"{', '.join(config_paths(args))}: valid ({len(config.lists)} lists, {tags} tags).")
    return EXIT_OK
