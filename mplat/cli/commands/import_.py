"""``mplat import``: write the YAML that reproduces lists already in a registry.

Terraform's ``import`` / ``-generate-config-out`` for mplat: adopting existing lists starts
from a file that plans to "no changes". Lists the config cannot reproduce exactly are left
out with a warning on stderr naming the tag and why, never imported as something else.
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
from pathlib import Path

from mplat.cli import wiring
from mplat.cli.errors import EXIT_OK, UsageError
from mplat.config.dump import dump_config
from mplat.config.model import Config, RegistrySettings
from mplat.engine.importer import import_lists
from mplat.files import write_atomic
from mplat.values.errors import MplatError
from mplat.values.reference import Reference, ReferenceError, parse_reference
from mplat.values.text import shown


def run(args: argparse.Namespace) -> int:
    refs = [_reference(text) for text in args.references]
    settings = {host: RegistrySettings(insecure=True) for host in args.insecure}
    config = Config(path="", lists=(), registries=settings)
    return wiring.run(_import(args, config, refs))


async def _import(args: argparse.Namespace, config: Config, refs: list[Reference]) -> int:
    pool = wiring.registry_pool(config, args)
    try:
        result = await import_lists(refs, pool)
    finally:
        await pool.aclose()
    for why in result.skipped:
        print(f"warning: skipped {why}", file=sys.stderr)
    if not result.lists:
        raise MplatError("no list to import (a config needs at least one)")
    text = dump_config(
        result.lists,
        config.registries,
        header=[f"Written by `mplat import {' '.join(args.references)}`."],
        schema=_schema_path(),
    )
    if args.output:
        write_atomic(args.output, text.encode(), 0o644)
        tags = sum(len(spec.tags) for spec in result.lists)
        print(f"Wrote {len(result.lists)} lists ({tags} tags) to {args.output}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _schema_path() -> str | None:
    """The installed schema, for editors: a file beside the package, when it is one."""
    resource = importlib.resources.files("mplat.config").joinpath("mplat.schema.json")
    return str(resource) if isinstance(resource, Path) and resource.is_file() else None


def _reference(text: str) -> Reference:
    try:
        ref = parse_reference(text)
    except ReferenceError as exc:
        raise UsageError(str(exc)) from None
    if ref.digest is not None:
        raise UsageError(f"{shown(text)}: expected REPOSITORY or REPOSITORY:TAG, not a digest")
    return ref
