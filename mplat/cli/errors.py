"""Exit codes and the CLI's own error, shared by the parser, the commands and ``main``.

Apart from the commands so that a command module never has to import ``main``.
"""

from __future__ import annotations

from mplat.values.errors import MplatError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
"""0 done; 1 any error (usage errors too); 2 only for ``plan --detailed-exitcode`` changes."""


class UsageError(MplatError):
    """A problem with how mplat was called; printed as one line."""


def error_message(exc: BaseException) -> str | None:
    """What to print after ``Error:`` for an expected failure; None for a bug."""
    if isinstance(exc, MplatError):
        return str(exc)  # each error words itself (ConfigError's several problems included)
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror}" if exc.strerror else str(exc)
    return None
