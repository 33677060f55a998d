"""The progress bar under a real pseudo-terminal (issue 13): the real CLI, the real registry.

It appears on a terminal, on stderr only, and never in pipes; --no-progress, NO_COLOR and
TERM=dumb turn it off; FORCE_COLOR turns it on in a pipe. Every wait is bounded, and what
is asserted is drawn whatever the timing: rich draws the bar when it starts and its final
counts when it stops, before clearing it.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import secrets
from tests.support.paths import ROOT
from tests.support.registry import RegistryServer
from tests.support.seed import seed_image

LISTS = 12
DEADLINE = 90.0
"""Seconds one mplat run may take before the test fails (a run takes about one)."""
BAR = ("Refreshing", "Applying:", "\u2501")  # its words, and rich's bar glyph
ESC = "\x1b"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str  # stdout
    err: str  # stderr (the same text as out when both are the terminal)


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES")
    }
    env.update(PYTHONPATH=str(ROOT), MPLAT_CACHE_DIR=str(tmp_path / "cache"))
    env.update({"TERM": "xterm-256color", **extra})
    return env


def mplat(args: list[str], env: Mapping[str, str], terminal: str = "") -> Ran:
    """Run ``python -m mplat``; ``terminal``: "stderr" or "both" on a pty, else pipes."""
    fds: dict[str, int] = {}
    master = slave = -1
    if terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    out_target = slave if terminal == "both" else subprocess.PIPE
    err_target = slave if terminal else subprocess.PIPE
    proc = subprocess.Popen(
        [sys.executable, "-m", "mplat", *args],
        stdin=subprocess.DEVNULL,
        stdout=out_target,
        stderr=err_target,
        env=dict(env),
        cwd=ROOT,
        start_new_session=True,
    )
    if terminal:
        os.close(slave)  # the child holds it now: reading the master ends when the child does
        fds["pty"] = master
    if proc.stdout is not None:
        fds["out"] = proc.stdout.fileno()
    if proc.stderr is not None:
        fds["err"] = proc.stderr.fileno()
    got: dict[str, bytes] = dict.fromkeys(fds, b"")
    deadline = time.monotonic() + DEADLINE
    try:
        while fds:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"mplat {args} still running after {DEADLINE} s")
            ready, _, _ = select.select(list(fds.values()), [], [], min(left, 1.0))
            for name, fd in list(fds.items()):
                if fd not in ready:
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's last holder closed it
                    data = b""
                if data:
                    got[name] += data
                else:
                    del fds[name]
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if master >= 0:
            os.close(master)
    text = {k: v.decode("utf-8", "replace") for k, v in got.items()}
    pty_text = text.get("pty", "")
    ran = Ran(
        code,
        pty_text if terminal == "both" else text.get("out", ""),
        pty_text if terminal else text.get("err", ""),
    )
    secrets.OUTPUTS.extend((ran.out, ran.err))
    return ran


def config(registry: RegistryServer, repo: str, tmp_path: Path, prefix: str) -> Path:
    """LISTS one-tag lists, each its own list (annotations differ), over two seeded images."""
    addr = registry.address
    parts = ["version: 1", "lists:"]
    for i in range(LISTS):
        parts += [
            f"  - repository: {addr}/{repo}",
            f"    tags: [{prefix}{i}]",
            f"    annotations: {{org.example.n: '{i}'}}",
            "    manifests:",
            f"      - image: {addr}/{repo}:amd64",
            f"      - image: {addr}/{repo}:arm64",
        ]
    path = tmp_path / f"{prefix}.yaml"
    path.write_text("\n".join(parts) + "\n")
    return path


@pytest.fixture
def seeded(registry: RegistryServer, repo: str) -> str:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    seed_image(registry.url, repo, "arm64", os="linux", architecture="arm64")
    return repo


def test_on_a_terminal_the_bar_counts_on_stderr_and_never_touches_stdout(
    registry: RegistryServer, seeded: str, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    cfg = config(registry, seeded, tmp_path, "t")
    plan = mplat(["plan", "-f", str(cfg)], env, terminal="stderr")
    assert plan.code == 0, plan.err
    assert f"Refreshing {LISTS} of {LISTS} lists" in plan.err
    assert "\u2501" in plan.err and "0:00:" in plan.err  # the bar, and the elapsed time
    assert plan.err.rindex("\x1b[2K") > plan.err.rindex("Refreshing")
    assert f"Plan: {LISTS} to create" in plan.out
    assert not any(word in plan.out for word in BAR)

    applied = mplat(["apply", "-f", str(cfg), "--auto-approve"], env, terminal="stderr")
    assert applied.code == 0, applied.err
    assert f"Applying: 0 written, 0 failed, {LISTS} remaining" in applied.err  # as it starts
    assert f"Applying: {LISTS} written, 0 failed, 0 remaining" in applied.err  # as it ends
    assert f"Refreshing {LISTS} of {LISTS} lists" in applied.err
    # The per-tag lines printed meanwhile are whole lines above the bar, not torn by it.
    assert f"{registry.address}/{seeded}:t0: created sha256:" in applied.err
    # The bar is erased once done (cursor up, erase line): no bar is left on the screen.
    assert applied.err.rindex("\x1b[2K") > applied.err.rindex("Applying:")
    assert not any(word in applied.out for word in BAR) and ESC not in applied.out
    summary = applied.out.strip().splitlines()[-1]
    assert summary.startswith(
        f"Apply complete: {LISTS} done, 0 failed ({LISTS} created, 0 updated, 0 repaired, "
        "0 deleted) in "
    )
    assert summary.endswith(" s.")


def test_in_pipes_there_is_no_bar_and_rich_is_not_even_loaded(
    registry: RegistryServer, seeded: str, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    cfg = config(registry, seeded, tmp_path, "p")
    applied = mplat(["apply", "-f", str(cfg), "--auto-approve"], env)
    assert applied.code == 0, applied.err
    for text in (applied.out, applied.err):
        assert not any(word in text for word in BAR) and ESC not in text
    assert f"Apply complete: {LISTS} done, 0 failed" in applied.out
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mplat", "plan", "-f", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=DEADLINE,
        check=True,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines()}
    assert "mplat.cli.reporter" in modules  # the measurement itself works
    assert "rich" not in modules


@pytest.mark.parametrize(
    ("flags", "extra"),
    [(["--no-progress"], {}), ([], {"NO_COLOR": "1"}), ([], {"TERM": "dumb"})],
    ids=["--no-progress", "NO_COLOR", "TERM=dumb"],
)
def test_on_a_terminal_the_bar_can_be_turned_off(
    registry: RegistryServer,
    seeded: str,
    tmp_path: Path,
    flags: list[str],
    extra: dict[str, str],
) -> None:
    env = environment(tmp_path, **extra)
    cfg = config(registry, seeded, tmp_path, "o")
    applied = mplat(["apply", "-f", str(cfg), "--auto-approve", *flags], env, terminal="both")
    assert applied.code == 0, applied.err
    assert f"Apply complete: {LISTS} done, 0 failed" in applied.out
    assert not any(word in applied.err for word in BAR)


def test_force_color_shows_the_bar_in_a_pipe_beside_a_clean_json_stream(
    registry: RegistryServer, seeded: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, FORCE_COLOR="1")
    cfg = config(registry, seeded, tmp_path, "f")
    applied = mplat(["apply", "-f", str(cfg), "--auto-approve", "--json-stream"], env)
    assert applied.code == 0, applied.err
    assert f"Applying: {LISTS} written, 0 failed, 0 remaining" in applied.err
    docs = [json.loads(line) for line in applied.out.splitlines()]  # no bar in between
    assert [d["type"] for d in docs].count("apply_complete") == LISTS
    assert docs[-1]["created"] == LISTS


def test_json_stream_lines_on_the_terminal_are_never_torn_by_a_bar(
    registry: RegistryServer, seeded: str, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    cfg = config(registry, seeded, tmp_path, "j")
    plan = mplat(["plan", "-f", str(cfg), "--json-stream"], env, terminal="both")
    assert plan.code == 0, plan.out
    assert not any(word in plan.out for word in BAR)
    docs = [json.loads(line) for line in plan.out.replace("\r\n", "\n").splitlines()]
    assert [d["type"] for d in docs] == ["planned_change"] * LISTS + ["summary"]
