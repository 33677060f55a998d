"""Stage 4 for ``registries:``: per-host settings, keyed exactly as references name hosts."""

from __future__ import annotations

import os
from typing import cast

from mplat.config.checks import Checks
from mplat.config.model import RegistrySettings
from mplat.config.origins import JSONPath
from mplat.values.reference import Reference, ReferenceError
from mplat.values.text import json_quoted

__all__ = ["RegistryRules"]


class RegistryRules(Checks):
    """The rules of ``registries.<host>`` that the schema cannot state."""

    def _registries(self, value: object) -> dict[str, RegistrySettings] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            return None
        out: dict[str, RegistrySettings] = {}
        ok = True
        for host, raw in value.items():
            path: JSONPath = ("registries", host)
            if not self._intact(path) or not isinstance(raw, dict):
                ok = False
                continue
            problem = _registry_problem(host)
            if problem is not None:
                self._problem(path, problem, at_key=True, prefix=("registries",))
                ok = False
                continue
            if not self._clean(path):
                ok = False  # the schema has said what is wrong with these settings
                continue
            out[host] = self._settings(path, raw)
        return out if ok else None

    def _settings(self, path: JSONPath, raw: dict[str, object]) -> RegistrySettings:
        """Settings the schema accepted: their types and ranges are the schema's to check."""
        ca_file = cast("str | None", raw.get("ca_file"))
        if ca_file is not None:
            # Relative to the file it is written in, so `mplat -c dir/mplat.yaml` works from
            # anywhere.
            written_in = self.origins.value((*path, "ca_file")).file
            ca_file = os.path.join(os.path.dirname(written_in), os.path.expanduser(ca_file))
        return RegistrySettings(
            insecure=cast(bool, raw.get("insecure", False)),
            ca_file=ca_file,
            username_env=cast("str | None", raw.get("username_env")),
            password_env=cast("str | None", raw.get("password_env")),
            parallelism=cast("int | None", raw.get("parallelism")),
            http2=cast(bool, raw.get("http2", False)),
        )


def _registry_problem(host: str) -> str | None:
    """Keys must equal what Reference.registry produces, or settings silently never apply."""
    try:
        Reference(registry=host, repository="mplat/probe")
    except ReferenceError as exc:
        reason = str(exc).partition(": ")[2] or str(exc)
        return f"{json_quoted(host)} is not a registry host[:port]: {reason}"
    return None
