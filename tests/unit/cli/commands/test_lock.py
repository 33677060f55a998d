"""``mplat lock``: the config's sources pinned into the lock file beside it (the registry is
the in-memory one; tests/e2e/test_lock.py runs it against a real registry)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mplat.cli.commands import lock
from mplat.cli.parser import build_parser
from mplat.config.model import Config
from mplat.engine.lock import LockingError
from mplat.plan.lock import LockError
from tests.support.engine import HOST, NAME, REPO
from tests.support.memregistry import MemoryRegistries, push_image


class Pool(MemoryRegistries):
    """The memory registry standing in for the pool wiring builds (which is closed after)."""

    closed = False

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Pool:
    made = Pool()

    def registry_pool(config: Config, args: argparse.Namespace) -> Pool:
        return made

    monkeypatch.setattr(lock.wiring, "registry_pool", registry_pool)
    return made


def config(tmp_path: Path, *tags: str) -> Path:
    path = tmp_path / "prod.yaml"
    entries = "".join(f"      - image: {NAME}:{t}\n" for t in tags)
    path.write_text(
        f"version: 1\nlists:\n  - repository: {NAME}\n    tags: [v1]\n    manifests:\n{entries}"
    )
    return path


def run(*argv: str) -> int:
    return lock.run(build_parser().parse_args(["lock", *argv]))


def test_lock_writes_the_pins_beside_the_config_and_says_so(
    pool: Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    amd = push_image(pool.client(HOST), REPO, "amd64", "linux/amd64")
    cfg = config(tmp_path, "amd64")
    assert run("-f", str(cfg)) == 0 and pool.closed
    written = tmp_path / "prod.lock"
    assert capsys.readouterr() == (
        f"Wrote {written}: 1 source pinned (1 added).\n  + {NAME}:amd64 {amd.digest}\n",
        "",
    )
    assert json.loads(written.read_text())["sources"] == {
        f"{NAME}:amd64": {"digest": amd.digest, "mediaType": amd.media_type, "size": amd.size}
    }


def test_update_lock_follows_and_lock_names_the_file(
    pool: Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = pool.client(HOST)
    old = push_image(reg, REPO, "amd64", "linux/amd64")
    cfg, path = config(tmp_path, "amd64"), tmp_path / "elsewhere.lock"
    assert run("-f", str(cfg), "--lock", str(path)) == 0
    new = push_image(reg, REPO, "amd64", "linux/amd64", salt="moved")
    capsys.readouterr()
    assert run("-f", str(cfg), "--lock", str(path)) == 0
    assert capsys.readouterr().out.startswith("Warning: source ")
    assert run("-f", str(cfg), "--lock", str(path), "--update-lock") == 0
    assert capsys.readouterr().out == (
        f"Wrote {path}: 1 source pinned (1 updated).\n"
        f"  ~ {NAME}:amd64 {old.digest} -> {new.digest}\n"
    )
    assert not (tmp_path / "prod.lock").exists()


def test_nothing_is_written_when_a_source_cannot_be_pinned(pool: Pool, tmp_path: Path) -> None:
    push_image(pool.client(HOST), REPO, "amd64", "linux/amd64")
    cfg = config(tmp_path, "amd64", "gone")
    with pytest.raises(LockingError, match=r"prod.lock was not written: 1 source could not"):
        run("-f", str(cfg))
    assert not (tmp_path / "prod.lock").exists()


def test_a_broken_lock_is_kept_unless_updated(
    pool: Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    push_image(pool.client(HOST), REPO, "amd64", "linux/amd64")
    cfg = config(tmp_path, "amd64")
    broken = tmp_path / "prod.lock"
    broken.write_text("<<<<<<< HEAD\n")
    with pytest.raises(LockError) as caught:
        run("-f", str(cfg))
    assert str(caught.value).endswith("(fix it, or replace it with `mplat lock --update-lock`)")
    assert broken.read_text() == "<<<<<<< HEAD\n"
    assert run("-f", str(cfg), "--update-lock") == 0
    assert capsys.readouterr().err.startswith("note: replacing the unreadable lock file: ")
    assert json.loads(broken.read_text())["format"] == "mplat-lock"
