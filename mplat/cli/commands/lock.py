"""``mplat lock``: pin every source tag of the config in its lock file.

Pins already in the lock are kept (a tag that moved since is reported, not followed), new
sources are pinned, unused pins are dropped; ``--update-lock`` re-pins every source to what
its tag holds now. ``cli/locking.py`` says where the lock lives and prints what changed.
"""

from __future__ import annotations

import argparse
import sys

from mplat.cli import locking, wiring
from mplat.cli.errors import EXIT_OK
from mplat.cli.variables import load


def run(args: argparse.Namespace) -> int:
    return wiring.run(_lock(args))


async def _lock(args: argparse.Namespace) -> int:
    config = load(args)
    pool = wiring.registry_pool(config, args)
    try:
        await locking.update_lock(args, config, pool, sys.stdout, update=args.update_lock)
    finally:
        await pool.aclose()
    return EXIT_OK
