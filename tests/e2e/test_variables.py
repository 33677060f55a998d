"""variables, --var, MPLAT_VAR_<NAME> and for_each, planned and applied on a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import get_manifest, seed_image

TEMPLATE = """\
version: 1
variables:
  registry: {addr}
  base: "${{registry}}/{repo}"
  versions: ["9.9"]
lists:
  - for_each: {{product: [api, web], version: "${{versions}}"}}
    repository: ${{base}}-${{product}}
    tags: ["${{version}}", "${{version}}-${{channel}}"]
    annotations: {{org.opencontainers.image.version: "${{version}}"}}
    manifests:
      - {{image: "${{base}}-${{product}}:${{version}}-amd64", platform: linux/amd64}}
      - {{image: "${{base}}-${{product}}:${{version}}-arm64", platform: linux/arm64}}
"""


def test_for_each_with_var_plans_applies_and_converges(
    registry: RegistryServer, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = ("1.0", "1.1")
    for product in ("api", "web"):
        for version in versions:
            for arch in ("amd64", "arm64"):
                seed_image(
                    registry.url,
                    f"{repo}-{product}",
                    f"{version}-{arch}",
                    os="linux",
                    architecture=arch,
                    oci=True,
                    salt=f"{product}{version}",
                )
    text = TEMPLATE.format(addr=registry.address, repo=repo)
    text = text.replace("  versions:", "  channel: dev\n  versions:")
    cfg = write_config(tmp_path, text)
    # The environment overrides the file, and the flag overrides the environment.
    monkeypatch.setenv("MPLAT_VAR_channel", "beta")
    monkeypatch.setenv("MPLAT_VAR_versions", "0.1")
    flags = ("--var", "versions=1.0,1.1", "--var", "channel=stable")

    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode", *flags)
    assert plan.code == 2, plan.err
    assert "Plan: 8 to create, 0 to update, 0 to delete." in plan.out
    assert f"# {registry.address}/{repo}-web:1.1-stable will be created" in plan.out

    applied = run_cli("apply", "-f", str(cfg), "--auto-approve", *flags)
    assert applied.code == 0, applied.err
    for product in ("api", "web"):
        for version in versions:
            got = get_manifest(registry.url, f"{repo}-{product}", f"{version}-stable")
            assert got is not None
            index = json.loads(got[0])
            assert index["annotations"]["org.opencontainers.image.version"] == version
            assert [m["platform"]["architecture"] for m in index["manifests"]] == [
                "amd64",
                "arm64",
            ]

    again = run_cli("plan", "-f", str(cfg), "--detailed-exitcode", *flags)
    assert again.code == 0, again.out + again.err
    assert "No changes." in again.out or "0 to create, 0 to update, 0 to delete" in again.out


def test_var_for_an_undeclared_name_is_one_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, TEMPLATE.format(addr="localhost:5000", repo="t/x"))
    run = run_cli("validate", "-f", str(cfg), "--var", "verison=1")
    assert run.code == 1
    declared = "(declared: base, registry, versions)"
    assert f'--var "verison": no variable of that name is declared {declared}' in run.err
    unknown = run_cli("validate", "-f", str(cfg))
    assert unknown.code == 1
    assert 'unknown variable "channel"' in unknown.err
    assert "for_each product=api version=9.9" in unknown.err
    bad = run_cli("validate", "-f", str(cfg), "--var", "=x")
    assert bad.code == 1 and "expected NAME=VALUE" in bad.err


BAD = {
    "self-reference": (
        "variables: {a: '${a}'}\n",
        "${a}",
        'variable "a" refers to itself (a -> a)',
    ),
    "cycle": (
        "variables: {a: '${b}', b: 'x${a}'}\n",
        "${a}",
        'variables.a: variable "a" refers to itself (a -> b -> a)',
    ),
    "over the node limit": (
        "variables: {n: [" + ", ".join(str(i) for i in range(600)) + "]}\n",
        "${x}-${y}",
        "over the limit of 300000",
    ),
    "YAML in a value stays text": (
        "variables: {a: '[x, {y: z}]'}\n",
        "${a}",
        "expected a tag: 1 to 128 letters, digits, '_', '.' and '-', not starting with "
        "'.' or '-', got \"[x, {y: z}]\"",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_templates_are_one_error_and_nothing_is_written(
    registry: RegistryServer, repo: str, tmp_path: Path, case: str
) -> None:
    head, tag, expected = BAD[case]
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    item = "  - for_each: {x: '${n}', y: '${n}'}\n    " if "${x}" in tag else "  - "
    text = (
        f"version: 1\n{head}lists:\n{item}repository: {registry.address}/{repo}\n"
        f'    tags: ["{tag}"]\n'
        f"    manifests: [{{image: '{registry.address}/{repo}:amd64'}}]\n"
    )
    cfg = write_config(tmp_path, text)
    run = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert run.code == 1, run.out + run.err
    (line,) = run.err.strip().splitlines()
    assert line.startswith(f"Error: {cfg}:"), line
    assert expected in line
    assert "Traceback" not in run.err
    assert get_manifest(registry.url, repo, "amd64") is not None
    tags = httpx.get(f"{registry.url}/v2/{repo}/tags/list").json()["tags"]
    assert tags == ["amd64"]
