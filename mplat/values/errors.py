"""The root of every error mplat expects: the CLI prints its message, never a traceback.

It lives with the value types because they raise it too, and they import nothing else of mplat.
"""

from __future__ import annotations


class MplatError(Exception):
    """An expected failure whose message is written for the person running mplat."""
