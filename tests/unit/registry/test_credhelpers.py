"""mplat.registry.credhelpers: what of a helper's output may be shown, and reading its answer."""

from __future__ import annotations

import pytest

from mplat.registry.credhelpers import parse_helper_output, redact


@pytest.mark.parametrize(
    ("line", "kept", "removed"),
    [
        ("gpg: decryption failed: No secret key", "No secret key", None),
        ("error: password=hunter2 rejected", "rejected", "hunter2"),
        ("Authorization: Bearer abc.def", "Authorization", "abc.def"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization", "dXNlcjpwYXNz"),
        ("docker-credential-pass: exit status 1", "docker-credential-pass: exit status 1", None),
        ("got ghp_16C7e42F292c6912E7710c838347Ae178B4a back", "back", "ghp_16C7e42F"),
        ("exit status 1: docker-credential-pass failed", "docker-credential-pass failed", None),
        ('{"Secret": "x"}', "withheld", 'x"'),
    ],
)
def test_redact(line: str, kept: str, removed: str | None) -> None:
    out = redact(line)
    assert kept in out
    if removed is not None:
        assert removed not in out


def test_parse_helper_output_empty_secret_is_no_entry() -> None:
    assert parse_helper_output("p", "f", 0, '{"Username": "", "Secret": ""}', "") is None
