"""The argparse parser: every command, flag and help text of ``mplat``.

Kept apart from dispatch so the whole surface of the CLI reads in one place, and so tests
can parse arguments without running anything.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

from mplat import __version__
from mplat.cli.completion import SHELLS
from mplat.cli.errors import EXIT_ERROR
from mplat.cli.variables import var_flag
from mplat.registry.api import DEFAULT_PARALLELISM


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 1: with --detailed-exitcode, 2 means "changes" only."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (0 or -1 requests in flight would never finish)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    """argparse type: finite seconds > 0 (float() also accepts "nan", "inf" and "-1")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _events_flags(p: argparse.ArgumentParser, machine: argparse._MutuallyExclusiveGroup) -> None:
    """plan and apply: the JSON-lines stream (not with --json) and the progress bar switch."""
    machine.add_argument(
        "--json-stream",
        action="store_true",
        help="print one JSON event per line on stdout as it happens (planned_change,"
        " apply_start, apply_complete, errored, summary); human text on stderr",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress bar on stderr (shown only on a terminal; also off with"
        " NO_COLOR or TERM=dumb; FORCE_COLOR shows it off a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``mplat``; ``args.command`` names the module in ``mplat.cli.commands``."""
    common = _Parser(add_help=False)
    common.add_argument(
        "-f",
        "--file",
        action="append",
        metavar="PATH",
        help="configuration file, or a directory to read every *.yaml / *.yml in it; repeatable,"
        " the files are one config (default: manifests.yaml)",
    )
    common.add_argument(
        "-v", "--debug", action="store_true", help="show HTTP exchanges (credentials redacted)"
    )
    common.add_argument("--no-color", action="store_true", help="plain text output")
    common.add_argument(
        "--var",
        action="append",
        default=[],
        type=var_flag,
        metavar="NAME=VALUE",
        help="set a variable declared under `variables:` (repeatable; wins over"
        " $MPLAT_VAR_<NAME>, which wins over the file)",
    )
    net = _Parser(add_help=False)
    net.add_argument(
        "--parallelism",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"requests in flight per registry (default {DEFAULT_PARALLELISM}, raised up to 64"
        " behind a slow link; registries.<host>.parallelism wins)",
    )
    net.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="seconds without progress before a request gives up: connecting, waiting for"
        " an answer, or a transfer that stalls (small bodies must also arrive whole within"
        " it; large transfers run as long as bytes flow) (default %(default)s)",
    )
    net.add_argument(
        "--retries",
        type=_positive_int,
        default=8,
        metavar="N",
        help="attempts per idempotent request on errors, 429 and 5xx; the default %(default)s"
        " waits 16-32 s in all, riding out a registry restart",
    )
    net.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="cache of manifests and configs by digest (default: $MPLAT_CACHE_DIR, "
        "else $XDG_CACHE_HOME/mplat, else ~/.cache/mplat)",
    )
    net.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    targeted = _Parser(add_help=False)  # plan and apply: import has no config to narrow
    targeted.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="REPOSITORY:TAG",
        help="limit the work to this tag (repeatable)",
    )

    view = _Parser(add_help=False)  # how a plan is shown: plan, apply and show
    view.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text (default), or markdown for a pull-request comment (summary first, a table"
        " of changes, a collapsible section per repository, capped to fit 65,536 characters)",
    )
    view.add_argument(
        "--compact", action="store_true", help="one line per changed tag instead of the diff"
    )
    view.add_argument(
        "-q", "--quiet", action="store_true", help="print only the summary and the errors"
    )
    view.add_argument(
        "--show-no-op",
        action="store_true",
        help="list unchanged tags in --json too (they are only counted by default)",
    )

    lockfile = _Parser(add_help=False)  # lock, plan and apply (see cli/locking.py)
    lockfile.add_argument(
        "--lock",
        dest="lock_file",
        metavar="FILE",
        help="the lock file (default: beside the first -f: NAME.yaml has NAME.lock, a"
        " directory DIR has DIR/manifests.lock)",
    )
    lockfile.add_argument(
        "--update-lock",
        action="store_true",
        help="pin every source again to the digest its tag holds now, and write the lock",
    )
    unlocked = _Parser(add_help=False)  # plan and apply
    unlocked.add_argument(
        "--no-lock", action="store_true", help="ignore the lock file: follow the source tags"
    )

    parser = _Parser(
        prog="mplat",
        description="Declare multi-platform tags in YAML; plan and apply them against registries.",
    )
    parser.add_argument("--version", action="version", version=f"mplat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    v = sub.add_parser(
        "validate", parents=[common], help="check the configuration file without network access"
    )
    v.add_argument(
        "files",
        nargs="*",
        default=[],
        metavar="FILE",
        help="configuration files or directories, after the options: the same as -f FILE for"
        " each, and one config with any -f (pre-commit passes the files it checks this way)",
    )
    p = sub.add_parser(
        "plan",
        parents=[common, net, targeted, view, lockfile, unlocked],
        help="show what apply would change in the registries",
    )
    machine = p.add_mutually_exclusive_group()
    machine.add_argument(
        "--json", action="store_true", help="print the plan as JSON (format_version 2)"
    )
    _events_flags(p, machine)
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.add_argument("--out", metavar="FILE", help="save the plan for a later `mplat apply FILE`")
    a = sub.add_parser(
        "apply",
        parents=[common, net, targeted, view, lockfile, unlocked],
        help="make the registries match",
    )
    a.add_argument(
        "plan_file", nargs="?", metavar="PLAN", help="apply a saved plan exactly (no prompt)"
    )
    a.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    a.add_argument(
        "--allow-partial",
        action="store_true",
        help="apply the lists that planned even though others failed (still exits 1)",
    )
    machine = a.add_mutually_exclusive_group()
    machine.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (plan and outcomes) on stdout; human text on stderr",
    )
    _events_flags(a, machine)
    show = sub.add_parser(
        "show", parents=[view], help="print a saved plan (no network): text, JSON or Markdown"
    )
    show.add_argument("plan_file", metavar="PLAN", help="a plan saved by `mplat plan --out`")
    show.add_argument("--json", action="store_true", help="print the plan as JSON")
    show.add_argument("--no-color", action="store_true", help="plain text output")
    show.add_argument("-v", "--debug", action="store_true", help=argparse.SUPPRESS)
    i = sub.add_parser(
        "import",
        parents=[net],
        help="write the YAML that reproduces lists already in a registry",
    )
    i.add_argument(
        "references",
        nargs="+",
        metavar="REPOSITORY[:TAG]",
        help="a list's tag, or a repository to import every list of",
    )
    i.add_argument("-o", "--output", metavar="FILE", help="write the YAML here (default: stdout)")
    i.add_argument(
        "--insecure",
        action="append",
        default=[],
        metavar="HOST",
        help="talk plain HTTP to this registry, and say so in the YAML (repeatable)",
    )
    i.add_argument(
        "-v", "--debug", action="store_true", help="show HTTP exchanges (credentials redacted)"
    )
    sub.add_parser(
        "lock",
        parents=[common, net, lockfile],
        help="pin every source tag of the configuration in its lock file",
    )
    sub.add_parser(
        "schema",
        help="print the JSON Schema of the configuration file",
    )
    c = sub.add_parser(
        "completion",
        help="print the tab-completion script for a shell",
        epilog="bash: source <(mplat completion bash); zsh: mplat completion zsh >"
        ' "${fpath[1]}/_mplat"; fish: mplat completion fish >'
        " ~/.config/fish/completions/mplat.fish",
    )
    c.add_argument("shell", choices=SHELLS, metavar="SHELL", help=" | ".join(SHELLS))
    return parser
