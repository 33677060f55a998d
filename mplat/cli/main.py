"""Command line: ``mplat validate | plan | apply | show | import | lock | schema | completion``.

``main`` parses, runs one module of ``mplat.cli.commands`` and turns every expected failure
(any ``MplatError``, or an unreadable file) into readable ``Error: ...`` lines and exit 1;
only bugs produce tracebacks. The command module is imported only once chosen, so
``mplat --version`` and ``mplat validate`` never load the network stack.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from mplat.cli.errors import EXIT_ERROR, error_message
from mplat.cli.parser import build_parser

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _StderrHandler()
    logger = logging.getLogger("mplat")
    if getattr(args, "debug", False):  # schema and completion have no --debug
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        return command(args.command)(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # Expected failures become one readable message.
        message = error_message(exc)
        if message is None:
            raise
        print(f"Error: {message}", file=sys.stderr)
        if type(exc).__name__ == "ConfigError":  # imported only if the config was loaded
            from mplat.cli.printing import annotate_config_error
            from mplat.config.model import ConfigError

            if isinstance(exc, ConfigError):
                annotate_config_error(args, exc)
        return EXIT_ERROR
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def command(name: str) -> Command:
    """The ``run`` of ``mplat.cli.commands.<name>``, imported now: each pays only for itself."""
    if name == "validate":
        from mplat.cli.commands import validate

        return validate.run
    if name == "plan":
        from mplat.cli.commands import plan

        return plan.run
    if name == "apply":
        from mplat.cli.commands import apply

        return apply.run
    if name == "show":
        from mplat.cli.commands import show

        return show.run
    if name == "import":
        from mplat.cli.commands import import_

        return import_.run
    if name == "lock":
        from mplat.cli.commands import lock

        return lock.run
    if name == "schema":
        from mplat.cli.commands import schema

        return schema.run
    if name == "completion":
        from mplat.cli.commands import completion

        return completion.run
    raise AssertionError(f"the parser accepted an unknown command {name!r}")


class _StderrHandler(logging.Handler):
    """Debug lines to whatever sys.stderr is at the time (tests swap it between runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"debug: {record.getMessage()}", file=sys.stderr)
