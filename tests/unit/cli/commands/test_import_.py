"""``mplat import``'s own logic: its arguments, warnings, and where the YAML goes (the
registry is the in-memory one; tests/e2e/test_import.py runs it against a real registry)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mplat.cli.commands import import_
from mplat.cli.errors import UsageError
from mplat.cli.parser import build_parser
from mplat.config.loader import load_config
from mplat.config.model import Config
from mplat.values.errors import MplatError
from tests.support.engine import HOST, NAME, REPO
from tests.support.memregistry import MemoryRegistries, push_image, push_index


class Pool(MemoryRegistries):
    """The memory registry standing in for the pool wiring builds (which is closed after)."""

    closed = False
    configs: list[Config]

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Pool:
    made = Pool()
    made.configs = []

    def registry_pool(config: Config, args: argparse.Namespace) -> Pool:
        made.configs.append(config)
        return made

    monkeypatch.setattr(import_.wiring, "registry_pool", registry_pool)
    return made


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["import", *argv])


def test_the_yaml_goes_to_the_file_and_warnings_to_stderr(
    pool: Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = pool.client(HOST)
    push_index(reg, REPO, "v1")
    push_image(reg, REPO, "single")
    out = tmp_path / "imported.yaml"
    code = import_.run(args(f"{NAME}:v1", f"{NAME}:single", "-o", str(out), "--insecure", HOST))
    assert code == 0 and pool.closed
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"warning: skipped {NAME}:single: a single image, not a list\n"
        f"Wrote 1 lists (1 tags) to {out}.\n"
    )
    config = load_config(out)
    assert [s.tags for s in config.lists] == [("v1",)]
    assert config.settings_for(HOST).insecure is True
    assert pool.configs[0].settings_for(HOST).insecure is True


def test_without_output_the_yaml_goes_to_stdout(
    pool: Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    push_index(pool.client(HOST), REPO, "v1")
    assert import_.run(args(NAME)) == 0
    out = capsys.readouterr().out
    assert out.startswith("# yaml-language-server:") and '    tags: ["v1"]\n' in out


def test_nothing_to_import_is_an_error(pool: Pool, tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    with pytest.raises(MplatError, match="no list to import"):
        import_.run(args(NAME, "-o", str(out)))
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((f"{NAME}@sha256:{'a' * 64}",), "not a digest"),
        (("Bad Name",), "invalid reference"),
    ],
)
def test_arguments_import_cannot_use_are_usage_errors(
    pool: Pool, argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        import_.run(args(*argv))


def test_import_has_no_target_flag(capsys: pytest.CaptureFixture[str]) -> None:
    # --target narrows a config's tags; import has no config, so it is not offered at all.
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["import", NAME, "--target", f"{NAME}:x"])
    assert stopped.value.code == 1
    assert "unrecognized arguments: --target" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["import", "--help"])
    shown_help = capsys.readouterr().out
    assert "--insecure" in shown_help and "--target" not in shown_help
