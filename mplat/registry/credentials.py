"""Where registry credentials come from: mplat's own config, then the files docker and podman write.

mplat reuses the logins people already have (``docker login``, ``podman login``, credential
helpers) instead of asking for new ones; docs/credentials.md gives the lookup order. Parsing
and key matching are pure functions; only ``lookup_credential`` and the helper runner read
files, the environment or run programs. A secret never reaches an exception message, a repr
or a log line: errors name the file, key, variable or helper instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, quote_plus

from mplat import files
from mplat.values.errors import MplatError

__all__ = [
    "HELPER_TIMEOUT_SECONDS",
    "Credential",
    "CredentialError",
    "CredentialResolver",
    "lookup_credential",
    "redact_secrets",
]

log = logging.getLogger("mplat.credentials")

DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"
"""The key docker writes Hub logins under, and what a credential helper is asked for."""
_HUB_HOSTS = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})
# Exact spellings tried first for Hub, docker's own key before the podman and API-host ones.
_HUB_KEYS = (DOCKER_HUB_SERVER_URL, DOCKER_HUB, "index.docker.io", "registry-1.docker.io")
TOKEN_USERNAME = "<token>"
"""A username that says the secret is an identity (refresh) token, not a password."""
HELPER_TIMEOUT_SECONDS = 10.0
"""How long a helper may take; MPLAT_CREDENTIAL_HELPER_TIMEOUT (seconds) overrides it."""
HELPER_TIMEOUT_ENV = "MPLAT_CREDENTIAL_HELPER_TIMEOUT"
_MIN_SECRET_LEN = 4
"""Shorter secrets are not searched for in messages: they would match ordinary words."""
_HELPER_PREFIX = "docker-credential-"
_HELPER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOT_FOUND_TEXT = "credentials not found"
_ENTRY_FIELDS = ("auth", "username", "password", "identitytoken", "registrytoken")
_MAX_EXCERPT = 200

# What a secret in a helper's error output tends to look like: ``password=…`` style pairs, and
# long runs of token characters that mix letters and digits (base64, hex, JWT, PAT prefixes).
_KEY_VALUE_RE = re.compile(
    r"(?i)\b(password|passwd|secret|token|authorization)(\s*[:=]\s*)(?:(?:bearer|basic)\s+)?\S+"
)
_SCHEME_VALUE_RE = re.compile(r"(?i)\b(bearer|basic)(\s+)\S+")
_TOKEN_RUN_RE = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")
_SEGMENT_RE = re.compile(r"[^/.]{20,}")

FileKind = Literal["docker", "containers"]
"""``docker``: config.json, host keys only. ``containers``: auth.json, keys may be namespaces."""


@dataclass(frozen=True)
class Credential:
    """A secret for one registry. ``repr`` never shows the secret parts."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)
    source: str = ""

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.identity_token, self.registry_token) if s)


def secret_forms(cred: Credential) -> set[str]:
    """Every spelling of ``cred``'s secrets that could end up in text: raw, user:password,
    its Basic base64 (padded, unpadded, URL-safe) and URL-encoded variants."""
    raw = set(cred.secrets())
    if cred.username and cred.password:
        raw.add(f"{cred.username}:{cred.password}")
    forms = set(raw)
    for text in raw:
        forms |= {quote(text, safe=""), quote_plus(text), quote(text)}
        b64 = base64.b64encode(text.encode()).decode()
        forms |= {b64, b64.rstrip("="), base64.urlsafe_b64encode(text.encode()).decode()}
    return {f for f in forms if len(f) >= _MIN_SECRET_LEN}


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret form replaced by ``[redacted]``, longest first."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, "[redacted]")
    return text


class CredentialError(MplatError):
    """A credential source that exists but is broken (unparsable config.json, helper crashed).

    The message names the file, variable or helper and never contains a secret.
    """


# --- pure logic: parsing, matching, ordering ----------------------------------------------------


