"""Declared lists and engine runs for the engine's unit tests, against the memory registry."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

from mplat.config.model import EntrySpec, Format, ListSpec, Location, State
from mplat.engine.apply import Applier
from mplat.engine.planner import PlanOptions, Target, build_plan
from mplat.plan.lock import Lock
from mplat.plan.model import Change, Plan
from mplat.plan.outcome import ApplyResult
from mplat.values.platform import Platform
from mplat.values.reference import parse_reference, parse_repository
from tests.support.memregistry import MemoryRegistries

HOST = "registry.test"
OTHER = "other.test"
REPO = "acme/app"  # the repository path (on HOST) the engine tests write to
NAME = f"{HOST}/{REPO}"
HERE = Location("mplat.yaml", 3, 5)


def entry(
    image: str,
    platform: str | None = None,
    platforms: tuple[str, ...] | None = None,
    attestations: bool = False,
    line: int = 7,
    optional: bool = False,
) -> EntrySpec:
    return EntrySpec(
        parse_reference(image),
        Location("mplat.yaml", line, 9),
        platform=Platform.parse(platform) if platform else None,
        platforms=tuple(Platform.parse(p) for p in platforms) if platforms is not None else None,
        attestations=attestations,
        optional=optional,
    )


def listspec(
    repository: str,
    tags: Collection[str],
    *images: str | EntrySpec,
    format: Format = "oci",
    state: State = "present",
    prune: bool = False,
    prevent_destroy: bool = False,
    annotations: Mapping[str, str] | None = None,
    location: Location = HERE,
    require_platforms: Collection[str] = (),
) -> ListSpec:
    return ListSpec(
        repository=parse_repository(repository),
        tags=tuple(tags),
        format=format,
        location=location,
        manifests=tuple(entry(i) if isinstance(i, str) else i for i in images),
        annotations=dict(annotations or {}),
        state=state,
        prune=prune,
        prevent_destroy=prevent_destroy,
        require_platforms=tuple(Platform.parse(p) for p in require_platforms),
        require_location=Location("mplat.yaml", 5, 24) if require_platforms else None,
    )


def target(address: str) -> Target:
    """A ``--target`` value, as the CLI builds it from ``registry/repository:tag``."""
    return Target.of(parse_reference(address))


def plan(
    registries: MemoryRegistries,
    *lists: ListSpec,
    targets: Collection[Target] | None = None,
    lock: Lock | None = None,
) -> Plan:
    return asyncio.run(build_plan(lists, registries, PlanOptions(targets=targets, lock=lock)))


def apply(registries: MemoryRegistries, plan: Plan, **options: Any) -> ApplyResult:
    async def run() -> ApplyResult:
        return await Applier(registries, **options).apply(plan)

    return asyncio.run(run())


def by_address(plan: Plan) -> dict[str, Change]:
    return {c.address: c for c in plan.changes}


def actions(plan: Plan) -> dict[str, str]:
    return {c.address: c.action for c in plan.changes}
