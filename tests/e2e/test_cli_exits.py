"""Exit codes and saved plans (issue 10), through the CLI against a real registry.

`--detailed-exitcode` promises 2 = "changes present" and nothing else; a plan with errors is
never saved nor half-applied by default; a --target that selects nothing is an error; and
`apply --json` writes exactly one JSON document on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import head_manifest, seed_image

USAGE = {
    "unknown option": ["plan", "--detailed-exitcode", "--bogus"],
    "no command": [],
    "unknown command": ["frobnicate"],
    "option without its value": ["plan", "-f"],
    "parallelism not a number": ["plan", "--parallelism", "many"],
    "parallelism zero": ["apply", "--parallelism", "0"],
    "timeout NaN": ["plan", "--timeout", "nan"],
    "extra argument": ["plan", "extra"],
}


@pytest.mark.parametrize("argv", USAGE.values(), ids=USAGE)
def test_usage_errors_exit_1_never_2(argv: list[str]) -> None:
    run = run_cli(*argv)
    assert run.code == 1, run.err
    assert "usage: mplat" in run.err and "error:" in run.err and "Traceback" not in run.err


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["--version"]])
def test_help_and_version_still_exit_0(argv: list[str]) -> None:
    assert run_cli(*argv).code == 0


def two_lists(addr: str, repo: str) -> str:
    """One list that plans (good) and one whose source is missing (broken)."""
    return f"""\
version: 1
lists:
  - repository: {addr}/{repo}
    tags: [good]
    manifests:
      - image: {addr}/{repo}:x86
  - repository: {addr}/{repo}
    tags: [broken]
    manifests:
      - image: {addr}/{repo}:does-not-exist
"""


@pytest.fixture
def half(registry: RegistryServer, repo: str, tmp_path: Path) -> Path:
    seed_image(registry.url, repo, "x86", os="linux", architecture="amd64")
    return write_config(tmp_path, two_lists(registry.address, repo))


def test_plan_with_errors_is_not_saved(half: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    run = run_cli("plan", "-f", str(half), "--out", str(out))
    assert run.code == 1
    assert not out.exists()
    assert not list(tmp_path.glob(".mplat-plan-*"))
    assert f"not saved to {out}" in run.err and "1 error" in run.err, run.err


def test_apply_with_errors_writes_nothing_unless_allowed(
    registry: RegistryServer, repo: str, half: Path
) -> None:
    refused = run_cli("apply", "-f", str(half), "--auto-approve")
    assert refused.code == 1
    assert "1 error" in refused.err and "--allow-partial" in refused.err, refused.err
    assert "Apply complete" not in refused.out
    assert head_manifest(registry.url, repo, "good") is None

    partial = run_cli("apply", "-f", str(half), "--auto-approve", "--allow-partial")
    assert partial.code == 1  # errors occurred, even though what planned was applied
    assert head_manifest(registry.url, repo, "good") is not None
    assert head_manifest(registry.url, repo, "broken") is None


def test_target_matching_nothing_is_an_error(
    registry: RegistryServer, repo: str, half: Path
) -> None:
    addr = registry.address
    for command in ("plan", "apply"):
        run = run_cli(command, "-f", str(half), "--auto-approve" if command == "apply" else "-v",
                      "--target", f"{addr}/{repo}:goood")  # fmt: skip
        assert run.code == 1, run.out + run.err
        assert "No changes" not in run.out
        assert (
            f"no declared tag matches --target {addr}/{repo}:goood; did you mean: "
            f"{addr}/{repo}:good" in run.err
        ), run.err
    assert head_manifest(registry.url, repo, "good") is None
    ok = run_cli("plan", "-f", str(half), "--target", f"{addr}/{repo}:good", "--detailed-exitcode")
    assert ok.code == 2, ok.err


def test_apply_json_is_one_document(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    addr = registry.address
    seed_image(registry.url, repo, "x86", os="linux", architecture="amd64")
    good_only = "\n".join(two_lists(addr, repo).splitlines()[:6]) + "\n"
    cfg = write_config(tmp_path, good_only)
    run = run_cli("apply", "-f", str(cfg), "--auto-approve", "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["format_version"] == "2"
    assert doc["plan"]["summary"]["create"] == 1
    assert doc["plan"]["changes"][0]["tag"] == "good"
    (outcome,) = doc["outcomes"]
    assert outcome["address"] == f"{addr}/{repo}:good"
    assert outcome["action"] == "create" and outcome["ok"] is True
    assert outcome["message"].startswith("created sha256:")
    assert doc["summary"] == {"done": 1, "failed": 0, "errors": 0, "applied": True}
    assert f"{addr}/{repo}:good: created" in run.err  # progress is for people: stderr

    again = run_cli("apply", "-f", str(cfg), "--auto-approve", "--json")
    doc = json.loads(again.out)
    assert again.code == 0 and doc["outcomes"] == [] and doc["summary"]["applied"] is False


def test_apply_json_with_errors_is_one_document(half: Path) -> None:
    run = run_cli("apply", "-f", str(half), "--auto-approve", "--json")
    assert run.code == 1
    doc = json.loads(run.out)
    assert doc["summary"] == {"done": 0, "failed": 0, "errors": 1, "applied": False}
    assert "does-not-exist" in doc["plan"]["errors"][0]["message"]
    assert "--allow-partial" in run.err


def test_unmatched_targets_names_each_and_spares_prune_repositories(tmp_path: Path) -> None:
    from mplat.config.loader import load_config
    from mplat.engine.planner import Target, unmatched_targets
    from mplat.values.reference import parse_reference

    cfg = write_config(
        tmp_path,
        """\
version: 1
lists:
  - repository: a.io/app
    tags: [v1, v2]
    manifests: [{image: a.io/src:x}]
  - repository: a.io/pruned
    tags: [keep]
    format: oci
    prune: true
    manifests: [{image: a.io/src:x}]
""",
    )
    lists = load_config(cfg).lists
    addresses = ("a.io/app:v1", "a.io/app:v3", "b.io/zzz:q", "a.io/pruned:old")
    targets = {Target.of(parse_reference(a)) for a in addresses}
    assert unmatched_targets(lists, targets) == [
        "no declared tag matches --target a.io/app:v3; did you mean: a.io/app:v2, a.io/app:v1",
        "no declared tag matches --target b.io/zzz:q",
    ]
