"""mplat.registry.observe: what may reach a log, and reading the headers registries send."""

from __future__ import annotations

import email.utils

import httpx

from mplat.registry.api import Notices
from mplat.registry.observe import observe, parse_retry_after, redact_url

SECRET = "Pw-mplat-SECRET-7f3a9c"


def test_parse_retry_after_seconds_and_dates() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0
    for junk in (None, "", "soon", "-5", "1.5", "Someday, 99 Foo 2015"):
        assert parse_retry_after(junk) is None, junk


def test_redact_url_hides_signed_query_values() -> None:
    url = (
        "https://r.example/v2/a/blobs/uploads/u1?_state=SIGNED&digest=sha256:abc&X-Amz-Signature=s1"
    )
    out = redact_url(url)
    assert "SIGNED" not in out and "s1" not in out
    assert "_state=REDACTED" in out and "X-Amz-Signature=REDACTED" in out
    assert "digest=sha256:abc" in out
    assert redact_url("https://r.example/v2/") == "https://r.example/v2/"
    assert redact_url(f"https://u:{SECRET}@r.example/v2/") == "https://REDACTED@r.example/v2/"
    assert redact_url("https://r.example/v2/a/tags/list?n=10&last=x") == (
        "https://r.example/v2/a/tags/list?n=10&last=x"
    )


def _notes(headers: dict[str, str]) -> list[str]:
    notices = Notices()
    observe("r.example", httpx.Response(200, headers=headers), notices)
    return [*notices.messages, *notices.rate_limits.values()]


def test_warning_text_is_made_safe_to_print() -> None:
    """A registry's Warning text may carry terminal escapes or a forged second line."""
    for forged in ("\x1b[2J\x1b[31mred", "ok\\nError: forged", "ok\rError: forged"):
        (note,) = _notes({"Warning": f'299 - "{forged}"'})
        assert note.startswith("r.example warns: ")
        assert note.isprintable(), note
    assert _notes({"Warning": '299 - "plain words"'}) == ["r.example warns: plain words"]


def test_rate_limit_header_values_are_made_safe_to_print() -> None:
    (note,) = _notes({"RateLimit-Limit": "100\x1b[31m", "RateLimit-Remaining": "7\x1b]0;x\x07"})
    assert note.isprintable(), note
    assert _notes({"RateLimit-Limit": "100;w=1", "RateLimit-Remaining": "7;w=1"}) == [
        "7 of 100 pulls left"
    ]
