"""mplat.registry.credentials: lookup order, file formats, helpers through the lookup, and
secret hygiene.

Every test runs against temporary HOME / DOCKER_CONFIG / XDG directories and an explicit
``environ``, so the real home directory and environment are never read. Credential helpers
are small shell scripts in a temporary directory put on the injected PATH.
"""

from __future__ import annotations

import ast
import base64
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mplat.registry import credentials, credhelpers
from mplat.registry.credentials import (
    AuthFile,
    CredentialResolver,
    EntryStep,
    HelperStep,
    auth_file_locations,
    canonical_registry,
    lookup_credential,
    namespace_keys,
    parse_auth_file,
    plan_file,
)
from mplat.registry.secrets import Credential, CredentialError, redact_secrets, secret_forms
from mplat.values.reference import (
    DOCKER_HUB,
    DOCKER_HUB_ALIASES,
    DOCKER_HUB_INDEX_HOST,
    parse_reference,
)
from tests.support.paths import ROOT

SECRET = "s3cr3t-Pa55w0rd-do-not-print"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.identity-refresh-token-XYZ123"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Env:
    """A sandbox: temp home, an injected environment and a bin dir for fake helpers."""

    root: Path
    home: Path
    bin: Path
    environ: dict[str, str] = field(default_factory=dict)

    def write_json(self, path: Path, doc: Any) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        return path

    def docker_config(self, doc: Any) -> Path:
        return self.write_json(self.home / ".docker" / "config.json", doc)

    def helper(self, name: str, body: str) -> Path:
        """A fake ``docker-credential-<name>``; it sees the server URL on stdin as $url."""
        path = self.bin / f"docker-credential-{name}"
        path.write_text(f"#!/bin/sh\nurl=$(cat)\n{body}\n")
        path.chmod(0o755)
        return path

    def lookup(
        self, registry: str, repository: str | None = None, **kwargs: Any
    ) -> Credential | None:
        return lookup_credential(
            registry, repository, environ=self.environ, home=self.home, **kwargs
        )


@pytest.fixture
def env(tmp_path: Path) -> Env:
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return Env(tmp_path, home, bin_dir, {"PATH": f"{bin_dir}:/usr/bin:/bin"})


def helper_returning(username: str, secret: str) -> str:
    answer = json.dumps({"ServerURL": "x", "Username": username, "Secret": secret})
    return f"printf '%s' '{answer}'"


# --- 1. mplat config: username_env / password_env ----------------------------------------------


def test_env_vars_give_username_and_password(env: Env) -> None:
    env.environ |= {"MY_USER": "alice", "MY_PASS": SECRET}
    cred = env.lookup("ghcr.io", "acme/app", username_env="MY_USER", password_env="MY_PASS")
    assert cred == Credential(username="alice", password=SECRET, source="env MY_USER/MY_PASS")


def test_env_token_username_means_identity_token(env: Env) -> None:
    env.environ |= {"U": "<token>", "P": TOKEN}
    cred = env.lookup("myacr.azurecr.io", None, username_env="U", password_env="P")
    assert cred is not None
    assert (cred.username, cred.password, cred.identity_token) == ("", "", TOKEN)


def test_env_wins_over_docker_config(env: Env) -> None:
    env.docker_config({"auths": {"ghcr.io": {"auth": b64("bob:filepass")}}})
    env.environ |= {"U": "alice", "P": SECRET}
    cred = env.lookup("ghcr.io", None, username_env="U", password_env="P")
    assert cred is not None and cred.username == "alice"


@pytest.mark.parametrize("missing", ["U", "P"])
def test_env_named_but_unset_is_error_naming_variable(env: Env, missing: str) -> None:
    env.environ |= {"U": "alice", "P": SECRET}
    del env.environ[missing]
    with pytest.raises(CredentialError) as exc:
        env.lookup("ghcr.io", None, username_env="U", password_env="P")
    text = str(exc.value)
    assert f"environment variable {missing} " in text and "not set" in text
    assert SECRET not in text and "alice" not in text


def test_env_named_but_empty_is_error(env: Env) -> None:
    env.environ |= {"U": "alice", "P": ""}
    with pytest.raises(CredentialError, match=r"environment variable P .* is empty"):
        env.lookup("ghcr.io", None, username_env="U", password_env="P")


