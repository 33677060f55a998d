"""Command line: ``mplat validate | plan | apply``.

Heavy modules are imported inside the commands that use them, so ``mplat --version`` and
``mplat validate`` start fast. Expected failures (bad config, registry errors, stale plans)
print readable lines and exit 1; only bugs produce tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mplat import __version__
from mplat.values.errors import MplatError

if TYPE_CHECKING:
    from mplat.config.model import Config
    from mplat.engine.planner import Target
    from mplat.plan.model import Plan
    from mplat.registry.client import RegistryPool

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class UsageError(MplatError):
    """A problem with how mplat was called; printed as one line."""


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


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "-f", "--file", default="manifests.yaml", help="configuration file (default: %(default)s)"
    )
    common.add_argument(
        "-v", "--debug", action="store_true", help="show HTTP exchanges (credentials redacted)"
    )
    common.add_argument("--no-color", action="store_true", help="plain text output")
    net = _Parser(add_help=False)
    net.add_argument(
        "--parallelism",
        type=_positive_int,
        default=None,
        metavar="N",
        help="requests in flight per registry (default 8; registries.<host>.parallelism wins)",
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
    net.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="REPOSITORY:TAG",
        help="limit the work to this tag (repeatable)",
    )

    parser = _Parser(
        prog="mplat",
        description="Declare multi-platform tags in YAML; plan and apply them against registries.",
    )
    parser.add_argument("--version", action="version", version=f"mplat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser(
        "validate", parents=[common], help="check the configuration file without network access"
    )
    p = sub.add_parser(
        "plan", parents=[common, net], help="show what apply would change in the registries"
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON (format_version 1)")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.add_argument("--out", metavar="FILE", help="save the plan for a later `mplat apply FILE`")
    a = sub.add_parser("apply", parents=[common, net], help="make the registries match")
    a.add_argument(
        "plan_file", nargs="?", metavar="PLAN", help="apply a saved plan exactly (no prompt)"
    )
    a.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    a.add_argument(
        "--allow-partial",
        action="store_true",
        help="apply the lists that planned even though others failed (still exits 1)",
    )
    a.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (plan and outcomes) on stdout; human text on stderr",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = _StderrHandler()
    logger = logging.getLogger("mplat")
    if args.debug:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "plan":
            return _run(_plan(args))
        return _run(_apply(args))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # Expected failures become one readable message.
        message = _expected_failure(exc)
        if message is None:
            raise
        print(f"Error: {message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def _run(main: Coroutine[Any, Any, int]) -> int:
    # Only commands that talk to registries pay for the event loop. SIGINT/SIGTERM: 130/143.
    from mplat.cli import interrupt

    return interrupt.run(main)


class _StderrHandler(logging.Handler):
    """Debug lines to whatever sys.stderr is at the time (tests swap it between runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"debug: {record.getMessage()}", file=sys.stderr)


def _expected_failure(exc: Exception) -> str | None:
    from mplat.config.model import ConfigError
    from mplat.plan.outcome import StalePlanError
    from mplat.plan.planfile import PlanFileError
    from mplat.registry.errors import RegistryError

    if isinstance(exc, ConfigError):
        if len(exc.problems) == 1:  # e.g. a missing or unreadable file: one line says it all
            return str(exc.problems[0])
        return "invalid configuration\n" + "\n".join(f"  {p}" for p in exc.problems)
    if isinstance(exc, StalePlanError | PlanFileError | RegistryError | UsageError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror}" if exc.strerror else str(exc)
    return None


def _load(args: argparse.Namespace) -> Config:
    from mplat.config.loader import load_config

    return load_config(args.file)


def _validate(args: argparse.Namespace) -> int:
    config = _load(args)
    tags = sum(len(spec.tags) for spec in config.lists)
    print(f"{args.file}: valid ({len(config.lists)} lists, {tags} tags).")
    return EXIT_OK


