"""Config files and variables from the command line: ``-f``, ``--var``, ``MPLAT_VAR_<NAME>``.

The environment is read here, at the edge, and handed to the loader as plain mappings, so
config/ stays pure. The loader applies the precedence (flag > environment > file).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mplat.config.model import Config

__all__ = ["DEFAULT_CONFIG", "ENV_PREFIX", "config_paths", "env_variables", "load", "var_flag"]

DEFAULT_CONFIG = "manifests.yaml"
ENV_PREFIX = "MPLAT_VAR_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def var_flag(text: str) -> tuple[str, str]:
    """argparse type of ``--var``: ``NAME=VALUE`` (the value may be empty, or hold ``=``)."""
    name, equals, value = text.partition("=")
    if not equals or not _NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME letters, digits and '_', got {text!r}"
        )
    return name, value


def env_variables(environ: Mapping[str, str]) -> dict[str, str]:
    """``MPLAT_VAR_<NAME>`` values, keyed by NAME."""
    return {
        key.removeprefix(ENV_PREFIX): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and _NAME.fullmatch(key.removeprefix(ENV_PREFIX))
    }


def config_paths(args: argparse.Namespace) -> list[str]:
    """What ``-f`` names, in order, then ``validate``'s FILE arguments; one config in all.

    ``manifests.yaml`` when neither names anything.
    """
    given: str | list[str] | None = getattr(args, "file", None)
    flagged = [given] if isinstance(given, str) else list(given or [])
    positional: list[str] = list(getattr(args, "files", None) or [])
    return [*flagged, *positional] or [DEFAULT_CONFIG]


def load(args: argparse.Namespace) -> Config:
    """The config named by ``-f``, with this command line's and environment's variables."""
    # Imported here: the parser imports this module, and `mplat --version` must not pay for
    # YAML and JSON Schema.
    from mplat.config.loader import load_configs

    flags = dict(getattr(args, "var", None) or [])  # a repeated --var: the last one wins
    return load_configs(
        config_paths(args), variables=flags, env_variables=env_variables(os.environ)
    )
