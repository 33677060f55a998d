"""What mplat tells the user about the exchanges it makes, and how it keeps that safe.

Registries say things worth passing on besides their answers (rate-limit quotas, ``Warning``
headers, ``Retry-After``); mplat's own waits are worth a note too. All of it goes through
here into :class:`mplat.registry.api.Notices` or the ``mplat.http`` debug log, and every URL
that reaches a log passes :func:`redact_url` first: upload locations and redirects carry
signatures in their query strings.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from mplat.registry.api import Notices
from mplat.values.text import shown

log = logging.getLogger("mplat.http")

WARNING_LIMIT = 1024
"""A registry's Warning header text is shown up to this long."""

_SAFE_QUERY_KEYS = frozenset({"digest", "mount", "from", "n", "last", "service", "scope", "tag"})
_WARN_TEXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def redact_url(url: str) -> str:
    """Keep a URL readable in logs while hiding query values (signatures) and userinfo."""
    parts = urlsplit(url)
    if not parts.query and "@" not in parts.netloc:
        return url
    query = [(k, v if k in _SAFE_QUERY_KEYS else "REDACTED") for k, v in parse_qsl(parts.query)]
    netloc = parts.netloc if "@" not in parts.netloc else "REDACTED@" + parts.netloc.split("@")[-1]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe=":/,")))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def retry_after(resp: httpx.Response) -> float | None:
    """The wait a response asks for, in seconds, if it asks for one."""
    return parse_retry_after(resp.headers.get("retry-after"))


def describe(exc: Exception) -> str:
    """``ReadError: text`` or just ``ReadError`` when the exception says nothing more."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def log_failure(method: str, url: str, exc: Exception) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s -> %s", method, redact_url(url), exc.__class__.__name__)


def log_answer(method: str, url: str, status: int, started: float | None = None) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    if started is None:
        log.debug("%s %s -> %d", method, redact_url(url), status)
    else:
        ms = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d (%.0f ms)", method, redact_url(url), status, ms)


def observe(registry: str, resp: httpx.Response, notices: Notices) -> None:
    """Pass on what an answer says besides its status: the quota left, and any warnings."""
    remaining = resp.headers.get("ratelimit-remaining")
    if remaining:
        limit = resp.headers.get("ratelimit-limit", "?")
        notices.rate_limits[registry] = (
            f"{shown(remaining.split(';')[0])} of {shown(limit.split(';')[0])} pulls left"
        )
    for warning in resp.headers.get_list("warning"):
        # RFC 7234: 299 - "text" ["date"]; show the text only.
        m = _WARN_TEXT_RE.search(warning)
        text = m.group(1).replace('\\"', '"') if m else warning
        notices.add(f"{registry} warns: {shown(text, WARNING_LIMIT)}")


def note_retry(
    notices: Notices, registry: str, method: str, reason: str, delay: float, *, asked: bool
) -> None:
    """One note per registry and cause (``HTTP 503``, ``ReadError``), however many requests
    wait: a registry that is down would otherwise earn a line per request."""
    notices.add(
        f"{registry}: {reason} on {method}; waiting {delay:.1f}s before retrying"
        + (" (Retry-After)" if asked else ""),
        key=f"{registry}|{reason.removeprefix('HTTP ')}",
    )