@dataclass(frozen=True)
class AuthFile:
    """The parts of one config.json / auth.json that say where credentials are."""

    display: str
    kind: FileKind
    auths: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    cred_helpers: Mapping[str, str] = field(default_factory=dict)
    creds_store: str | None = None


@dataclass(frozen=True)
class HelperStep:
    """Ask ``docker-credential-<name>``."""

    name: str


@dataclass(frozen=True)
class EntryStep:
    """Read ``auths[key]``."""

    key: str


Step = HelperStep | EntryStep
"""One place to look inside a file."""


def canonical_registry(host: str) -> str:
    """Every Docker Hub spelling becomes ``docker.io``; other hosts are kept as they are."""
    return DOCKER_HUB if host in _HUB_HOSTS else host


def _strip_scheme(key: str) -> tuple[str, bool]:
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            return key[len(prefix) :], True
    return key, False


def _matches_host(key: str, registry: str, *, reduce_all: bool) -> bool:
    stripped, had_scheme = _strip_scheme(key)
    # auth.json keys without a scheme may be namespaces (quay.io/org): reducing those to the
    # host would hand one namespace's login to another, so only URL-style keys are reduced there.
    if not (reduce_all or had_scheme):
        return False
    return canonical_registry(stripped.split("/", 1)[0]) == registry


def host_keys(keys: Mapping[str, object], registry: str, *, reduce_all: bool) -> Iterator[str]:
    """Keys naming ``registry`` itself, best first: exact spellings, then keys reduced to a host."""
    exact = _HUB_KEYS if registry == DOCKER_HUB else (registry,)
    for key in exact:
        if key in keys:
            yield key
    for key in keys:
        if key not in exact and _matches_host(key, registry, reduce_all=reduce_all):
            yield key


