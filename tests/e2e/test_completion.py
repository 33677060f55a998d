"""`mplat completion SHELL` in the real shells: bash and fish complete through their own
completion machinery, zsh through compinit in a pseudo-terminal (zsh_capture.zsh)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

HERE = Path(__file__).parent


def completion_script(shell: str, folder: Path, name: str) -> Path:
    """What `python -m mplat completion SHELL` prints, saved as ``folder/name``."""
    out = subprocess.run(
        [sys.executable, "-m", "mplat", "completion", shell],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    ).stdout
    path = folder / name
    path.write_text(out)
    return path


def need(shell: str) -> str:
    found = shutil.which(shell)
    if found is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    return found


# bash: COMP_WORDS/COMP_CWORD as bash's own completion sets them, then the function that
# `complete -p mplat` names, then what it left in COMPREPLY.
BASH_DRIVER = r"""
source "$1"; shift
read -r -a spec <<<"$(complete -p mplat)"
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
"${spec[2]}" mplat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def bash_completes(script: Path, *words: str) -> list[str]:
    proc = subprocess.run(
        [need("bash"), "--norc", "--noprofile", "-c", BASH_DRIVER, "bash", str(script), *words],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture
def bash_script(tmp_path: Path) -> Path:
    return completion_script("bash", tmp_path, "mplat.bash")


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (("mplat", "pl"), ["plan"]),
        (("mplat", "plan", "--det"), ["--detailed-exitcode"]),
        (
            ("mplat", ""),
            ["validate", "plan", "apply", "show", "import", "lock", "schema", "completion"],
        ),
        (("mplat", "plan", "--format", ""), ["text", "markdown"]),
        (("mplat", "plan", "-v", "--no-c"), ["--no-cache", "--no-color"]),
        (("mplat", "apply", "--auto"), ["--auto-approve"]),
        (("mplat", "completion", "z"), ["zsh"]),
        (("mplat", "plan", "--timeout", ""), []),  # a number: nothing to offer
    ],
)
def test_bash_completes_commands_flags_and_choices(
    bash_script: Path, words: tuple[str, ...], offered: list[str]
) -> None:
    assert sorted(bash_completes(bash_script, *words)) == sorted(offered)


def test_bash_completes_paths_where_a_file_is_wanted(bash_script: Path, tmp_path: Path) -> None:
    (tmp_path / "manifests.yaml").write_text("version: 1\n")
    (tmp_path / "conf.d").mkdir()
    prefix = str(tmp_path / "man")
    assert bash_completes(bash_script, "mplat", "validate", "-f", prefix) == [
        f"{prefix}ifests.yaml"
    ]
    assert bash_completes(bash_script, "mplat", "validate", prefix) == [f"{prefix}ifests.yaml"]
    assert bash_completes(bash_script, "mplat", "plan", "--file", "=", prefix) == [
        f"{prefix}ifests.yaml"
    ]
    assert bash_completes(bash_script, "mplat", "plan", "--cache-dir", str(tmp_path / "c")) == [
        str(tmp_path / "conf.d")
    ]


def test_zsh_script_parses_and_completes(tmp_path: Path) -> None:
    zsh = need("zsh")
    script = completion_script("zsh", tmp_path, "_mplat")  # a compdef file, named as zsh wants
    check = subprocess.run([zsh, "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert (check.returncode, check.stderr) == (0, "")

    def completes(line: str) -> list[str]:
        proc = subprocess.run(
            [zsh, "-f", str(HERE / "zsh_capture.zsh"), str(tmp_path), line],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    assert completes("mplat pl") == ["plan"]
    assert completes("mplat plan --det") == ["--detailed-exitcode"]
    assert sorted(completes("mplat completion ")) == ["bash", "fish", "zsh"]


def test_fish_script_parses_and_completes(tmp_path: Path) -> None:
    fish = need("fish")
    script = completion_script("fish", tmp_path, "mplat.fish")
    check = subprocess.run(
        [fish, "--no-config", "--no-execute", str(script)], capture_output=True, text=True
    )
    assert (check.returncode, check.stderr) == (0, "")

    def completes(line: str) -> list[str]:
        proc = subprocess.run(
            [fish, "--no-config", "-c", f"source {script}; complete -C{line!r}"],
            capture_output=True,
            text=True,
            timeout=30,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        assert (proc.returncode, proc.stderr) == (0, "")
        return [row.split("\t")[0] for row in proc.stdout.splitlines()]

    assert completes("mplat pl") == ["plan"]
    assert completes("mplat plan --det") == ["--detailed-exitcode"]
    assert completes("mplat completion ") == ["bash", "fish", "zsh"]
