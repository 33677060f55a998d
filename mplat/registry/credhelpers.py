"""Credential helpers (``docker-credential-<name> get``): running them, and reading their
answers without ever repeating a secret.

Apart from :mod:`mplat.registry.credentials` because a helper is a program of someone
else's that mplat runs with a deadline, and whose failures must be reported without echoing
what it printed: the process handling and the output sanitising are a job of their own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping

from mplat.registry.secrets import (
    TOKEN_USERNAME,
    Credential,
    CredentialError,
    redact_secrets,
    string_field,
)
from mplat.values.reference import DOCKER_HUB, DOCKER_HUB_INDEX_HOST

HELPER_TIMEOUT_SECONDS = 10.0
"""How long a helper may take; MPLAT_CREDENTIAL_HELPER_TIMEOUT (seconds) overrides it."""
HELPER_TIMEOUT_ENV = "MPLAT_CREDENTIAL_HELPER_TIMEOUT"
DOCKER_HUB_SERVER_URL = f"https://{DOCKER_HUB_INDEX_HOST}/v1/"
"""The key docker writes Hub logins under, and what a credential helper is asked for."""
_HELPER_PREFIX = "docker-credential-"
_HELPER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOT_FOUND_TEXT = "credentials not found"
_MAX_EXCERPT = 200

# What a secret in a helper's error output tends to look like: ``password=…`` style pairs, and
# long runs of token characters that mix letters and digits (base64, hex, JWT, PAT prefixes).
_KEY_VALUE_RE = re.compile(
    r"(?i)\b(password|passwd|secret|token|authorization)(\s*[:=]\s*)(?:(?:bearer|basic)\s+)?\S+"
)
_SCHEME_VALUE_RE = re.compile(r"(?i)\b(bearer|basic)(\s+)\S+")
_TOKEN_RUN_RE = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")
_SEGMENT_RE = re.compile(r"[^/.]{20,}")


def helper_server_url(registry: str) -> str:
    """What docker passes a helper on stdin: the legacy index URL for Hub, else host[:port]."""
    return DOCKER_HUB_SERVER_URL if registry == DOCKER_HUB else registry


def redact(line: str) -> str:
    """A helper's output line with anything secret-looking removed, safe to show to a user."""
    if "{" in line or '"Secret"' in line:
        return "(output withheld: it looks like JSON and may hold a secret)"
    line = "".join(c if c.isprintable() else "?" for c in line)
    for pattern in (_KEY_VALUE_RE, _SCHEME_VALUE_RE):
        line = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", line)

    def token(m: re.Match[str]) -> str:
        run = m.group(0)
        for seg in _SEGMENT_RE.findall(run):
            if any(c.isdigit() for c in seg) and any(c.isalpha() for c in seg):
                return "[redacted]"
        return run

    line = _TOKEN_RUN_RE.sub(token, line)
    return line if len(line) <= _MAX_EXCERPT else line[: _MAX_EXCERPT - 3] + "..."


_PLAIN_WORD_RE = re.compile(r"[A-Za-z]+(?:['._/-][A-Za-z]+)*|[0-9]{1,3}|\[redacted\]")
_WORD_EDGES = "([{\"'`"
_WORD_TAIL = ")]}\"'`.,;:!?"


def _plain_word(word: str) -> bool:
    """Ordinary prose: letters (with inner ``-._/'``), a short number, or a redaction mark.

    Anything else (digits inside a word, ``user:pass``, ``%xx``, ``=``, base64-looking
    mixed case) could be a secret the helper echoed, so it is not shown.
    """
    core = word.lstrip(_WORD_EDGES).rstrip(_WORD_TAIL)
    if not core:
        return True
    if len(core) > 40 or not _PLAIN_WORD_RE.fullmatch(core):
        return False
    return all(sum(c.isupper() for c in seg[1:]) < 3 for seg in re.split(r"[-._/']", core))


def helper_reason(stdout: str, stderr: str, known: Iterable[str] = ()) -> str | None:
    """A short, sanitised reason from a failed helper's output, or None to show nothing.

    The raw output is never shown: known secrets are removed, anything secret-looking is
    dropped word by word, and a line that looks like JSON or keeps no words is withheld.
    """
    for text in (stderr, stdout):
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if "{" in line or '"Secret"' in line:
                return None
            line = redact(redact_secrets(line, known))
            words = [w if _plain_word(w) else "[withheld]" for w in line.split()]
            if all(w in ("[withheld]", "[redacted]") for w in words):
                return None
            reason = " ".join(words)
            return reason if len(reason) <= 120 else reason[:117] + "..."
    return None


