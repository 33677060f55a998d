"""The one place concrete things are put together: registry pool, credentials, cache, signals,
and the Applier that writes through the pool and listens to the stop events.

The engine sees only the small interface of ``mplat.registry.api``; which client, which
credential store, which cache directory and which notice stream stand behind it is decided
here, from the config and the command line. The network stack is imported inside the
functions, so importing this module stays cheap.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mplat.plan.events import Listener, ignore

if TYPE_CHECKING:
    from mplat.cli.interrupt import Interrupt
    from mplat.config.model import Config
    from mplat.engine.apply import Applier
    from mplat.registry.api import Registries
    from mplat.registry.pool import RegistryPool


def run(main: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine; only commands that talk to registries pay for the loop.

    SIGINT/SIGTERM stop it as ``mplat.cli.interrupt`` describes (exit 130/143).
    """
    from mplat.cli import interrupt

    return interrupt.run(main)


def registry_pool(config: Config | None, args: argparse.Namespace) -> RegistryPool:
    """The pool every registry request goes through, set up from the config and the flags."""
    from mplat.registry.api import DEFAULT_PARALLELISM, Notices
    from mplat.registry.credentials import CredentialResolver
    from mplat.registry.errors import RegistryError
    from mplat.registry.pool import ConnectionSettings, RegistryPool
    from mplat.registry.retry import RetryPolicy
    from mplat.registry.secrets import Credential, CredentialError

    def settings(registry: str) -> ConnectionSettings:
        if config is None:  # a saved plan applied without a config file at hand
            return ConnectionSettings()
        s = config.settings_for(registry)
        return ConnectionSettings(s.insecure, s.ca_file, s.parallelism, s.http2)

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
    from mplat.registry.taghints import FILE_NAME, TagHints

    notices = Notices(emit=lambda m: print(f"note: {m}", file=sys.stderr))
    cache = None
    hints = None
    if not args.no_cache:
        root = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        if root is None:
            notices.add(
                "running without a cache: no home directory (HOME is unset or not absolute); "
                "set MPLAT_CACHE_DIR or pass --cache-dir"
            )
        else:
            cache = DiskCache(root)
            hints = TagHints(root / FILE_NAME)
    return RegistryPool(
        settings_for=settings,
        credential_for=credential,
        notices=notices,
        cache=cache,
        hints=hints,
        parallelism=args.parallelism or DEFAULT_PARALLELISM,
        fit_parallelism=args.parallelism is None,
        retry=RetryPolicy(attempts=args.retries),
        timeout=args.timeout,
    )


def applier(pool: Registries, intr: Interrupt, events: Listener = ignore) -> Applier:
    """The Applier for this run: progress lines on stderr, stopping as ``intr`` is signalled,
    its events to ``events``."""
    from mplat.engine.apply import Applier

    return Applier(
        pool,
        progress=lambda m: print(f"  {m}", file=sys.stderr),
        stop=intr.stop,
        abort=intr.abort,
        hard=lambda: intr.hard,
        events=events,
    )