def test_env_only_one_setting_is_error(env: Env) -> None:
    env.environ |= {"U": "alice"}
    with pytest.raises(CredentialError, match="sets username_env but not password_env"):
        env.lookup("ghcr.io", None, username_env="U")


def test_no_sources_at_all_is_anonymous(env: Env) -> None:
    assert env.lookup("ghcr.io", "acme/app") is None


# --- 2. docker config.json auths ----------------------------------------------------------------


def test_docker_config_auth_entry(env: Env) -> None:
    env.docker_config({"auths": {"ghcr.io": {"auth": b64(f"alice:{SECRET}")}}})
    cred = env.lookup("ghcr.io", "acme/app")
    assert cred == Credential("alice", SECRET, source="~/.docker/config.json auths")


def test_docker_config_env_var_replaces_home_location(env: Env) -> None:
    env.docker_config({"auths": {"ghcr.io": {"auth": b64("home:pw")}}})
    other = env.root / "dockercfg"
    env.write_json(other / "config.json", {"auths": {"ghcr.io": {"auth": b64("dc:pw")}}})
    env.environ["DOCKER_CONFIG"] = str(other)
    cred = env.lookup("ghcr.io", None)
    assert cred is not None
    assert (cred.username, cred.source) == ("dc", f"{other}/config.json auths")


def test_auth_splits_on_first_colon_and_trims_trailing_nuls(env: Env) -> None:
    env.docker_config({"auths": {"r.example": {"auth": b64("u:pa:ss\x00\x00")}}})
    cred = env.lookup("r.example", None)
    assert cred is not None and (cred.username, cred.password) == ("u", "pa:ss")


def test_auth_without_padding_is_accepted(env: Env) -> None:
    env.docker_config({"auths": {"r.example": {"auth": b64("ab:c").rstrip("=")}}})
    cred = env.lookup("r.example", None)
    assert cred is not None and (cred.username, cred.password) == ("ab", "c")


def test_username_password_fields(env: Env) -> None:
    env.docker_config({"auths": {"r.example": {"username": "u", "password": SECRET}}})
    assert env.lookup("r.example", None) == Credential(
        "u", SECRET, source="~/.docker/config.json auths"
    )


def test_auth_field_wins_over_username_password_fields(env: Env) -> None:
    entry = {"auth": b64("fromauth:pw"), "username": "fromfield", "password": "x"}
    env.docker_config({"auths": {"r.example": entry}})
    cred = env.lookup("r.example", None)
    assert cred is not None and cred.username == "fromauth"


def test_identitytoken_and_registrytoken(env: Env) -> None:
    env.docker_config(
        {
            "auths": {
                "acr.example": {
                    "auth": b64("00000000-0000-0000-0000-000000000000:"),
                    "identitytoken": TOKEN,
                },
                "bearer.example": {"registrytoken": SECRET, "email": "a@b"},
            }
        }
    )
    acr = env.lookup("acr.example", None)
    assert acr is not None
    assert (acr.username, acr.password, acr.identity_token) == (
        "00000000-0000-0000-0000-000000000000",
        "",
        TOKEN,
    )
    bearer = env.lookup("bearer.example", None)
    assert bearer is not None and (bearer.username, bearer.registry_token) == ("", SECRET)


def test_empty_marker_entry_is_skipped(env: Env) -> None:
    env.docker_config(
        {"auths": {"r.example": {}, "https://r.example/v1/": {"auth": b64("legacy:pw")}}}
    )
    cred = env.lookup("r.example", None)
    assert cred is not None and cred.username == "legacy"


def test_marker_only_entry_means_no_entry_in_that_file(env: Env) -> None:
    env.docker_config({"auths": {"r.example": {}, "other.example": {"auth": b64("o:p")}}})
    assert env.lookup("r.example", None) is None


def test_legacy_url_key_matches_host(env: Env) -> None:
    env.docker_config({"auths": {"https://registry.example.com/v1/": {"auth": b64("u:p")}}})
    cred = env.lookup("registry.example.com", None)
    assert cred is not None and cred.username == "u"


