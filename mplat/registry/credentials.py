"""Where registry credentials come from: mplat's own config, then the files docker and podman write.

mplat reuses the logins people already have (``docker login``, ``podman login``, credential
helpers) instead of asking for new ones; docs/credentials.md gives the lookup order. Parsing
and key matching are pure functions; only ``lookup_credential`` and the helper runner read
files, the environment or run helpers (:mod:`mplat.registry.credhelpers`). A secret never
reaches an exception message, a repr or a log line: errors name the file, key, variable or
helper instead (:mod:`mplat.registry.secrets` holds the credential and the scrubbing).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mplat import files
from mplat.registry.credhelpers import (
    DOCKER_HUB_SERVER_URL,
    HelperMemo,
    ask_helper,
)
from mplat.registry.secrets import (
    TOKEN_USERNAME,
    Credential,
    CredentialError,
    redact_secrets,
    secret_forms,
    string_field,
)
from mplat.values.reference import DOCKER_HUB, DOCKER_HUB_ALIASES

__all__ = ["CredentialResolver", "lookup_credential"]
"""The credential and its errors live in :mod:`mplat.registry.secrets`; import them there."""

log = logging.getLogger("mplat.credentials")

_HUB_HOSTS = frozenset({DOCKER_HUB, *DOCKER_HUB_ALIASES})
# Exact spellings tried first for Hub, docker's own key before the podman and API-host ones.
_HUB_KEYS = (DOCKER_HUB_SERVER_URL, DOCKER_HUB, *DOCKER_HUB_ALIASES)
_ENTRY_FIELDS = ("auth", "username", "password", "identitytoken", "registrytoken")
FileKind = Literal["docker", "containers"]
"""``docker``: config.json, host keys only. ``containers``: auth.json, keys may be namespaces."""


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
            name: string_field(entry.get(name), f"{display}: auths[{key!r}].{name}")
            for name in _ENTRY_FIELDS
        }

    helpers: dict[str, str] = {}
    raw_helpers = doc.get("credHelpers")
    if raw_helpers is not None and not isinstance(raw_helpers, dict):
        raise CredentialError(f"{display}: credHelpers must be an object")
    for key, name in (raw_helpers or {}).items():
        helpers[key] = string_field(name, f"{display}: credHelpers[{key!r}]")

    store = string_field(doc.get("credsStore"), f"{display}: credsStore")
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
                cred = ask_helper(step.name, registry, display, env, helper_memo, known_secrets)
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
