"""GitHub Actions error annotations: placed on the file and line, and impossible to forge."""

from __future__ import annotations

from mplat.output.github import error_command, location_parts


def test_an_error_at_a_file_line_and_column() -> None:
    assert error_command("unknown key", "conf/m.yaml", 3, 5) == (
        "::error file=conf/m.yaml,line=3,col=5,title=mplat::unknown key"
    )
    assert error_command("no place") == "::error title=mplat::no place"
    assert error_command("file only", "m.yaml") == "::error file=m.yaml,title=mplat::file only"


def test_values_are_escaped_so_a_message_cannot_start_another_command() -> None:
    command = error_command("100%\n::error::forged", "a,b:c.yaml", 1, 1)
    assert command == (
        "::error file=a%2Cb%3Ac.yaml,line=1,col=1,title=mplat::100%25%0A::error::forged"
    )
    assert "\n" not in command


def test_location_parts() -> None:
    assert location_parts("m.yaml:3:5") == ("m.yaml", 3, 5)
    assert location_parts("C:/x/m.yaml:10:2") == ("C:/x/m.yaml", 10, 2)
    assert location_parts("") == (None, 0, 0)
    assert location_parts("somewhere") == (None, 0, 0)