def test_exact_key_beats_reduced_key(env: Env) -> None:
    env.docker_config(
        {
            "auths": {
                "http://r.example/v2/": {"auth": b64("reduced:p")},
                "r.example": {"auth": b64("exact:p")},
            }
        }
    )
    cred = env.lookup("r.example", None)
    assert cred is not None and cred.username == "exact"


@pytest.mark.parametrize(
    "key", ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]
)
def test_docker_hub_aliases_match_docker_io(env: Env, key: str) -> None:
    env.docker_config({"auths": {key: {"auth": b64("hubuser:pw")}}})
    cred = env.lookup("docker.io", "library/ubuntu")
    assert cred is not None and cred.username == "hubuser"


def test_docker_hub_prefers_docker_s_own_key(env: Env) -> None:
    env.docker_config(
        {
            "auths": {
                "registry-1.docker.io": {"auth": b64("api:pw")},
                "https://index.docker.io/v1/": {"auth": b64("v1:pw")},
            }
        }
    )
    cred = env.lookup("docker.io", None)
    assert cred is not None and cred.username == "v1"


def test_port_is_part_of_the_host(env: Env) -> None:
    env.docker_config({"auths": {"localhost": {"auth": b64("noport:pw")}}})
    assert env.lookup("localhost:5000", None) is None
    env.docker_config({"auths": {"localhost:5000": {"auth": b64("port:pw")}}})
    cred = env.lookup("localhost:5000", None)
    assert cred is not None and cred.username == "port"


def test_other_registry_entry_does_not_match(env: Env) -> None:
    env.docker_config({"auths": {"ghcr.io": {"auth": b64("u:p")}}})
    assert env.lookup("quay.io", "acme/app") is None


# --- containers auth.json ------------------------------------------------------------------------


def test_auth_json_namespaces_most_specific_first(env: Env) -> None:
    path = env.write_json(
        env.root / "auth.json",
        {
            "auths": {
                "quay.io": {"auth": b64("host:p")},
                "quay.io/acme": {"auth": b64("org:p")},
                "quay.io/acme/app": {"auth": b64("repo:p")},
            }
        },
    )
    env.environ["REGISTRY_AUTH_FILE"] = str(path)
    got = {
        repo: getattr(env.lookup("quay.io", repo), "username", None)
        for repo in ("acme/app", "acme/other", "elsewhere/x", None)
    }
    assert got == {"acme/app": "repo", "acme/other": "org", "elsewhere/x": "host", None: "host"}


def test_auth_json_other_namespace_is_not_used(env: Env) -> None:
    path = env.write_json(
        env.root / "auth.json", {"auths": {"quay.io/other": {"auth": b64("x:p")}}}
    )
    env.environ["REGISTRY_AUTH_FILE"] = str(path)
    assert env.lookup("quay.io", "acme/app") is None


def test_namespace_keys() -> None:
    assert namespace_keys("r.local", "ns/user/image") == [
        "r.local/ns/user/image",
        "r.local/ns/user",
        "r.local/ns",
    ]
    assert namespace_keys("r.local", None) == []


def test_registry_auth_file_comes_before_docker_config(env: Env) -> None:
    env.docker_config({"auths": {"quay.io": {"auth": b64("docker:p")}}})
    path = env.write_json(env.root / "a.json", {"auths": {"quay.io": {"auth": b64("authfile:p")}}})
    env.environ["REGISTRY_AUTH_FILE"] = str(path)
    cred = env.lookup("quay.io", None)
    assert cred is not None
    assert (cred.username, cred.source) == ("authfile", f"{path} auths")


def test_missing_registry_auth_file_is_skipped(env: Env) -> None:
    env.docker_config({"auths": {"quay.io": {"auth": b64("docker:p")}}})
    env.environ["REGISTRY_AUTH_FILE"] = str(env.root / "nope.json")
    cred = env.lookup("quay.io", None)
    assert cred is not None and cred.username == "docker"


def test_docker_config_comes_before_containers_defaults(env: Env) -> None:
    run = env.root / "run"
    env.environ["XDG_RUNTIME_DIR"] = str(run)
    env.write_json(run / "containers" / "auth.json", {"auths": {"quay.io": {"auth": b64("r:p")}}})
    env.docker_config({"auths": {"quay.io": {"auth": b64("docker:p")}}})
    cred = env.lookup("quay.io", None)
    assert cred is not None and cred.username == "docker"


