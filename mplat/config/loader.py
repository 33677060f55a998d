"""Read the YAML config into :class:`Config`, reporting every problem with its ``file:line:column``.

The stages, each on the output of the one before, so a person fixing the file sees all the
mistakes at once and each one where it was written:

1. :mod:`~mplat.config.read`: the file's bytes and text (size, file type, UTF-8).
2. :mod:`~mplat.config.yamlnodes`: bounded YAML -> a :class:`~mplat.config.origins.Document`
   (plain data plus the origin of every value).
3. :mod:`~mplat.config.schema`: JSON Schema, with jsonschema's errors as plain sentences.
4. :mod:`~mplat.config.build`: references, platforms and cross-field rules -> Config.

A stage that rewrites documents (templating, merging several files) goes between 2 and 3.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

from mplat.config.build import build_config
from mplat.config.model import Config, ConfigError
from mplat.config.read import MAX_FILE_BYTES, read_file, source_text
from mplat.config.schema import check_schema
from mplat.config.yamlnodes import MAX_DEPTH, MAX_NODES, parse_document

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "load_config", "load_config_text"]


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the config file at ``path``; every problem is raised as ConfigError."""
    filename = os.fspath(path)
    return load_config_text(read_file(filename), filename)


def load_config_text(text: str | bytes, filename: str) -> Config:
    """Validate config ``text``; ``filename`` is only used to label problem locations."""
    source = source_text(text, filename)
    with _gc_paused():
        document = parse_document(source, filename)
        report = check_schema(document)
        config, problems = build_config(document, report.tainted)
    problems = report.problems + problems
    if problems or config is None:
        raise ConfigError(list(dict.fromkeys(problems)))
    return config


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading allocates hundreds of thousands of small objects and frees them by refcount;
    the cyclic collector would rescan them all again and again (a quarter of the time of a
    10,000-tag config) and find nothing to free. Its state is restored however loading ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
