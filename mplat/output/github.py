"""GitHub Actions workflow commands: an error annotated on the file:line:column it is about.

Under ``GITHUB_ACTIONS=true`` a config error shows up on the pull request's "Files changed"
tab at the line to fix, not only in the job log. The runner parses ``::error file=…::…``
lines; the values are escaped as the runner unescapes them (``%``, CR, LF; also ``:`` and
``,`` in properties), so no message can end a command early or start another.
"""

from __future__ import annotations

import re

__all__ = ["error_command", "location_parts"]

_LOCATION = re.compile(r"(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def error_command(
    message: str, file: str | None = None, line: int = 0, col: int = 0, title: str = "mplat"
) -> str:
    """``::error file=F,line=L,col=C,title=T::message``; position parts only when known."""
    props = [f"title={_property(title)}"]
    if file:
        props.insert(0, f"file={_property(file)}")
        if line > 0:
            props.insert(1, f"line={line}")
            if col > 0:
                props.insert(2, f"col={col}")
    return f"::error {','.join(props)}::{_data(message)}"


def location_parts(location: str) -> tuple[str | None, int, int]:
    """``("m.yaml", 3, 5)`` from ``"m.yaml:3:5"`` (a plan error's location); else no file."""
    match = _LOCATION.fullmatch(location)
    if match is None:
        return None, 0, 0
    return match["file"], int(match["line"]), int(match["col"])
