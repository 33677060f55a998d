"""``mplat schema``: print the JSON Schema of the configuration file.

For editors and CI outside this repository: ``mplat schema > mplat.schema.json`` gives the
schema of the mplat that is installed, whose ``$id`` names it stably across copies. The
text is the packaged file as is, read without loading jsonschema or YAML, so the command
is as quick as ``mplat --version``.
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys

from mplat.cli.errors import EXIT_OK

SCHEMA_PACKAGE = "mplat.config"
SCHEMA_RESOURCE = "mplat.schema.json"
"""Where the package keeps it (a link to schemas/mplat.schema.json in a checkout)."""


def schema_text() -> str:
    """The packaged schema, exactly, ending with a newline."""
    text = importlib.resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_RESOURCE).read_text("utf-8")
    return text if text.endswith("\n") else text + "\n"


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return EXIT_OK