def test_runtime_auth_json_before_config_home(env: Env) -> None:
    run, cfg = env.root / "run", env.root / "cfg"
    env.environ |= {"XDG_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(cfg)}
    env.write_json(run / "containers" / "auth.json", {"auths": {"quay.io": {"auth": b64("r:p")}}})
    env.write_json(cfg / "containers" / "auth.json", {"auths": {"quay.io": {"auth": b64("c:p")}}})
    cred = env.lookup("quay.io", None)
    assert cred is not None and cred.username == "r"
    (run / "containers" / "auth.json").unlink()
    cred = env.lookup("quay.io", None)
    assert cred is not None and cred.username == "c"


def test_config_home_defaults_to_dot_config(env: Env) -> None:
    env.write_json(
        env.home / ".config" / "containers" / "auth.json",
        {"auths": {"docker.io": {"auth": b64("podman:p")}}},
    )
    cred = env.lookup("docker.io", "library/busybox")
    assert cred is not None
    assert (cred.username, cred.source) == ("podman", "~/.config/containers/auth.json auths")


def test_first_file_with_an_entry_wins_even_if_later_files_match(env: Env) -> None:
    path = env.write_json(env.root / "a.json", {"auths": {"quay.io": {}}})
    env.environ["REGISTRY_AUTH_FILE"] = str(path)
    env.docker_config({"auths": {"quay.io": {"auth": b64("docker:p")}}})
    cred = env.lookup("quay.io", None)
    assert cred is not None and cred.username == "docker"


def test_auth_file_locations_order_and_dedup(tmp_path: Path) -> None:
    home = tmp_path / "h"
    same = tmp_path / "auth.json"
    environ = {
        "REGISTRY_AUTH_FILE": str(same),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    locations = auth_file_locations(environ, home)
    assert locations == [
        (same, "containers"),
        (home / ".docker" / "config.json", "docker"),
        (tmp_path / "containers" / "auth.json", "containers"),
    ]
    assert auth_file_locations({"XDG_CONFIG_HOME": ""}, home) == [
        (home / ".docker" / "config.json", "docker"),
        (home / ".config" / "containers" / "auth.json", "containers"),
    ]


# --- broken files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"auths": {"ghcr.io": {"auth": "' + b64("u:" + SECRET) + '"}', "not valid JSON"),
        ("[1, 2]", "top level must be a JSON object"),
        ('{"auths": []}', "auths must be an object"),
        ('{"auths": {"ghcr.io": "x"}}', "auths['ghcr.io'] must be an object"),
        ('{"auths": {"ghcr.io": {"password": 5}}}', "auths['ghcr.io'].password must be a string"),
        ('{"auths": {"ghcr.io": {"auth": "!!not-base64!!"}}}', "auth is not valid base64"),
        ('{"auths": {"ghcr.io": {"auth": "' + b64(SECRET) + '"}}}', "username:password"),
        ('{"auths": {"ghcr.io": {"auth": "' + b64(":" + SECRET) + '"}}}', "username:password"),
        ('{"credHelpers": {"ghcr.io": 3}}', "credHelpers['ghcr.io'] must be a string"),
        ('{"credsStore": ["pass"]}', "credsStore must be a string"),
    ],
)
def test_broken_config_raises_naming_file(env: Env, content: str, fragment: str) -> None:
    path = env.home / ".docker" / "config.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(CredentialError) as exc:
        env.lookup("ghcr.io", None)
    text = str(exc.value)
    assert text.startswith("~/.docker/config.json: ")
    assert fragment in text
    assert SECRET not in text


def test_empty_config_file_is_an_empty_config(env: Env) -> None:
    (env.home / ".docker").mkdir()
    (env.home / ".docker" / "config.json").write_text("  \n")
    assert env.lookup("ghcr.io", None) is None


def test_unreadable_config_raises(env: Env) -> None:
    (env.home / ".docker" / "config.json").mkdir(parents=True)  # a directory where a file belongs
    with pytest.raises(CredentialError, match=r"~/\.docker/config\.json: cannot read"):
        env.lookup("ghcr.io", None)