def _targets(values: list[str]) -> set[Target] | None:
    from mplat.values.reference import ReferenceError, parse_reference

    if not values:
        return None
    out = set()
    for v in values:
        try:
            ref = parse_reference(v)
        except ReferenceError as exc:
            raise UsageError(f"--target: {exc}") from None
        if ref.tag is None or ref.digest is not None:
            raise UsageError(f"--target {v!r}: expected REPOSITORY:TAG")
        out.add((ref.name, ref.tag))
    return out


def _pool(config: Config | None, args: argparse.Namespace) -> RegistryPool:
    from mplat.registry.api import Notices
    from mplat.registry.client import RegistryPool
    from mplat.registry.credentials import Credential, CredentialError, CredentialResolver
    from mplat.registry.errors import RegistryError
    from mplat.registry.transport import RetryPolicy

    def settings(registry: str) -> tuple[bool, str | None, int | None]:
        s = config.settings_for(registry) if config else None
        if s is None:
            return False, None, None
        return s.insecure, s.ca_file, s.parallelism

    resolver = CredentialResolver()  # One lookup per (registry, repository) and run.

    def credential(registry: str, repository: str | None) -> Credential | None:
        s = config.settings_for(registry) if config else None
        try:
            return resolver.lookup(
                registry,
                repository,
                username_env=s.username_env if s else None,
                password_env=s.password_env if s else None,
            )
        except CredentialError as exc:
            raise RegistryError(registry, repository, resolver.redact(str(exc))) from None

    from mplat.registry.cache import DiskCache, default_cache_dir

    notices = Notices(emit=lambda m: print(f"note: {m}", file=sys.stderr))
    cache = None
    if not args.no_cache:
        root = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        if root is None:
            notices.add(
                "running without a cache: no home directory (HOME is unset or not absolute); "
                "set MPLAT_CACHE_DIR or pass --cache-dir"
            )
        else:
            cache = DiskCache(root)
    return RegistryPool(
        settings_for=settings,
        credential_for=credential,
        notices=notices,
        cache=cache,
        parallelism=args.parallelism or 8,
        retry=RetryPolicy(attempts=args.retries),
        timeout=args.timeout,
    )


def _style(args: argparse.Namespace) -> object:
    from mplat.output.text import Style

    stream = sys.stderr if getattr(args, "json", False) else sys.stdout
    color = not args.no_color and stream.isatty() and "NO_COLOR" not in os.environ
    return Style(color)


async def _make_plan(args: argparse.Namespace, config: Config, pool: RegistryPool) -> Plan:
    from mplat.engine.planner import PlanOptions, build_plan, unmatched_targets

    targets = _targets(args.target)
    if targets is not None:
        problems = unmatched_targets(config.lists, targets)
        if problems:
            raise UsageError("\n".join(problems))
    return await build_plan(config.lists, pool, PlanOptions(targets=targets))


def _print_plan(args: argparse.Namespace, plan: Plan) -> None:
    """Text on stdout, or JSON for `plan --json`; `apply --json` keeps stdout for its document."""
    from mplat.output.text import Style, plan_lines
    from mplat.plan.json_codec import plan_to_json

    if args.json and args.command == "plan":
        import json

        print(json.dumps(plan_to_json(plan), indent=2))
        return
    style = _style(args)
    assert isinstance(style, Style)
    out = sys.stderr if args.json else sys.stdout
    for line in plan_lines(plan, style):
        out.write(line + "\n")


def _blocked_message(plan: Plan) -> str | None:
    blocked = plan.blocked()
    if not blocked:
        return None
    return "prevent_destroy forbids deleting: " + ", ".join(c.address for c in blocked)


async def _plan(args: argparse.Namespace) -> int:
    config = _load(args)
    if args.out:
        from mplat.plan.planfile import check_destination

        check_destination(args.out)
    pool = _pool(config, args)
    try:
        plan = await _make_plan(args, config, pool)
    finally:
        await pool.aclose()
    _print_plan(args, plan)
    if args.out:
        from mplat.plan.planfile import save_plan

        save_plan(plan, args.out)
        print(
            f"Saved the plan to {args.out}; apply it with: mplat apply {args.out}", file=sys.stderr
        )
    blocked = _blocked_message(plan)
    if blocked:
        print(f"Error: {blocked}", file=sys.stderr)
        return EXIT_ERROR
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


