"""Every command, run with a recognisable secret, never shows it (issue 3, issue 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import secrets
from tests.support.cli import run_cli, write_config
from tests.support.seed import head_manifest, seed_image


@pytest.fixture
def auth_registry(make_registry: Any) -> Any:
    return make_registry(htpasswd={secrets.USER: secrets.PASSWORD})


def config(addr: str) -> str:
    return f"""\
version: 1
registries:
  "{addr}":
    username_env: REG_USER
    password_env: REG_PASS
lists:
  - repository: {addr}/acme/app
    tags: [v1]
    manifests:
      - image: {addr}/acme/app:amd64
"""


def test_no_command_prints_or_saves_the_secret(
    auth_registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = (secrets.USER, secrets.PASSWORD)
    seed_image(auth_registry.url, "acme/app", "amd64", os="linux", architecture="amd64", auth=creds)
    cfg = write_config(tmp_path, config(auth_registry.address))
    monkeypatch.setenv("REG_USER", secrets.USER)
    monkeypatch.setenv("REG_PASS", secrets.PASSWORD)
    saved = tmp_path / "plan.json"
    runs = [
        run_cli("validate", "-f", str(cfg)),
        run_cli("plan", "-f", str(cfg), "-v"),
        run_cli("plan", "-f", str(cfg), "--json", "--debug"),
        run_cli("plan", "-f", str(cfg), "--out", str(saved)),
        run_cli("apply", str(saved), "-f", str(cfg), "-v"),
        run_cli("apply", "-f", str(cfg), "--auto-approve", "-v"),
    ]
    assert [r.code for r in runs] == [0, 0, 0, 0, 0, 0], [r.err for r in runs]
    assert "debug: HEAD" in runs[1].err  # the debug trace is really there ...
    for r in runs:
        assert not secrets.leaks_in(r.out + r.err)  # ... without the secret
    assert not secrets.scan_files([saved])
    assert head_manifest(auth_registry.url, "acme/app", "v1", auth=creds) is not None

    monkeypatch.setenv("REG_PASS", "wrong-" + secrets.TOKEN)
    refused = run_cli("plan", "-f", str(cfg), "-v", "--no-cache")
    assert refused.code == 1
    assert "UNAUTHORIZED" in refused.out + refused.err
    assert not secrets.leaks_in(refused.out + refused.err)


def test_unset_credential_variable_is_named_not_shown(
    auth_registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(tmp_path, config(auth_registry.address))
    monkeypatch.setenv("REG_USER", secrets.USER)
    monkeypatch.delenv("REG_PASS", raising=False)
    result = run_cli("plan", "-f", str(cfg))
    assert result.code == 1
    assert "REG_PASS" in result.out + result.err
    assert "Traceback" not in result.err