def test_invalid_utf8_config_raises(env: Env) -> None:
    (env.home / ".docker").mkdir()
    (env.home / ".docker" / "config.json").write_bytes(b'{"auths": {"\xff": {}}}')
    with pytest.raises(CredentialError, match="not valid UTF-8"):
        env.lookup("ghcr.io", None)


# --- credential helpers --------------------------------------------------------------------------


def test_cred_helper_returns_credentials_and_gets_host_on_stdin(env: Env) -> None:
    seen = env.root / "stdin.txt"
    env.helper("good", f"printf '%s' \"$url\" > {seen}\n" + helper_returning("alice", SECRET))
    env.docker_config({"credHelpers": {"localhost:5000": "good"}})
    cred = env.lookup("localhost:5000", "acme/app")
    assert cred == Credential("alice", SECRET, source="docker-credential-good")
    assert seen.read_text() == "localhost:5000"


def test_cred_helper_gets_index_url_for_docker_hub(env: Env) -> None:
    seen = env.root / "stdin.txt"
    env.helper("hub", f"printf '%s' \"$url\" > {seen}\n" + helper_returning("hu", SECRET))
    env.docker_config({"credHelpers": {"docker.io": "hub"}})
    cred = env.lookup("docker.io", "library/ubuntu")
    assert cred is not None and cred.username == "hu"
    assert seen.read_text() == "https://index.docker.io/v1/"


def test_cred_helper_token_username_is_identity_token(env: Env) -> None:
    env.helper("tok", helper_returning("<token>", TOKEN))
    env.docker_config({"credsStore": "tok"})
    cred = env.lookup("myacr.azurecr.io", None)
    assert cred == Credential(identity_token=TOKEN, source="docker-credential-tok")


def test_cred_helpers_before_creds_store_before_auths(env: Env) -> None:
    env.helper("specific", helper_returning("specific", SECRET))
    env.helper("store", helper_returning("store", SECRET))
    env.docker_config(
        {
            "credHelpers": {"ghcr.io": "specific"},
            "credsStore": "store",
            "auths": {"ghcr.io": {"auth": b64("auths:p")}, "quay.io": {"auth": b64("q:p")}},
        }
    )
    first = env.lookup("ghcr.io", None)
    assert first is not None and first.username == "specific"
    second = env.lookup("quay.io", None)
    assert second is not None and second.username == "store"


def test_creds_store_not_found_falls_through(env: Env) -> None:
    env.helper("empty", "echo 'credentials not found in native keychain'; exit 1")
    env.docker_config({"credsStore": "empty", "auths": {"ghcr.io": {"auth": b64("auths:p")}}})
    cred = env.lookup("ghcr.io", None)
    assert cred is not None and cred.username == "auths"


def test_helper_not_found_answer_means_anonymous(env: Env) -> None:
    env.helper("empty", "echo 'credentials not found in native keychain'; exit 1")
    env.docker_config({"credsStore": "empty", "auths": {"ghcr.io": {}}})
    assert env.lookup("ghcr.io", None) is None


def test_missing_helper_is_error(env: Env) -> None:
    env.docker_config({"credsStore": "desktop"})
    with pytest.raises(CredentialError) as exc:
        env.lookup("ghcr.io", None)
    assert str(exc.value) == (
        "credential helper docker-credential-desktop not found on PATH "
        "(named in ~/.docker/config.json)"
    )


def test_crashing_helper_is_error_with_first_line(env: Env) -> None:
    env.helper("crash", "echo 'gpg: decryption failed: No secret key' >&2\necho line 2 >&2\nexit 2")
    env.docker_config({"credHelpers": {"ghcr.io": "crash"}})
    with pytest.raises(CredentialError) as exc:
        env.lookup("ghcr.io", None)
    text = str(exc.value)
    assert "docker-credential-crash exited with status 2" in text
    assert "gpg: decryption failed: No secret key" in text and "line 2" not in text
    assert "named in ~/.docker/config.json" in text


def test_crashing_helper_output_is_redacted(env: Env) -> None:
    env.helper("leaky", f"echo 'login failed: password={SECRET} token {TOKEN}'\nexit 1")
    env.docker_config({"credHelpers": {"ghcr.io": "leaky"}})
    with pytest.raises(CredentialError) as exc:
        env.lookup("ghcr.io", None)
    text = str(exc.value)
    assert "login failed" in text
    assert SECRET not in text and TOKEN not in text and "identity-refresh" not in text
    assert "Pa55w0rd" not in text and "do-not-print" not in text