async def _apply(args: argparse.Namespace) -> int:
    from mplat.cli import interrupt
    from mplat.engine.apply import Applier
    from mplat.output.text import Style, render_result
    from mplat.plan.json_codec import apply_to_json
    from mplat.plan.outcome import ApplyResult

    saved = args.plan_file is not None
    if saved:
        from mplat.plan.planfile import load_plan

        if args.target:
            raise UsageError("--target applies to plans being made, not to a saved plan")
        if args.allow_partial:
            raise UsageError("--allow-partial: a saved plan never has errors, so it has no use")
        plan = load_plan(args.plan_file)
        config = _try_load_for_settings(args)
    else:
        config = _load(args)
    pool = _pool(config, args)
    style = _style(args)
    assert isinstance(style, Style)
    try:
        if not saved:
            plan = await _make_plan(args, config, pool)  # type: ignore[arg-type]
        _print_plan(args, plan)
        result: ApplyResult | None = None
        intr = interrupt.current()
        if _may_apply(args, plan, saved):
            applier = Applier(
                pool,
                progress=lambda m: print(f"  {m}", file=sys.stderr),
                stop=intr.stop,
                abort=intr.abort,
                hard=lambda: intr.hard,
            )
            if saved:
                await applier.check_stale(plan)
            with interrupt.writing():
                result = await applier.apply(plan)
    finally:
        await pool.aclose()
    if result is not None and result.interrupted:
        # What was and was not done goes to stderr under --json, so stdout stays one document.
        report = interrupt.report(result, intr)
        if args.json:
            import json

            sys.stderr.write(report)
            print(json.dumps(apply_to_json(plan, result), indent=2))
        else:
            sys.stdout.write(report)
        return intr.exit_code
    if args.json:
        import json

        print(json.dumps(apply_to_json(plan, result), indent=2))
    elif result is not None:
        sys.stdout.write(render_result(result, style))
    if result is None:
        clean = not plan.errors and not plan.has_changes  # nothing to do, and nothing failed
        return EXIT_OK if clean else EXIT_ERROR
    return EXIT_ERROR if result.failed or plan.errors else EXIT_OK


def _may_apply(args: argparse.Namespace, plan: Plan, saved: bool) -> bool:
    """Whether to write: not a blocked plan, not half a plan unless asked, only once approved."""
    from mplat.cli import interrupt

    blocked = _blocked_message(plan)
    if blocked:
        print(f"Error: {blocked}; nothing was applied.", file=sys.stderr)
        return False
    if not plan.has_changes:
        return False
    if plan.errors and not args.allow_partial:
        n = len(plan.errors)
        print(
            f"Error: the plan has {n} {'error' if n == 1 else 'errors'} (see above); nothing "
            "was applied. Fix them, or re-run with --allow-partial to apply the lists that "
            "planned.",
            file=sys.stderr,
        )
        return False
    if saved or args.auto_approve:
        return True
    with interrupt.blocking():  # a signal at the prompt acts at once: input() would swallow it
        return _confirm()


def _try_load_for_settings(args: argparse.Namespace) -> Config | None:
    """A saved plan needs registry settings (TLS, credentials env) if a config is at hand."""
    if not os.path.exists(args.file):
        return None
    return _load(args)


def _confirm() -> bool:
    if not sys.stdin.isatty():
        print(
            "Error: confirmation needed but standard input is not a terminal; "
            "re-run with --auto-approve",
            file=sys.stderr,
        )
        return False
    # The question goes to stderr: stdout may be reserved for `--json`.
    print(
        "\nDo you want to perform these actions? Only 'yes' will be accepted: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    answer = sys.stdin.readline()
    if answer.strip() != "yes":
        print("Apply cancelled.", file=sys.stderr)
        return False
    return True
