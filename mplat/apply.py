"""Making the registry match a plan.

Order is what keeps every tag pullable at every moment, even if mplat is killed midway:
blobs, then child manifests (by digest), then the list on its first tag, then its other
tags. A tag is only ever moved to a list whose children are already in place.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mplat.concurrency import Once, run_bounded
from mplat.plan import Change, ChildCopy, Plan
from mplat.registry.client import RegistryPool
from mplat.registry.errors import RegistryError

Progress = Callable[[str], None]


class StalePlanError(Exception):
    """The registry moved since the plan was made; applying it would overwrite unseen work."""

    def __init__(self, moved: list[tuple[str, str | None, str | None]]) -> None:
        self.moved = moved
        lines = [
            f"  {addr}: planned at {was or 'absent'}, now {now or 'absent'}"
            for addr, was, now in moved
        ]
        super().__init__(
            "the saved plan is stale: these tags changed since it was made; nothing was "
            "written. Run plan again.\n" + "\n".join(lines)
        )


@dataclass(frozen=True)
class Outcome:
    address: str
    action: str
    ok: bool
    message: str


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


def _split(repository: str) -> tuple[str, str]:
    registry, _, path = repository.partition("/")
    return registry, path


class Applier:
    """Carries one apply: the pool, progress reporting and de-duplication of shared work."""

    def __init__(
        self, pool: RegistryPool, progress: Progress | None = None, groups: int = 32
    ) -> None:
        self.pool = pool
        self.progress = progress or (lambda _msg: None)
        self._once: Once[tuple[str, ...], None] = Once()  # shared children and blobs
        self.groups_in_flight = groups

    async def check_stale(self, plan: Plan) -> None:
        """Refuse the whole plan if any tag it covers moved since planning."""

        async def now(c: Change) -> tuple[Change, str | None]:
            registry, path = _split(c.repository)
            info = await self.pool.client(registry).head_manifest(path, c.tag)
            return c, info.digest if info else None

        seen = await asyncio.gather(*(now(c) for c in plan.changes))
        moved = [(c.address, c.live_digest, d) for c, d in seen if d != c.live_digest]
        if moved:
            raise StalePlanError(moved)

    async def apply(self, plan: Plan) -> ApplyResult:
        result = ApplyResult()
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in plan.changes:
            if c.action in ("create", "update", "repair") and c.desired is not None:
                groups.setdefault((c.repository, c.desired.digest), []).append(c)
        deletes = [c for c in plan.changes if c.action == "delete"]
        await run_bounded(
            [functools.partial(self._apply_group, g, result) for g in groups.values()],
            self.groups_in_flight,
        )
        if deletes:
            from mplat.delete import delete_tags

            await delete_tags(self.pool, deletes, result, self.progress)
        return result

    async def _apply_group(self, changes: list[Change], result: ApplyResult) -> None:
        first = changes[0]
        assert first.desired is not None
        registry, path = _split(first.repository)
        try:
            await asyncio.gather(
                *(self._bring_child(registry, path, copy) for copy in first.children)
            )
        except RegistryError as exc:
            for c in changes:
                result.outcomes.append(
                    Outcome(c.address, c.action, False, f"copying children failed: {exc}")
                )
            return
        for c in changes:
            result.outcomes.append(await self._write_tag(registry, path, c))

    async def _write_tag(self, registry: str, path: str, c: Change) -> Outcome:
        assert c.desired is not None
        if c.action == "repair":
            self.progress(f"{c.address}: children restored")
            return Outcome(c.address, c.action, True, "children restored")
        client = self.pool.client(registry)
        try:
            # Re-check right before writing: another writer may have won, or it may already
            # hold the desired list (immutable-tag registries refuse identical re-pushes).
            info = await client.head_manifest(path, c.tag)
            current = info.digest if info else None
            if current == c.desired.digest:
                self.progress(f"{c.address}: already up to date")
                return Outcome(c.address, c.action, True, "already up to date")
            if current != c.live_digest:
                return Outcome(
                    c.address,
                    c.action,
                    False,
                    f"changed since plan (was {c.live_digest or 'absent'}, now "
                    f"{current or 'absent'}); not overwritten — run plan again",
                )
            digest = await client.put_manifest(path, c.tag, c.desired.body, c.desired.media_type)
        except RegistryError as exc:
            self.progress(f"{c.address}: failed")
            return Outcome(c.address, c.action, False, str(exc))
        verb = "created" if c.action == "create" else "updated"
        self.progress(f"{c.address}: {verb} {digest}")
        return Outcome(c.address, c.action, True, f"{verb} {digest}")

    def _bring_child(self, registry: str, path: str, copy: ChildCopy) -> Awaitable[None]:
        return self._once(
            ("manifest", registry, path, copy.digest),
            lambda: self._copy_child(registry, path, copy),
        )

    async def _copy_child(self, registry: str, path: str, copy: ChildCopy) -> None:
        target = self.pool.client(registry)
        if await target.head_manifest(path, copy.digest) is not None:
            return
        src_registry, src_path = _split(copy.source)
        source = self.pool.client(src_registry)
        await asyncio.gather(
            *(
                self._once(
                    ("blob", registry, path, b.digest),
                    functools.partial(
                        self._copy_blob,
                        registry,
                        path,
                        src_registry,
                        src_path,
                        b.digest,
                        b.size,
                        b.how,
                    ),
                )
                for b in copy.blobs
            )
        )
        fetched = await source.get_manifest(src_path, copy.digest)
        await target.put_manifest(path, copy.digest, fetched.data, fetched.media_type)
        self.progress(f"{registry}/{path}: copied child {copy.digest} from {copy.source}")

    async def _copy_blob(
        self,
        registry: str,
        path: str,
        src_registry: str,
        src_path: str,
        digest: str,
        size: int,
        how: str,
    ) -> None:
        target = self.pool.client(registry)
        if await target.blob_size(path, digest) is not None:
            return
        if how == "mount" and await target.mount_blob(path, digest, src_path):
            return
        source = self.pool.client(src_registry)
        await target.upload_blob(path, digest, size, lambda: source.stream_blob(src_path, digest))