def namespace_keys(registry: str, repository: str | None) -> list[str]:
    """``host/a/b`` -> ``host/a/b``, ``host/a``: auth.json namespace keys, most specific first."""
    parts = [p for p in (repository or "").split("/") if p]
    return [registry + "/" + "/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def plan_file(auth_file: AuthFile, registry: str, repository: str | None) -> tuple[Step, ...]:
    """Where to look in one file, in order: ``credHelpers[host]``, ``credsStore``, ``auths``.

    An empty ``credHelpers`` value means "no helper for this host" and skips ``credsStore``
    too, as docker does.
    """
    helper_key = next(host_keys(auth_file.cred_helpers, registry, reduce_all=True), None)
    host_helper = auth_file.cred_helpers[helper_key] if helper_key is not None else None
    helpers = [host_helper] if host_helper else []
    store = auth_file.creds_store
    if host_helper != "" and store and store not in helpers:
        helpers.append(store)
    keys: list[str] = []
    if auth_file.kind == "containers":
        keys.extend(k for k in namespace_keys(registry, repository) if k in auth_file.auths)
    reduce_all = auth_file.kind == "docker"
    for key in host_keys(auth_file.auths, registry, reduce_all=reduce_all):
        if key not in keys:
            keys.append(key)
    return tuple(HelperStep(h) for h in helpers) + tuple(EntryStep(k) for k in keys)


def _string_field(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CredentialError(f"{where} must be a string")
    return value


def parse_auth_file(text: str, display: str, kind: FileKind) -> AuthFile:
    """Keep the ``auths``, ``credHelpers`` and ``credsStore`` parts; the rest is not ours."""
    if not text.strip():
        return AuthFile(display, kind)  # docker treats an empty file as an empty config
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        # e.msg is a fixed phrase and never quotes the document, so no secret can leak here.
        raise CredentialError(
            f"{display}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        ) from None
    if not isinstance(doc, dict):
        raise CredentialError(f"{display}: the top level must be a JSON object")

    auths: dict[str, dict[str, str]] = {}
    raw_auths = doc.get("auths")
    if raw_auths is not None and not isinstance(raw_auths, dict):
        raise CredentialError(f"{display}: auths must be an object")
    for key, entry in (raw_auths or {}).items():
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise CredentialError(f"{display}: auths[{key!r}] must be an object")
        auths[key] = {
            name: _string_field(entry.get(name), f"{display}: auths[{key!r}].{name}")
            for name in _ENTRY_FIELDS
        }

    helpers: dict[str, str] = {}
    raw_helpers = doc.get("credHelpers")
    if raw_helpers is not None and not isinstance(raw_helpers, dict):
        raise CredentialError(f"{display}: credHelpers must be an object")
    for key, name in (raw_helpers or {}).items():
        helpers[key] = _string_field(name, f"{display}: credHelpers[{key!r}]")

    store = _string_field(doc.get("credsStore"), f"{display}: credsStore")
    return AuthFile(display, kind, auths, helpers, store or None)


def _decode_auth(value: str, where: str) -> tuple[str, str]:
    raw = value.strip()
    raw += "=" * (-len(raw) % 4)  # some writers drop the padding
    try:
        decoded = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialError(f"{where}.auth is not valid base64 of username:password") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise CredentialError(f"{where}.auth does not decode to username:password")
    return username, password.rstrip("\x00")


def entry_credential(auth_file: AuthFile, key: str) -> Credential | None:
    """The credential an ``auths`` entry holds, or None for an empty marker entry."""
    entry = auth_file.auths[key]
    username, password = entry.get("username", ""), entry.get("password", "")
    if entry.get("auth"):
        username, password = _decode_auth(entry["auth"], f"{auth_file.display}: auths[{key!r}]")
    identity, registry_token = entry.get("identitytoken", ""), entry.get("registrytoken", "")
    if not (username or password or identity or registry_token):
        return None
    return Credential(username, password, identity, registry_token, f"{auth_file.display} auths")


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
    username = _string_field(doc.get("Username"), f"{where} Username")
    secret = _string_field(doc.get("Secret"), f"{where} Secret")
    if not secret:
        return None
    if username == TOKEN_USERNAME:
        return Credential(identity_token=secret, source=program)
    return Credential(username=username, password=secret, source=program)


def auth_file_locations(
    environ: Mapping[str, str], home: Path | None
) -> list[tuple[Path, FileKind]]:
    """The files to read, in lookup order, without duplicates; missing files are skipped later.

    With no home directory (``home`` None) the files that live in it are skipped.
    """
    out: list[tuple[Path, FileKind]] = []
    if environ.get("REGISTRY_AUTH_FILE"):
        out.append((Path(environ["REGISTRY_AUTH_FILE"]), "containers"))
    docker_dir = environ.get("DOCKER_CONFIG")
    docker = Path(docker_dir) if docker_dir else home / ".docker" if home else None
    if docker is not None:
        out.append((docker / "config.json", "docker"))
    if environ.get("XDG_RUNTIME_DIR"):
        out.append((Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json", "containers"))
    config_home = environ.get("XDG_CONFIG_HOME")
    config_dir = Path(config_home) if config_home else home / ".config" if home else None
    if config_dir is not None:
        out.append((config_dir / "containers" / "auth.json", "containers"))
    seen: set[Path] = set()
    unique = []
    for path, kind in out:
        if path not in seen:
            seen.add(path)
            unique.append((path, kind))
    return unique


def display_path(path: Path, home: Path | None) -> str:
    """``~/.docker/config.json`` rather than the full home path: shorter, and the same for all."""
    if home is None:
        return str(path)
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


# --- I/O: environment, files, helper processes --------------------------------------------------


def _from_env(
    registry: str, username_env: str | None, password_env: str | None, environ: Mapping[str, str]
) -> Credential | None:
    if not username_env and not password_env:
        return None
    setting = f'registries."{registry}"'
    if not username_env or not password_env:
        given, missing = (
            ("username_env", "password_env") if username_env else ("password_env", "username_env")
        )
        raise CredentialError(f"{setting} sets {given} but not {missing}; set both or neither")
    values: list[str] = []
    for name, var in (("username_env", username_env), ("password_env", password_env)):
        value = environ.get(var)
        if not value:
            state = "not set" if value is None else "empty"
            raise CredentialError(
                f"environment variable {var} (named by {setting}.{name}) is {state}"
            )
        values.append(value)
    username, password = values
    source = f"env {username_env}/{password_env}"
    if username == TOKEN_USERNAME:
        return Credential(identity_token=password, source=source)
    return Credential(username=username, password=password, source=source)


def _read_auth_file(path: Path, display: str, kind: FileKind) -> AuthFile | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CredentialError(
            f"{display}: cannot read ({e.strerror or type(e).__name__})"
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialError(f"{display}: not valid UTF-8") from None
    return parse_auth_file(text, display, kind)


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


def _ask_helper(
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


def lookup_credential(
    registry: str,
    repository: str | None,
    *,
    username_env: str | None = None,
    password_env: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    helper_memo: HelperMemo | None = None,
    known_secrets: Iterable[str] = (),
) -> Credential | None:
    """The credential for ``registry`` (and ``repository``, for namespace keys), or None.

    None means "go anonymous": no source had an entry. A source that exists but is broken
    raises CredentialError rather than silently falling back, because a push that quietly
    runs anonymously fails later with a far less helpful 401. ``helper_memo`` makes each
    helper run once per registry; ``known_secrets`` are removed from helper error text.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    home_dir = files.home_dir(env) if home is None else home
    registry = canonical_registry(registry)

    cred = _from_env(registry, username_env, password_env, env)
    if cred is not None:
        log.debug("credential for %s from %s", registry, cred.source)
        return cred

    for path, kind in auth_file_locations(env, home_dir):
        display = display_path(path, home_dir)
        auth_file = _read_auth_file(path, display, kind)
        if auth_file is None:
            continue
        for step in plan_file(auth_file, registry, repository):
            if isinstance(step, HelperStep):
                cred = _ask_helper(step.name, registry, display, env, helper_memo, known_secrets)
            else:
                cred = entry_credential(auth_file, step.key)
            if cred is not None:
                log.debug("credential for %s from %s", registry, cred.source)
                return cred
    log.debug("no credential for %s; going anonymous", registry)
    return None


@dataclass
class CredentialResolver:
    """Credential lookups for one run: each (registry, repository) is looked up once and each
    helper asked once per registry, failures included, so a broken or hung helper costs one
    run and one message rather than one per request. It also knows every secret it has
    handed out, so error text can be scrubbed of them (:meth:`redact`)."""

    environ: Mapping[str, str] | None = None
    home: Path | None = None
    _lookups: dict[tuple[str, str | None], Credential | CredentialError | None] = field(
        default_factory=dict, repr=False
    )
    _helpers: HelperMemo = field(default_factory=dict, repr=False)
    _secrets: set[str] = field(default_factory=set, repr=False)

    def lookup(
        self,
        registry: str,
        repository: str | None,
        *,
        username_env: str | None = None,
        password_env: str | None = None,
    ) -> Credential | None:
        key = (canonical_registry(registry), repository)
        if key in self._lookups:
            found = self._lookups[key]
            if isinstance(found, CredentialError):
                raise found
            return found
        env: Mapping[str, str] = os.environ if self.environ is None else self.environ
        if password_env and env.get(password_env):
            self._secrets.add(env[password_env])  # Known even if the lookup fails later.
        try:
            cred = lookup_credential(
                registry,
                repository,
                username_env=username_env,
                password_env=password_env,
                environ=env,
                home=self.home,
                helper_memo=self._helpers,
                known_secrets=self._secrets,
            )
        except CredentialError as exc:
            failure = CredentialError(self.redact(str(exc)))
            self._lookups[key] = failure
            raise failure from None
        if cred is not None:
            self._secrets |= secret_forms(cred)
        self._lookups[key] = cred
        return cred

    def redact(self, text: str) -> str:
        """``text`` without any secret this run has seen, in any of its spellings."""
        forms = set(self._secrets)
        for secret in self._secrets:
            forms |= secret_forms(Credential(password=secret))
        return redact_secrets(text, forms)
