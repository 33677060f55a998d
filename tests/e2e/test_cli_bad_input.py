"""Bad input at the command line: exit 1 with one readable ``Error:`` line, never a traceback.

Every command that reads a file (``validate``, ``plan``, ``apply`` with ``-f FILE``, and
``apply PLAN``) is given a file that is missing, a directory, unreadable, a device, a pipe or
garbage. Each such failure is about the file as a whole, so it must be exactly one line on
stderr starting with ``Error:`` and naming the file; a config with several *config problems*
may list them on several lines, but that is not what these files are. Options get the same
treatment: garbage ``--target`` values, out-of-range numbers, unknown options (argparse's
usage error, exit 1: 2 means "changes" with --detailed-exitcode) and unusable ``--out`` paths.

Most cases run in-process (an escaping exception is what a user sees as a traceback). Cases
that could hang, eat memory, or need a user that file permissions apply to run in a child
process: tests run as root, and root reads any file whatever its mode.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mplat.plan.model import Plan
from mplat.plan.planfile import save_plan
from tests.support.cli import Run, run_cli
from tests.support.paths import ROOT

DIGEST = "sha256:" + "ab" * 32

COMMANDS: dict[str, tuple[str, ...]] = {
    "validate": ("validate", "-f", "{file}"),
    "plan": ("plan", "-f", "{file}"),
    "apply": ("apply", "-f", "{file}", "--auto-approve"),
    # The config is optional for a saved plan; point -f at nothing so only the plan is read.
    "apply PLAN": ("apply", "{file}", "-f", "{nothing}"),
}

GARBAGE: dict[str, bytes] = {
    "random bytes": random.Random(7).randbytes(512),
    "gzip": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)),
    "ELF with NULs": b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
    "not YAML": b"{{{ this: is: not [yaml\n\t- ]\n",
    "a YAML list": b"- a\n- b\n",
    "a YAML scalar": b"just some words\n",
    "empty": b"",
    "UTF-16": "version: 1\nlists: []\n".encode("utf-16"),
}

PLAN_GARBAGE: dict[str, bytes] = {
    "a JSON list": b"[1, 2, 3]\n",
    "another tool's JSON": b'{"format_version": "1", "changes": []}\n',
    "changes of the wrong type": b'{"format": "mplat-plan", "version": 1, "changes": [1]}\n',
    "deeply nested JSON": b"[" * 100_000 + b"]" * 100_000,
    "infinite size": (
        b'{"format": "mplat-plan", "version": 1, "errors": [], "changes": [{"repository":'
        b' "a.io/app", "tag": "t", "action": "delete", "before": {"kind": "list", "mediaType":'
        b' "x", "digest": "' + DIGEST.encode() + b'", "manifests": [{"mediaType": "x",'
        b' "digest": "' + DIGEST.encode() + b'", "size": Infinity}]}, "after": null,'
        b' "live_digest": "' + DIGEST.encode() + b'"}]}\n'
    ),
    "a null diff line": (
        b'{"format": "mplat-plan", "version": 1, "errors": [], "changes": [{"repository":'
        b' "a.io/app", "tag": "t", "action": "update", "before": {"kind": "image",'
        b' "mediaType": "x", "digest": "' + DIGEST.encode() + b'"}, "after": {"kind": "list",'
        b' "mediaType": "x", "digest": "' + DIGEST.encode() + b'", "manifests": []},'
        b' "live_digest": "' + DIGEST.encode() + b'", "diff": [null]}]}\n'
    ),
}

CONFIG = textwrap.dedent(
    """\
    version: 1
    lists:
      - repository: 127.0.0.1:1/acme/app
        tags: [latest]
        manifests:
          - image: 127.0.0.1:1/acme/app:amd64
    """
)
"""Valid, and its registry refuses connections at once: port 1 has no listener."""

OFFLINE = ("--retries", "1", "--no-cache")
"""One attempt per request: retries would add seconds of backoff to every network case."""


def cli(*args: str) -> Run:
    """Run mplat in-process; an escaping exception is exactly what a user sees as a traceback."""
    try:
        return run_cli(*args)
    except Exception as exc:
        message = f"`mplat {' '.join(args)}` raised {exc!r}: the user sees a traceback"
    # A crash inside asyncio.run leaves tasks whose unretrieved exceptions are logged when they
    # are collected. Collect them now: collected later, during pytest's own source parsing,
    # they trip CPython 3.11 ("AST constructor recursion depth mismatch") and abort the run.
    gc.collect()
    pytest.fail(message)


def command(name: str, file: Path | str, nothing: Path) -> list[str]:
    return [part.format(file=file, nothing=nothing) for part in COMMANDS[name]]


def assert_one_error_line(run: Run, names: Path | str) -> str:
    """Exit 1, nothing on stdout, and on stderr one printable ``Error:`` line naming ``names``."""
    assert "Traceback" not in run.out + run.err, run.err
    assert run.code == 1, f"exit {run.code}\n{run.err}"
    assert run.out == "", run.out
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{run.err}"
    line = lines[0]
    assert line.startswith("Error: "), line
    assert line.isprintable(), repr(line)
    assert str(names) in line, f"the message does not name {names}: {line}"
    return line


@pytest.fixture
def nothing(tmp_path: Path) -> Path:
    """A path where no file is, for -f when only the saved plan should be read."""
    return tmp_path / "no-config-here.yaml"


# ------------------------------------------------------------------------------------------
# Files: missing, a directory, garbage, devices, links


@pytest.mark.parametrize("name", COMMANDS)
def test_missing_file(tmp_path: Path, nothing: Path, name: str) -> None:
    missing = tmp_path / "missing.yaml"
    assert_one_error_line(cli(*command(name, missing, nothing)), missing)


@pytest.mark.parametrize("name", COMMANDS)
def test_directory(tmp_path: Path, nothing: Path, name: str) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    line = assert_one_error_line(cli(*command(name, folder, nothing)), folder)
    assert "directory" in line


@pytest.mark.parametrize("garbage", GARBAGE)
@pytest.mark.parametrize("name", COMMANDS)
def test_garbage_file(tmp_path: Path, nothing: Path, name: str, garbage: str) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(GARBAGE[garbage])
    assert_one_error_line(cli(*command(name, path, nothing)), path)


@pytest.mark.parametrize("garbage", PLAN_GARBAGE)
def test_garbage_plan_file(tmp_path: Path, nothing: Path, garbage: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(PLAN_GARBAGE[garbage])
    assert_one_error_line(cli(*command("apply PLAN", path, nothing)), path)


@pytest.mark.parametrize("name", COMMANDS)
def test_dev_null(nothing: Path, name: str) -> None:
    assert_one_error_line(cli(*command(name, "/dev/null", nothing)), "/dev/null")


@pytest.mark.parametrize("name", ["validate", "plan", "apply"])
def test_dev_zero_as_config(nothing: Path, name: str) -> None:
    # The config loader checks the file type first; /dev/zero is never read.
    assert_one_error_line(cli(*command(name, "/dev/zero", nothing)), "/dev/zero")


@pytest.mark.parametrize("link", ["dangling", "loop"])
@pytest.mark.parametrize("name", COMMANDS)
def test_bad_symlink(tmp_path: Path, nothing: Path, name: str, link: str) -> None:
    path = tmp_path / "link.yaml"
    path.symlink_to(tmp_path / "gone.yaml" if link == "dangling" else path)
    assert_one_error_line(cli(*command(name, path, nothing)), path)


def test_valid_plan_with_a_garbage_config(tmp_path: Path) -> None:
    # A saved plan reads the config (for registry settings) when one is at hand.
    plan = tmp_path / "plan.json"
    save_plan(Plan(changes=()), plan)
    config = tmp_path / "garbage.yaml"
    config.write_bytes(GARBAGE["random bytes"])
    assert_one_error_line(cli("apply", str(plan), "-f", str(config)), config)


# ------------------------------------------------------------------------------------------
# In a child process: pipes and endless devices (a hang or a memory blow-up must not take the
# test run with it) and unreadable files (permissions must apply to the user running mplat)


def _limit_memory() -> None:
    # Enough for Python with mplat's imports; reading /dev/zero to the end is not.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_child(
    argv: list[str],
    cwd: Path,
    *,
    timeout: float = 10.0,
    limit_memory: bool = False,
    cache: Path | None = None,
) -> Run:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if cache is not None:
        env["MPLAT_CACHE_DIR"] = str(cache)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            cwd=cwd,
            env=env,
            timeout=timeout,
            preexec_fn=_limit_memory if limit_memory else None,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(argv[1:])}` was still running after {timeout} s: a hang")
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", COMMANDS)
def test_fifo_without_writer_does_not_hang(tmp_path: Path, nothing: Path, name: str) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    run = run_child([sys.executable, "-m", "mplat", *command(name, fifo, nothing)], tmp_path)
    assert_one_error_line(run, fifo)


@pytest.mark.timeout(120)
def test_dev_zero_as_plan_file(tmp_path: Path, nothing: Path) -> None:
    argv = [sys.executable, "-m", "mplat", *command("apply PLAN", "/dev/zero", nothing)]
    assert_one_error_line(run_child(argv, tmp_path, limit_memory=True), "/dev/zero")


_AS_NOBODY = textwrap.dedent(
    """\
    import os, sys
    # Import everything a command may import lazily before giving up root: the interpreter
    # and its packages live under /root, which the unprivileged user cannot enter.
    import importlib, pkgutil
    import mplat
    for module in pkgutil.walk_packages(mplat.__path__, "mplat."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    if sys.argv[1] == "--probe":
        os.stat(sys.argv[2])  # the directory is traversable ...
        try:
            open(sys.argv[2], "rb").close()
        except PermissionError:
            sys.exit(13)  # ... and the file itself is what is refused
        sys.exit(0)
    sys.exit(mplat.cli.main.main(sys.argv[1:]))
    """
)


@pytest.fixture
def unreadable() -> Iterator[tuple[Path, Path]]:
    """A mode-000 file in a world-traversable directory, and a cache dir anyone can write."""
    folder = Path(tempfile.mkdtemp(prefix="mplat-unreadable-"))
    try:
        folder.chmod(0o755)
        cache = folder / "cache"
        cache.mkdir()
        cache.chmod(0o777)
        path = folder / "secret.yaml"
        path.write_text(CONFIG)
        path.chmod(0)
        probe = run_child([sys.executable, "-c", _AS_NOBODY, "--probe", str(path)], folder)
        assert probe.code == 13, f"the file is readable to the test user: {probe}"
        yield path, cache
    finally:
        shutil.rmtree(folder)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", COMMANDS)
def test_unreadable_file(unreadable: tuple[Path, Path], name: str) -> None:
    path, cache = unreadable
    argv = [sys.executable, "-c", _AS_NOBODY, *command(name, path, cache / "none.yaml")]
    line = assert_one_error_line(run_child(argv, cache, cache=cache), path)
    assert "ermission denied" in line


# ------------------------------------------------------------------------------------------
# Options


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mplat.yaml"
    path.write_text(CONFIG)
    return path


BAD_TARGETS = {
    "not a reference": "NOT A REF",
    "no tag": "127.0.0.1:1/acme/app",
    "a digest": f"127.0.0.1:1/acme/app@{DIGEST}",
    "tag and digest": f"127.0.0.1:1/acme/app:latest@{DIGEST}",
    "empty": "",
    "colon": ":",
    "newline": "127.0.0.1:1/acme/app:latest\nError: forged",
    "escape sequence": "127.0.0.1:1/acme/app:\x1b[2J",
    "huge": "a.io/" + "x" * 5000 + ":t",
}


@pytest.mark.parametrize("target", BAD_TARGETS.values(), ids=BAD_TARGETS)
@pytest.mark.parametrize("name", ["plan", "apply"])
def test_garbage_target(config: Path, name: str, target: str) -> None:
    # Refused before any request: the config's registry is never contacted.
    run = cli(name, "-f", str(config), *OFFLINE, "--target", target)
    assert "--target" in assert_one_error_line(run, "--target")


def test_target_with_a_saved_plan(tmp_path: Path, nothing: Path) -> None:
    run = cli("apply", str(tmp_path / "plan.json"), "-f", str(nothing), "--target", "a.io/b:c")
    assert_one_error_line(run, "--target")


USAGE_ERRORS = {
    "unknown option": ["--bogus"],
    "unknown short option": ["-Z"],
    "option without its value": ["-f"],
    "parallelism not a number": ["--parallelism", "many"],
    "timeout not a number": ["--timeout", "soon"],
    "retries not a number": ["--retries", "1.5"],
    "unexpected argument": ["extra", "arguments"],
}


@pytest.mark.parametrize("args", USAGE_ERRORS.values(), ids=USAGE_ERRORS)
@pytest.mark.parametrize("name", ["validate", "plan", "apply"])
def test_usage_errors_exit_1_without_traceback(config: Path, name: str, args: list[str]) -> None:
    run = cli(name, "-f", str(config), *args)
    assert "Traceback" not in run.out + run.err
    assert run.code == 1, run.err
    if name == "validate" and args == ["extra", "arguments"]:
        # validate takes config files as arguments (pre-commit passes them): not a usage error.
        assert run.err.splitlines() == [
            "Error: invalid configuration",
            "  arguments: no such file",
            "  extra: no such file",
        ], run.err
        return
    assert "usage: mplat" in run.err and "error:" in run.err, run.err


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["--bogus"], ["-f"]])
def test_usage_errors_without_a_command(argv: list[str]) -> None:
    run = cli(*argv)
    assert "Traceback" not in run.out + run.err
    assert run.code == 1 and "usage: mplat" in run.err, run.err


NONSENSE_NUMBERS = {
    "negative parallelism": ["--parallelism", "-1"],
    "zero parallelism": ["--parallelism", "0"],
    "zero retries": ["--retries", "0"],
    "timeout NaN": ["--timeout", "nan"],
    "infinite timeout": ["--timeout", "inf"],
    "negative timeout": ["--timeout", "-1"],
    "zero timeout": ["--timeout", "0"],
}


@pytest.mark.parametrize("args", NONSENSE_NUMBERS.values(), ids=NONSENSE_NUMBERS)
@pytest.mark.parametrize("name", ["plan", "apply"])
def test_nonsense_numbers_are_refused(config: Path, name: str, args: list[str]) -> None:
    # argparse accepts these (they parse as numbers); mplat must refuse them itself, naming
    # the option, instead of crashing or failing every request with a misleading error.
    run = cli(name, "-f", str(config), *OFFLINE, *args)
    assert "Traceback" not in run.out + run.err
    assert run.code == 1, run.err
    assert args[0] in run.err, f"{args[0]} is not named:\n{run.err}"


def test_sensible_numbers_are_accepted(config: Path) -> None:
    # The same options with values in range get past argument parsing to the config.
    run = cli(
        "plan",
        "-f",
        str(config),
        "--no-cache",
        "--retries",
        "1",
        "--parallelism",
        "1",
        "--timeout",
        "0.5",
        "--target",
        "x",
    )
    assert run.code == 1 and "usage:" not in run.err, run.err
    assert_one_error_line(run, "--target")


def test_several_config_problems_are_listed_under_one_error(tmp_path: Path) -> None:
    path = tmp_path / "mplat.yaml"
    path.write_text("version: 2\nlists: 5\n")
    run = cli("validate", "-f", str(path))
    assert run.code == 1 and run.out == ""
    assert run.err.splitlines() == [
        "Error: invalid configuration",
        f"  {path}:1:10: version: unsupported version 2 (this mplat reads version 1)",
        f"  {path}:2:8: lists: expected a list, got the number 5",
    ]


def test_one_config_problem_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "mplat.yaml"
    path.write_text(
        "version: 2\nlists: [{repository: a.io/b, tags: [t], manifests: [{image: a.io/b:1}]}]\n"
    )
    run = cli("validate", "-f", str(path))
    line = assert_one_error_line(run, f"{path}:1:10")
    assert line == (
        f"Error: {path}:1:10: version: unsupported version 2 (this mplat reads version 1)"
    )


# ------------------------------------------------------------------------------------------
# plan --out to somewhere a plan cannot go


def _out_line(run: Run, out: Path) -> str:
    assert "Traceback" not in run.out + run.err, run.err
    assert run.code == 1, run.err
    lines = [line for line in run.err.splitlines() if line.startswith(f"Error: {out}")]
    assert len(lines) == 1, f"no single Error line about {out}:\n{run.err}"
    return lines[0]


def test_out_is_a_directory(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "plans"
    out.mkdir()
    _out_line(cli("plan", "-f", str(config), *OFFLINE, "--out", str(out)), out)
    assert out.is_dir() and not list(out.iterdir())


def test_out_in_a_missing_directory(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "plan.json"
    _out_line(cli("plan", "-f", str(config), *OFFLINE, "--out", str(out)), out)
    assert not list(tmp_path.glob("**/.mplat-plan-*"))


def test_out_never_replaces_a_device(config: Path, tmp_path: Path) -> None:
    # `plan --out /dev/null` as root replaced /dev/null itself with the plan (os.replace).
    # Demonstrated on a private copy of the null device, never on the real one.
    # Without CAP_MKNOD a FIFO stands in: any file that is not a regular one must survive.
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        os.mkfifo(device)
    run = cli("plan", "-f", str(config), *OFFLINE, "--out", str(device))
    assert "Traceback" not in run.out + run.err, run.err
    mode = os.lstat(device).st_mode
    assert stat.S_ISCHR(mode) or stat.S_ISFIFO(mode), f"{device} was replaced by a regular file"


# ------------------------------------------------------------------------------------------
# No home directory


@pytest.mark.parametrize("home", [None, ""], ids=["HOME unset", "HOME empty"])
@pytest.mark.parametrize("cache_dir", [False, True], ids=["default cache", "MPLAT_CACHE_DIR"])
def test_no_home_directory(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: str | None, cache_dir: bool
) -> None:
    # HOME unset and a uid with no passwd entry (``docker run --user 1234``): Path.home()
    # raised RuntimeError, for the cache location and again for ~/.docker/config.json.
    import pwd

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    for name in ("HOME", "MPLAT_CACHE_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "DOCKER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    if home is not None:
        monkeypatch.setenv("HOME", home)
    if cache_dir:
        monkeypatch.setenv("MPLAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    run = cli("plan", "-f", str(config), "--retries", "1")
    assert "Traceback" not in run.err, run.err
    assert run.code == 1, run.err  # the registry on port 1 refuses: a plan error, not a crash
    assert "cannot connect" in run.out + run.err
    notes = [line for line in run.err.splitlines() if "without a cache" in line]
    assert len(notes) == (0 if cache_dir else 1), run.err
    assert not (tmp_path / ".cache").exists()
