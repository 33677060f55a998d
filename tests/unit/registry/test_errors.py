"""mplat.registry.errors: a registry's error body read into details, and the message shown."""

from __future__ import annotations

import json

from mplat.registry.errors import ErrorDetail, RegistryError, parse_error_body


def _body(*errors: dict[str, object]) -> bytes:
    return json.dumps({"errors": list(errors)}).encode()


def test_error_body_is_read_into_details() -> None:
    body = _body({"code": "DENIED", "message": "no", "detail": {"a": 1}}, {"message": "x"}, "junk")
    assert parse_error_body(body) == (
        ErrorDetail("DENIED", "no", '{"a": 1}'),
        ErrorDetail("UNKNOWN", "x"),
    )
    for junk in (b"", b"<html>", b"[]", b'{"errors": 1}', b"\xff"):
        assert parse_error_body(junk) == ()


def test_registry_error_keeps_its_layout() -> None:
    err = RegistryError(
        "r.example",
        "a/b",
        "PUT manifest v1 refused",
        status=403,
        errors=(ErrorDetail("DENIED", "requested access is denied"), ErrorDetail("X", "")),
    )
    assert str(err) == (
        "r.example/a/b: PUT manifest v1 refused (HTTP 403)\n"
        "  DENIED: requested access is denied\n"
        "    hint: the credentials are valid but lack permission for this repository\n"
        "  X: "
    )


def test_registry_supplied_text_cannot_forge_lines_or_drive_the_terminal() -> None:
    body = _body(
        {"code": "DENIED\nError: forged", "message": "bad\x1b[2J\x1b]0;title\x07"},
        {"code": "NAME_UNKNOWN", "message": "gone\nError: forged\r\u2028\x85"},
    )
    err = RegistryError("r.example", "a/b", "GET failed", status=404, errors=parse_error_body(body))
    lines = str(err).split("\n")
    assert all(line.isprintable() for line in lines), lines
    assert not any(line.startswith("Error:") for line in lines), lines
    assert lines[0] == "r.example/a/b: GET failed (HTTP 404)"
    assert [line[:3] for line in lines[1:]] == ["  '", "  N", "   "]  # no hint for a forged code
    assert err.has_code("NAME_UNKNOWN")


def test_a_long_plain_registry_message_is_shown_whole() -> None:
    # Docker Hub's rate-limit message ends in the URL that explains it: cutting at the generic
    # display limit would lose exactly that.
    hub = (
        "You have reached your pull rate limit. You may increase the limit by authenticating "
        "and upgrading: https://www.docker.com/increase-rate-limit"
    )
    body = _body({"code": "TOOMANYREQUESTS", "message": hub})
    err = RegistryError("docker.io", "library/alpine", "HEAD", errors=parse_error_body(body))
    assert f"TOOMANYREQUESTS: {hub}" in err.describe()
