"""Saved plans on disk: what was reviewed is exactly what gets applied.

A plan file records, for every tag it covers, the digest the tag had when planned (or its
absence), the resolved source digests and the exact bytes of each list to write; its format
is plan.file_codec. This module is the file edge: atomic writes that never replace a device,
reads capped in size that never block on a pipe. A plan file holds no credentials (nothing in
a Plan value ever does) and never errors: a plan that failed for some lists would apply only
half of what was reviewed, so it is neither saved nor loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from mplat.files import os_reason, read_refusal, read_regular, write_atomic, write_refusal
from mplat.plan import file_codec
from mplat.plan.file_codec import PlanFileError, errors_text
from mplat.plan.model import Plan

__all__ = ["MAX_PLAN_BYTES", "PlanFileError", "check_destination", "load_plan", "save_plan"]

MAX_PLAN_BYTES = 64 * 1024 * 1024
"""Far above any real plan (lists are at most 4 MiB each); stops /dev/zero-like endless reads."""


def check_destination(path: str | os.PathLike[str]) -> None:
    """Refuse a path a plan cannot be written to, before minutes of planning are spent."""
    reason = write_refusal(path)
    if reason is not None:
        raise PlanFileError(f"{Path(path)}: cannot write plan ({reason})")


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write atomically so a half-written plan is never applied; refuse a plan with errors."""
    target = Path(path)
    if plan.errors:
        raise PlanFileError(
            f"the plan has {errors_text(len(plan.errors))}, so it was not saved to {target}: a "
            "saved plan must be complete. Fix them (or leave those lists out with --target) "
            "and plan again"
        )
    data = file_codec.encode(plan).encode("utf-8")
    check_destination(target)
    try:
        write_atomic(target, data, prefix=".mplat-plan-")
    except OSError as exc:
        raise _write_error(target, exc) from None


def _write_error(target: Path, exc: BaseException) -> PlanFileError:
    # Names the path the user gave, never the temporary file the error may be about.
    return PlanFileError(f"{target}: cannot write plan ({os_reason(exc)})")


def load_plan(path: str | os.PathLike[str]) -> Plan:
    p = Path(path)
    raw = _read(p)
    try:
        return file_codec.decode(raw)
    except PlanFileError as exc:
        raise PlanFileError(f"{p}: {exc}") from None


def _read(p: Path) -> bytes:
    try:
        return read_regular(p, MAX_PLAN_BYTES)
    except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
        raise PlanFileError(f"{p}: {read_refusal(exc, 'plan file')}") from None
