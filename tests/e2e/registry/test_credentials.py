"""Credentials through the CLI against real registries: per-repository lookup, helpers that
fail or hang, and nothing secret in what the CLI prints (issue 10).

The lookup itself is tested without a registry in tests/unit/registry/test_credentials.py.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from tests.support import secrets
from tests.support.cli import run_cli, write_config
from tests.support.seed import head_manifest, seed_image


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- through the CLI: per-repository lookup, leaks, one helper run per key (issue 10) -----------


@dataclass
class CliSandbox:
    """HOME, docker and containers config and PATH of a CLI run, all in a temp dir."""

    root: Path
    bin: Path
    docker: Path
    monkeypatch: pytest.MonkeyPatch

    def helper(self, name: str, body: str) -> None:
        path = self.bin / f"docker-credential-{name}"
        path.write_text(f"#!/bin/sh\nurl=$(cat)\n{body}\n")
        path.chmod(0o755)

    def docker_config(self, doc: Any) -> None:
        (self.docker / "config.json").write_text(json.dumps(doc))

    def auth_file(self, doc: Any) -> None:
        path = self.root / "auth.json"
        path.write_text(json.dumps(doc))
        self.monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliSandbox:
    home, bin_dir, docker = tmp_path / "home", tmp_path / "bin", tmp_path / "docker"
    for d in (home, bin_dir, docker):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    for var in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    return CliSandbox(tmp_path, bin_dir, docker, monkeypatch)


def _lists_config(addr: str, repos: list[str], image: str) -> str:
    lists = "".join(
        f"  - repository: {addr}/{repo}\n    tags: [v1]\n    manifests:\n"
        f"      - image: {addr}/{image}\n"
        for repo in repos
    )
    return f"version: 1\nlists:\n{lists}"


def test_cli_uses_namespace_login_from_auth_json(
    make_registry: Any, cli_env: CliSandbox, tmp_path: Path
) -> None:
    reg = make_registry(htpasswd={secrets.USER: secrets.PASSWORD})
    creds = (secrets.USER, secrets.PASSWORD)
    seed_image(reg.url, "acme/base", "amd64", os="linux", architecture="amd64", auth=creds)
    # Only a namespace key: a per-registry lookup finds nothing and goes anonymous.
    cli_env.auth_file(
        {"auths": {f"{reg.address}/acme": {"auth": b64(f"{secrets.USER}:{secrets.PASSWORD}")}}}
    )
    cfg = write_config(tmp_path, _lists_config(reg.address, ["acme/app"], "acme/base:amd64"))
    planned = run_cli("plan", "-f", str(cfg), "--no-cache")
    assert planned.code == 0, planned.out + planned.err
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve", "--no-cache")
    assert applied.code == 0, applied.out + applied.err
    assert head_manifest(reg.url, "acme/app", "v1", auth=creds) is not None

    # A repository outside the namespace gets no credential: anonymous, refused.
    outside = write_config(
        tmp_path, _lists_config(reg.address, ["other/app"], "other/app:src"), "outside.yaml"
    )
    refused = run_cli("plan", "-f", str(outside), "--no-cache")
    assert refused.code == 1
    assert "401" in refused.out + refused.err or "UNAUTHORIZED" in refused.out + refused.err
    for r in (planned, applied, refused):
        assert not secrets.leaks_in(r.out + r.err)


LEAKY_PASSWORD = "hunter two/Zeta%9!"


def _leak_forms(user: str, password: str) -> list[str]:
    pair = f"{user}:{password}"
    return [
        password,
        pair,
        b64(pair),
        b64(pair).rstrip("="),
        quote(password, safe=""),
        quote(pair, safe=""),
        quote_plus(password),
        "Zeta%9",
    ]


def test_failing_helper_never_leaks_its_output(
    registry: Any, cli_env: CliSandbox, tmp_path: Path
) -> None:
    forms = _leak_forms("alice", LEAKY_PASSWORD)
    lines = "\n".join(f"echo 'error: bad login {f}' >&2\necho '{f}'" for f in forms)
    basic = b64("alice:" + LEAKY_PASSWORD)
    cli_env.helper("leaky", f"echo 'Authorization: Basic {basic}'\n{lines}\nexit 1")
    cli_env.docker_config({"credsStore": "leaky"})
    cfg = write_config(tmp_path, _lists_config(registry.address, ["leak/a"], "leak/a:x"))
    runs = [
        run_cli("plan", "-f", str(cfg), "--no-cache"),
        run_cli("plan", "-f", str(cfg), "--no-cache", "--debug", "--json"),
        run_cli("apply", "-f", str(cfg), "--no-cache", "--auto-approve"),
    ]
    for r in runs:
        text = r.out + r.err
        assert r.code == 1
        assert "docker-credential-leaky exited with status 1" in text, text
        assert "Traceback" not in text
        for form in forms:
            assert form not in text, (form, text)


def test_failing_helper_runs_once_per_key_for_many_lists(
    registry: Any, cli_env: CliSandbox, tmp_path: Path
) -> None:
    count = tmp_path / "runs"
    cli_env.helper("counted", f"echo \"$url\" >> {count}\necho 'keychain locked' >&2\nexit 1")
    cli_env.docker_config({"credsStore": "counted"})
    repos = [f"many/l{i}" for i in range(10)]
    cfg = write_config(tmp_path, _lists_config(registry.address, repos, "many/src:x"))
    result = run_cli("plan", "-f", str(cfg), "--no-cache")
    assert result.code == 1
    assert "docker-credential-counted exited with status 1: keychain locked" in result.out
    assert count.read_text().splitlines() == [registry.address]


def test_hung_helper_is_stopped_after_the_timeout(
    registry: Any, cli_env: CliSandbox, tmp_path: Path
) -> None:
    count = tmp_path / "runs"
    cli_env.helper("hung", f"echo run >> {count}\nsleep 600")
    cli_env.docker_config({"credsStore": "hung"})
    cli_env.monkeypatch.setenv("MPLAT_CREDENTIAL_HELPER_TIMEOUT", "1")
    repos = ["hung/a", "hung/b", "hung/c"]
    cfg = write_config(tmp_path, _lists_config(registry.address, repos, "hung/src:x"))
    started = time.monotonic()
    result = run_cli("plan", "-f", str(cfg), "--no-cache")
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert "docker-credential-hung did not answer within 1 s" in result.out
    assert "MPLAT_CREDENTIAL_HELPER_TIMEOUT" in result.out
    assert count.read_text().splitlines() == ["run"]
    assert elapsed < 30, elapsed  # one 1 s timeout, not one per request (before: 30 s each)
