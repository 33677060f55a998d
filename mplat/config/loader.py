"""Read the YAML config into :class:`Config`, reporting every problem with its ``file:line:column``.

The stages, each on the output of the one before, so a person fixing the file sees all the
mistakes at once and each one where it was written:

1. :mod:`~mplat.config.read`: the file's bytes and text (size, file type, UTF-8).
2. :mod:`~mplat.config.yamlnodes`: bounded YAML -> a :class:`~mplat.config.origins.Document`
   (plain data plus the origin of every value).
3. :mod:`~mplat.config.schema`: JSON Schema, with jsonschema's errors as plain sentences
   (run by :mod:`~mplat.config.shapes`, once per shape of list item when that proves enough).
   Then :mod:`~mplat.config.template`: variables, ``${}`` and for_each (only when used).
4. :mod:`~mplat.config.build`: references, platforms and cross-field rules -> Config.

Several files (``-f`` repeated, or a directory) are read and parsed one by one, then
:mod:`~mplat.config.merge` makes one Document of them before templating, so variables,
registries and defaults are shared and ``prune`` sees every file's tags. A stage that
rewrites documents goes between 2 and 3. Variables from outside (``--var``,
``MPLAT_VAR_<NAME>``) are passed in: config/ reads no environment.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator, Mapping, Sequence

from mplat.config.build import build_config
from mplat.config.merge import Merged, local_indexes, merge
from mplat.config.model import Config, ConfigError, ConfigProblem
from mplat.config.origins import Document
from mplat.config.read import MAX_FILE_BYTES, config_files, read_file, source_text
from mplat.config.shapes import check_document
from mplat.config.template import VariableInputs, annotate, expand
from mplat.config.yamlnodes import MAX_DEPTH, MAX_NODES, parse_document

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "load_config",
    "load_config_text",
    "load_configs",
]


def load_config(
    path: str | os.PathLike[str],
    *,
    variables: Mapping[str, str] | None = None,
    env_variables: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate the config file at ``path``; every problem is raised as ConfigError.

    ``variables`` (``--var``) win over ``env_variables`` (``MPLAT_VAR_<NAME>``, without the
    prefix), which win over the file's ``variables:``.
    """
    filename = os.fspath(path)
    return load_config_text(
        read_file(filename), filename, variables=variables, env_variables=env_variables
    )


def load_configs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    variables: Mapping[str, str] | None = None,
    env_variables: Mapping[str, str] | None = None,
) -> Config:
    """Read the files and directories ``paths`` name as one config (``-f`` repeated).

    Every file is read and parsed before any is refused, so all their mistakes show at once.
    The config's ``path`` is the first file, which names the set in messages.
    """
    files = config_files([os.fspath(path) for path in paths])
    if len(files) == 1:
        return load_config(files[0], variables=variables, env_variables=env_variables)
    documents: list[Document] = []
    problems: list[ConfigProblem] = []
    templated = False
    with _gc_paused():
        for filename in files:
            try:
                source = source_text(read_file(filename), filename)
                documents.append(parse_document(source, filename))
            except ConfigError as exc:
                problems.extend(exc.problems)
                continue
            templated = templated or _uses_templating(source)
        if problems:
            raise ConfigError(problems)
        merged = merge(documents)
        return _load(merged.document, templated, variables, env_variables, merged)


def load_config_text(
    text: str | bytes,
    filename: str,
    *,
    variables: Mapping[str, str] | None = None,
    env_variables: Mapping[str, str] | None = None,
) -> Config:
    """Validate config ``text``; ``filename`` is only used to label problem locations."""
    source = source_text(text, filename)
    with _gc_paused():
        document = parse_document(source, filename)
        return _load(document, _uses_templating(source), variables, env_variables)


def _uses_templating(source: str) -> bool:
    """Files that use no templating skip the stage: nothing in them could change."""
    return "${" in source or "for_each" in source or "variables" in source


def _load(
    document: Document,
    templated: bool,
    variables: Mapping[str, str] | None,
    env_variables: Mapping[str, str] | None,
    merged: Merged | None = None,
) -> Config:
    """Stages 3 and 4 (templating first when used) on a parsed, possibly merged, document."""
    expansion = None
    try:
        if variables or templated:
            inputs = VariableInputs(variables or {}, env_variables or {})
            expansion = expand(document, inputs)
            document = expansion.document
    except ConfigError as exc:
        raise ConfigError(_local(exc.problems, merged)) from None
    report = check_document(document)
    config, problems = build_config(document, report.tainted)
    problems = report.problems + problems
    if expansion is not None:
        problems = annotate(problems, expansion)
    if problems or config is None:
        raise ConfigError(_local(list(dict.fromkeys(problems)), merged))
    return config


def _local(problems: list[ConfigProblem], merged: Merged | None) -> list[ConfigProblem]:
    return problems if merged is None else local_indexes(problems, merged)


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