def helper_failure(
    program: str,
    named_in: str,
    returncode: int,
    stdout: str,
    stderr: str,
    known: Iterable[str] = (),
) -> CredentialError:
    """``docker-credential-X exited with status N``, plus at most a sanitised reason."""
    how = (
        f"was killed by signal {-returncode}"
        if returncode < 0
        else f"exited with status {returncode}"
    )
    reason = helper_reason(stdout, stderr, known)
    return CredentialError(
        f"credential helper {program} {how}"
        + (f": {reason}" if reason else "")
        + f" (named in {named_in})"
    )


def parse_helper_output(
    program: str,
    named_in: str,
    returncode: int,
    stdout: str,
    stderr: str,
    known: Iterable[str] = (),
) -> Credential | None:
    """Turn a helper's ``get`` answer into a credential; "not found" means anonymous (None)."""
    if returncode != 0:
        if _NOT_FOUND_TEXT in stdout.lower() or _NOT_FOUND_TEXT in stderr.lower():
            return None
        raise helper_failure(program, named_in, returncode, stdout, stderr, known)
    try:
        doc = json.loads(stdout)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise CredentialError(
            f"credential helper {program} did not answer with a JSON object (named in {named_in})"
        )
    where = f"credential helper {program}: answer field"
    username = string_field(doc.get("Username"), f"{where} Username")
    secret = string_field(doc.get("Secret"), f"{where} Secret")
    if not secret:
        return None
    if username == TOKEN_USERNAME:
        return Credential(identity_token=secret, source=program)
    return Credential(username=username, password=secret, source=program)


def helper_timeout(environ: Mapping[str, str]) -> float:
    """MPLAT_CREDENTIAL_HELPER_TIMEOUT if it is a positive number, else the default."""
    text = environ.get(HELPER_TIMEOUT_ENV, "")
    try:
        value = float(text)
    except ValueError:
        return HELPER_TIMEOUT_SECONDS
    return value if 0 < value < float("inf") else HELPER_TIMEOUT_SECONDS


def _run_helper(
    name: str,
    registry: str,
    named_in: str,
    environ: Mapping[str, str],
    known: Iterable[str] = (),
) -> Credential | None:
    if not _HELPER_NAME_RE.fullmatch(name):
        raise CredentialError(f"{named_in}: invalid credential helper name {name!r}")
    program = _HELPER_PREFIX + name
    executable = shutil.which(program, path=environ.get("PATH", os.defpath))
    if executable is None:
        raise CredentialError(
            f"credential helper {program} not found on PATH (named in {named_in})"
        )
    timeout = helper_timeout(environ)
    try:
        # A session of its own, so a timeout kills the helper and whatever it started.
        proc = subprocess.Popen(
            [executable, "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environ),
            start_new_session=True,
        )
    except OSError as e:
        raise CredentialError(
            f"credential helper {program} could not be run: {e.strerror or type(e).__name__} "
            f"(named in {named_in})"
        ) from None
    with proc:
        try:
            out, err = proc.communicate(helper_server_url(registry).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
            # from None: TimeoutExpired carries the helper's partial output, which may be a secret.
            raise CredentialError(
                f"credential helper {program} did not answer within {timeout:g} s and was "
                f"stopped (named in {named_in}; {HELPER_TIMEOUT_ENV} sets the limit)"
            ) from None
    stdout = out.decode("utf-8", errors="replace")
    stderr = err.decode("utf-8", errors="replace")
    return parse_helper_output(program, named_in, proc.returncode, stdout, stderr, known)


HelperMemo = dict[tuple[str, str], Credential | CredentialError | None]
"""(helper name, registry) -> what the helper answered, or how it failed, this run."""


def ask_helper(
    name: str,
    registry: str,
    named_in: str,
    environ: Mapping[str, str],
    memo: HelperMemo | None,
    known: Iterable[str],
) -> Credential | None:
    """One helper run per (helper, registry) and run: its answer and its failure are kept."""
    key = (name, registry)
    if memo is not None and key in memo:
        found = memo[key]
        if isinstance(found, CredentialError):
            raise found
        return found
    try:
        cred = _run_helper(name, registry, named_in, environ, known)
    except CredentialError as exc:
        if memo is not None:
            memo[key] = exc
        raise
    if memo is not None:
        memo[key] = cred
    return cred
