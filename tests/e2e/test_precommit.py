"""The `mplat-validate` hook of .pre-commit-hooks.yaml, run by the real pre-commit.

`pre-commit try-repo` installs this checkout into a virtual environment of its own (as a
user's `repo:` entry would; pip fetches mplat's dependencies) and runs the hook in a scratch
repository holding a valid config, an invalid one and YAML that is no mplat config. try-repo
sees the checkout's committed files plus changes to tracked ones, not untracked files.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

VALID = (ROOT / "examples" / "manifests.yaml").read_text()
INVALID = (  # a misspelt key, on line 5
    "version: 1\nlists:\n  - repository: r.example/a\n    tags: [x]\n"
    '    manifests: [{image: "r.example/s:1", platfrom: linux/amd64}]\n'
)
NOT_MPLAT = "on: push\njobs: {}\n"  # a workflow: the hook's files pattern must leave it alone


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),  # its own hook environments, not the user's cache
        "PRE_COMMIT_COLOR": "never",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "mplat-validate", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    if importlib.util.find_spec("pre_commit") is None:
        pytest.skip("pre-commit is not installed (it is in the test extra: pip install '.[test]')")
    if not (ROOT / ".git").exists():
        pytest.skip("try-repo needs this checkout to be a git repository")
    repo = tmp_path / "configs"
    (repo / "prod").mkdir(parents=True)
    (repo / "broken").mkdir()
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "prod" / "manifests.yaml").write_text(VALID)
    (repo / "broken" / "manifests.yml").write_text(INVALID)
    (repo / ".github" / "workflows" / "ci.yml").write_text(NOT_MPLAT)
    (repo / "notes.yaml").write_text("- not\n- an mplat config\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    return repo


def test_the_hook_passes_a_valid_config_and_fails_an_invalid_one(
    scratch: Path, tmp_path: Path
) -> None:
    home = tmp_path / "pre-commit-home"
    good = pre_commit(scratch, home, "--files", "prod/manifests.yaml", "notes.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "mplat validate" in good.stdout and "Passed" in good.stdout

    bad = pre_commit(scratch, home, "--all-files", "--verbose")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    # The problem, where it was written:
    assert 'broken/manifests.yml:5:42: lists[0].manifests[0]: unknown key "platfrom"' in bad.stdout
    # Only the two manifests files were passed, as one config: the workflow and notes.yaml
    # are not mplat configs and are never named.
    assert "ci.yml" not in bad.stdout and "notes.yaml" not in bad.stdout

    skipped = pre_commit(scratch, home, "--files", ".github/workflows/ci.yml", "notes.yaml")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "(no files to check)Skipped" in skipped.stdout