def test_helper_printing_json_then_failing_is_withheld(env: Env) -> None:
    env.helper("half", helper_returning("u", SECRET) + "\nexit 1")
    env.docker_config({"credHelpers": {"ghcr.io": "half"}})
    with pytest.raises(CredentialError, match="exited with status 1") as exc:
        env.lookup("ghcr.io", None)
    assert SECRET not in str(exc.value) and "Secret" not in str(exc.value)


def test_helper_with_non_json_answer_is_error(env: Env) -> None:
    env.helper("garbage", f"echo 'user {SECRET}'")
    env.docker_config({"credHelpers": {"ghcr.io": "garbage"}})
    with pytest.raises(CredentialError, match="did not answer with a JSON object") as exc:
        env.lookup("ghcr.io", None)
    assert SECRET not in str(exc.value)


def test_helper_timeout_is_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credhelpers, "HELPER_TIMEOUT_SECONDS", 0.3)
    env.helper("slow", "exec sleep 5")
    env.docker_config({"credsStore": "slow"})
    with pytest.raises(
        CredentialError,
        match=r"docker-credential-slow did not answer within 0\.3 s and was stopped",
    ):
        env.lookup("ghcr.io", None)


def test_helper_name_cannot_escape_the_prefix(env: Env) -> None:
    env.docker_config({"credsStore": "../../bin/sh"})
    with pytest.raises(CredentialError, match="invalid credential helper name"):
        env.lookup("ghcr.io", None)


def test_empty_cred_helper_value_skips_creds_store(env: Env) -> None:
    env.docker_config(
        {
            "credHelpers": {"ghcr.io": ""},
            "credsStore": "not-installed",
            "auths": {"ghcr.io": {"auth": b64("plain:p")}},
        }
    )
    cred = env.lookup("ghcr.io", None)
    assert cred is not None and cred.username == "plain"


def test_helper_in_auth_json_is_named_in_error(env: Env) -> None:
    path = env.write_json(env.root / "auth.json", {"credHelpers": {"quay.io": "absent"}})
    env.environ["REGISTRY_AUTH_FILE"] = str(path)
    with pytest.raises(CredentialError, match=f"named in {path}"):
        env.lookup("quay.io", "acme/app")


# --- pure pieces ----------------------------------------------------------------------------------


def test_plan_file_order() -> None:
    auth_file = AuthFile(
        "f",
        "containers",
        auths={"quay.io": {}, "https://quay.io/v1/": {}, "quay.io/acme": {}, "quay.io/x": {}},
        cred_helpers={"quay.io": "a"},
        creds_store="b",
    )
    assert plan_file(auth_file, "quay.io", "acme/app") == (
        HelperStep("a"),
        HelperStep("b"),
        EntryStep("quay.io/acme"),
        EntryStep("quay.io"),
        EntryStep("https://quay.io/v1/"),
    )


def test_parse_auth_file_ignores_unknown_fields() -> None:
    parsed = parse_auth_file(
        json.dumps({"auths": {"r": {"auth": "", "email": "x"}}, "psFormat": "table", "x": 1}),
        "f",
        "docker",
    )
    assert parsed.auths["r"]["auth"] == "" and parsed.creds_store is None


# --- secret hygiene -------------------------------------------------------------------------------


def test_credential_repr_hides_secrets() -> None:
    cred = Credential("alice", SECRET, TOKEN, SECRET + "-rt", source="env U/P")
    text = repr(cred) + str(cred)
    assert "alice" in text and "env U/P" in text
    assert SECRET not in text and TOKEN not in text
    assert cred.secrets() == (SECRET, TOKEN, SECRET + "-rt")


