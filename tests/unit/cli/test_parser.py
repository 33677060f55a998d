"""The argparse surface: usage errors exit 1 (2 is reserved for "changes"), --help, --version."""

from __future__ import annotations

import pytest

from mplat import __version__
from mplat.cli.main import main
from mplat.cli.parser import build_parser
from mplat.cli.variables import config_paths


def exits(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_version_prints_the_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert exits(capsys, "--version") == (0, f"mplat {__version__}\n", "")


@pytest.mark.parametrize("argv", [("--help",), ("plan", "--help"), ("apply", "-h")])
def test_help_goes_to_stdout_and_exits_0(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, err = exits(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.startswith("usage: mplat")


def test_top_level_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = exits(capsys, "--help")
    for command in ("validate", "plan", "apply", "show", "import", "lock", "schema", "completion"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "the following arguments are required: COMMAND"),
        (("deploy",), "invalid choice: 'deploy'"),
        (("plan", "--bogus"), "unrecognized arguments: --bogus"),
        (("validate", "--json"), "unrecognized arguments: --json"),
        (("validate", "a.yaml", "-f", "b.yaml", "c.yaml"), "unrecognized arguments: c.yaml"),
        (("completion",), "the following arguments are required: SHELL"),
        (("schema", "-f", "x.yaml"), "unrecognized arguments: -f x.yaml"),
        (("plan", "--parallelism", "0"), "expected a whole number >= 1, got 0"),
        (("plan", "--retries", "two"), "expected a whole number, got 'two'"),
        (("plan", "--timeout", "nan"), "expected a number of seconds > 0, got 'nan'"),
        (("apply", "--timeout", "-1"), "expected a number of seconds > 0, got '-1'"),
        (("apply", "--timeout", "soon"), "expected a number of seconds, got 'soon'"),
        (("lock", "--no-lock"), "unrecognized arguments: --no-lock"),
        (("lock", "--target", "a:1"), "unrecognized arguments: --target"),
    ],
)
def test_usage_errors_exit_1_with_usage_and_one_error_line(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, out, err = exits(capsys, *argv)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("usage: mplat")
    assert lines[-1].startswith("mplat") and ": error: " in lines[-1]
    assert message in lines[-1]


def test_defaults() -> None:
    args = build_parser().parse_args(["plan"])
    assert (args.command, config_paths(args), args.parallelism, args.timeout, args.retries) == (
        "plan",
        ["manifests.yaml"],
        None,
        30.0,
        8,
    )
    assert (args.target, args.json, args.detailed_exitcode, args.out) == ([], False, False, None)
    applied = build_parser().parse_args(
        ["apply", "saved.plan", "--target", "a:1", "--target", "b:2"]
    )
    assert (applied.plan_file, applied.target) == ("saved.plan", ["a:1", "b:2"])


def test_file_is_repeatable_in_order() -> None:
    args = build_parser().parse_args(["plan", "-f", "b.yaml", "--file", "conf.d", "-f", "a.yml"])
    assert config_paths(args) == ["b.yaml", "conf.d", "a.yml"]


def test_lock_flags() -> None:
    for command in ("plan", "apply", "lock"):
        args = build_parser().parse_args([command])
        assert (args.lock_file, args.update_lock) == (None, False)
        args = build_parser().parse_args([command, "--lock", "x.lock", "--update-lock"])
        assert (args.lock_file, args.update_lock) == ("x.lock", True)
    for command in ("plan", "apply"):
        assert build_parser().parse_args([command, "--no-lock"]).no_lock is True


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_json_stream_and_no_progress_on_plan_and_apply(command: str) -> None:
    off = build_parser().parse_args([command])
    assert (off.json, off.json_stream, off.no_progress) == (False, False, False)
    on = build_parser().parse_args([command, "--json-stream", "--no-progress"])
    assert (on.json, on.json_stream, on.no_progress) == (False, True, True)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_json_and_json_stream_exclude_each_other(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, err = exits(capsys, command, "--json", "--json-stream")
    assert (code, out) == (1, "")
    assert "argument --json-stream: not allowed with argument --json" in err
