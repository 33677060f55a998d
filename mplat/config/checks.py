"""What every rule of stage 4 needs: where values were written, and which the schema refused.

Values under a path the schema already complained about are skipped, so a single typo does
not produce a second, confusing message; and a problem is reported where it was written.
The builders of :mod:`~mplat.config.build` and :mod:`~mplat.config.registries` extend it.
"""

from __future__ import annotations

from mplat.config.model import ConfigProblem
from mplat.config.origins import JSONPath, Origins, prefixed, render_path

__all__ = ["Checks"]


class Checks:
    """The problems found so far, and the tests for whether a value may still be looked at."""

    def __init__(self, origins: Origins, tainted: list[JSONPath]) -> None:
        self.origins = origins
        self.filename = origins.filename
        self.tainted = tainted
        self.problems: list[ConfigProblem] = []

    def _clean(self, path: JSONPath) -> bool:
        """Neither this value, nor anything in it, nor anything around it failed the schema."""
        if not self.tainted:
            return True  # the usual case, asked of every value of every list
        return not any(t[: len(path)] == path or path[: len(t)] == t for t in self.tainted)

    def _intact(self, path: JSONPath) -> bool:
        """This container is the right kind of thing; parts of it may still be broken."""
        if not self.tainted:
            return True  # the usual case, asked of every value of every list
        return not any(path[: len(t)] == t for t in self.tainted)

    def _problem(
        self, path: JSONPath, message: str, *, at_key: bool = False, prefix: JSONPath | None = None
    ) -> None:
        where = self.origins.key(path) if at_key else self.origins.value(path)
        shown = path if prefix is None else prefix
        self.problems.append(ConfigProblem(where, prefixed(shown, message)))

    def _where(self, path: JSONPath, beside: JSONPath | None = None) -> str:
        """Where ``path`` was written, naming its file when it is not the file of ``beside``."""
        loc = self.origins.value(path)
        if beside is not None and self.origins.value(beside).file != loc.file:
            return f"{loc} ({render_path(path)})"
        return f"line {loc.line}, column {loc.column} ({render_path(path)})"