def _error_scenarios(env: Env) -> list[Callable[[], object]]:
    """Every failure path, each with the secret somewhere it could leak from."""
    auth = b64(f"alice:{SECRET}")
    cases: list[tuple[dict[str, str], str]] = [
        ({}, '{"auths": {"ghcr.io": {"auth": "' + auth + '"}'),  # bad JSON
        ({}, '{"auths": {"ghcr.io": {"auth": "' + b64(SECRET) + '"}}}'),  # no colon
        ({}, '{"auths": {"ghcr.io": {"auth": "' + SECRET + '"}}}'),  # not base64
        ({}, '{"auths": {"ghcr.io": {"username": "u", "password": ["' + SECRET + '"]}}}'),
        ({"P": SECRET}, "{}"),  # username variable unset, password set
        ({}, '{"credsStore": "leaky"}'),
        ({}, '{"credsStore": "half"}'),
        ({}, '{"credsStore": "garbage"}'),
    ]
    env.helper("leaky", f"echo 'failed: secret={SECRET} {TOKEN}' >&2; exit 1")
    env.helper("half", helper_returning("u", SECRET) + "; exit 3")
    env.helper("garbage", f"echo '{SECRET}'")
    config = env.home / ".docker" / "config.json"
    config.parent.mkdir(exist_ok=True)

    def run(extra: dict[str, str], content: str) -> Callable[[], object]:
        def go() -> object:
            config.write_text(content)
            environ = env.environ | extra
            use_env = "P" in extra
            return lookup_credential(
                "ghcr.io",
                None,
                username_env="U" if use_env else None,
                password_env="P" if use_env else None,
                environ=environ,
                home=env.home,
            )

        return go

    return [run(extra, content) for extra, content in cases]


def test_no_secret_in_any_error_text_or_traceback(env: Env) -> None:
    scenarios = _error_scenarios(env)
    for scenario in scenarios:
        with pytest.raises(CredentialError) as exc:
            scenario()
        full = "".join(traceback.format_exception(exc.value)) + repr(exc.value)
        for secret in (SECRET, TOKEN, b64(f"alice:{SECRET}"), "identity-refresh"):
            assert secret not in full, full


def test_debug_log_names_source_not_secret(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.docker_config({"auths": {"ghcr.io": {"auth": b64(f"alice:{SECRET}")}}})
    with caplog.at_level("DEBUG", logger="mplat.credentials"):
        assert env.lookup("ghcr.io", None) is not None
        assert env.lookup("quay.io", None) is None
    assert "~/.docker/config.json auths" in caplog.text
    assert "going anonymous" in caplog.text
    assert SECRET not in caplog.text


def test_known_secret_is_redacted_from_another_helper_failure(env: Env) -> None:
    """A letters-only password looks like prose; mplat knows it, so it is removed anyway."""
    password = "correcthorsebattery"
    env.environ |= {"U": "alice", "P": password}
    leaked = b64("alice:" + password)
    env.helper("echo", f"echo 'no entry; tried alice {password} {leaked}'\nexit 1")
    env.docker_config({"credsStore": "echo"})
    resolver = CredentialResolver(environ=env.environ, home=env.home)
    assert resolver.lookup("ghcr.io", None, username_env="U", password_env="P") is not None
    with pytest.raises(CredentialError) as exc:
        resolver.lookup("quay.io", None)
    text = str(exc.value)
    assert "docker-credential-echo exited with status 1" in text
    assert password not in text and leaked not in text
    forms = secret_forms(Credential("alice", password))
    assert redact_secrets(f"x {password} y", forms) == "x [redacted] y"


def test_hub_spellings_are_the_ones_references_normalise() -> None:
    """One list of Docker Hub's names (values.reference): a login stored under any of them
    is found for the registry a reference to that name normalises to."""
    for host in (DOCKER_HUB, *DOCKER_HUB_ALIASES):
        assert canonical_registry(host) == parse_reference(f"{host}/a/b").registry == DOCKER_HUB
    assert canonical_registry("quay.io") == "quay.io"
    assert credhelpers.DOCKER_HUB_SERVER_URL.startswith(f"https://{DOCKER_HUB_INDEX_HOST}/")


def test_secrets_are_imported_from_where_they_live() -> None:
    """credentials finds credentials; the credential, its error and the scrubbing belong to
    secrets, and a second import path for them would let the two drift apart."""
    assert sorted(credentials.__all__) == ["CredentialResolver", "lookup_credential"]
    moved = {"Credential", "CredentialError", "redact_secrets", "HELPER_TIMEOUT_SECONDS"}
    for path in [*ROOT.glob("mplat/**/*.py"), *ROOT.glob("tests/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "mplat.registry.credentials":
                assert not moved & {a.name for a in node.names}, path
