"""What a reviewer reads: text, --compact, Markdown and GitHub annotations of real plans.

Golden files under tests/e2e/golden/ hold the exact output, with what changes from run to
run (the registry's port, temporary paths, digests that embed them) replaced by stable
names. Regenerate them with ``MPLAT_UPDATE_GOLDEN=1`` and read the diff before committing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from mplat.output.markdown import COMMENT_LIMIT
from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import push_index, seed_image

GOLDEN = Path(__file__).parent / "golden"
_DIGEST = re.compile(r"sha256:[0-9a-f]{12,64}")


def normalise(text: str, registry: RegistryServer, repo: str) -> str:
    text = text.replace(f"{registry.address}/{repo}", "REGISTRY/REPO")
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        digest = match.group(0)
        full = next((d for d in names if d.startswith(digest) or digest.startswith(d)), digest)
        label = names.setdefault(full, f"<D{len(names) + 1}>")
        return label if len(digest) == 71 else label + "…"

    return _DIGEST.sub(name, text)


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MPLAT_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


@pytest.fixture
def reviewed(
    registry: RegistryServer, repo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A config applied once, then edited (a swapped source) while a tag was hand-pushed.

    Run from its folder, so messages name ``manifests.yaml`` as a user would see it."""
    monkeypatch.chdir(tmp_path)
    for arch in ("amd64", "arm64"):
        seed_image(registry.url, repo, arch, os="linux", architecture=arch)
        seed_image(registry.url, repo, f"{arch}-new", os="linux", architecture=arch, salt="new")
    addr = registry.address
    first = f"""\
version: 1
lists:
  - repository: {addr}/{repo}
    tags: [v1, v2, v3]
    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:arm64
"""
    cfg = write_config(tmp_path, first)
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    hand = seed_image(registry.url, repo, "hand", os="linux", architecture="amd64", salt="hand")
    push_index(registry.url, repo, "v2", [(hand, {"architecture": "amd64", "os": "linux"})])
    edited = first.replace(f"{repo}:amd64", f"{repo}:amd64-new") + (
        f"  - repository: {addr}/{repo}-other\n    tags: [x]\n    manifests:\n"
        f"      - image: {addr}/{repo}:missing\n"
    )
    cfg.write_text(edited)
    return Path(cfg.name)


def test_text_and_compact_plans(reviewed: Path, registry: RegistryServer, repo: str) -> None:
    full = run_cli("plan", "-f", str(reviewed))
    assert full.code == 1  # the missing source is an error; the rest planned
    golden("plan.txt", normalise(full.out + full.err, registry, repo))
    compact = run_cli("plan", "-f", str(reviewed), "--compact")
    golden("plan-compact.txt", normalise(compact.out + compact.err, registry, repo))
    quiet = run_cli("plan", "-f", str(reviewed), "-q")
    assert quiet.out.splitlines()[-1] == full.out.splitlines()[-1]
    assert "will be updated" not in quiet.out


def test_markdown_plan_and_github_actions(
    reviewed: Path,
    registry: RegistryServer,
    repo: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md = run_cli("plan", "-f", str(reviewed), "--format", "markdown")
    assert md.code == 1
    body = md.out[: md.out.index("::error")] if "::error" in md.out else md.out
    golden("plan.md", normalise(body, registry, repo))
    annotations = [line for line in md.out.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1  # one, for the one failing list
    assert annotations[0].startswith(f"::error file={reviewed},line=11,col=9,title=mplat::")
    assert "not found" in annotations[0]
    assert summary.read_text(encoding="utf-8").startswith("### mplat plan")

    # A config error becomes an annotation on its line and column.
    reviewed.write_text(reviewed.read_text().replace("tags: [x]", "tags: [x]\n    tagz: [y]"))
    bad = run_cli("validate", "-f", str(reviewed))
    assert bad.code == 1
    assert bad.out.startswith(f"::error file={reviewed},line=10,col=5,title=mplat::lists[1]: ")
    assert 'unknown key "tagz"' in bad.out


def test_markdown_of_many_changes_fits_a_comment(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    lines = ["version: 1", "lists:"]
    for i in range(240):
        lines += [
            f"  - repository: {addr}/{repo}-{i:03d}",
            "    tags: [v1, v2]",
            f"    manifests: [{{image: '{addr}/{repo}:amd64'}}]",
        ]
    cfg = write_config(tmp_path, "\n".join(lines) + "\n")
    saved = tmp_path / "plan.bin"
    assert run_cli("plan", "-f", str(cfg), "--out", str(saved)).code == 0
    md = run_cli("show", str(saved), "--format", "markdown")
    assert md.code == 0
    assert len(md.out) <= COMMENT_LIMIT
    first, *_, last = md.out.strip().splitlines()
    assert first == "### mplat plan"
    assert last == "Plan: 480 to create, 0 to update, 0 to delete."
    assert "Left out to fit 65,536 characters:" in md.out
    assert f"run <code>mplat show {saved} --json</code>" in md.out or "--json" in md.out
    full = json.loads(run_cli("show", str(saved), "--json").out)
    assert len(full["changes"]) == 480
