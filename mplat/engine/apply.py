"""Making the registry match a plan.

Order is what keeps every tag pullable at every moment, even if mplat is killed midway:
blobs, then child manifests (by digest), then the list on its first tag, then its other
tags. A tag is only ever moved to a list whose children are already in place.

Two reports go out as it works: ``progress``, lines for people, and ``events``, typed values
(``plan.events``) for whoever renders them (the ``--json-stream`` lines, a progress bar):
``ApplyStarted`` before a change's first write, ``ApplyEnded`` once its outcome is known.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from mplat.engine.concurrency import Once, run_bounded
from mplat.engine.delete import by_repository, delete_change
from mplat.plan.events import ApplyEnded, ApplyStarted, Listener, ignore
from mplat.plan.model import BlobCopy, Change, ChildCopy, Plan
from mplat.plan.outcome import ApplyResult, MovedTag, Outcome, SplitList, StalePlanError
from mplat.registry.api import Registries
from mplat.registry.errors import RegistryError
from mplat.values.reference import Reference

Progress = Callable[[str], None]


class _Stopped(Exception):
    """A stop was requested before this write started."""


class Applier:
    """Carries one apply: the registries, progress reporting and de-duplication of shared work.

    ``stop`` set: no new write starts (a list whose first tag moved still gets its other
    tags, so its tags agree). ``abort`` set: writes in flight are cancelled and reported.
    """

    def __init__(
        self,
        registries: Registries,
        progress: Progress | None = None,
        groups: int = 32,
        stop: asyncio.Event | None = None,
        abort: asyncio.Event | None = None,
        hard: Callable[[], bool] = lambda: False,
        verify_seconds: float = 5.0,
        events: Listener = ignore,
    ) -> None:
        self.registries = registries
        self.progress = progress or (lambda _msg: None)
        self.events = events
        self._once: Once[tuple[object, ...], None] = Once()  # shared children and blobs
        # (registry, blob digest) -> the repository of that registry it was streamed into.
        self._landed: Once[tuple[str, str], str] = Once()
        self.groups_in_flight = groups
        self.stop = stop or asyncio.Event()
        self.abort = abort or asyncio.Event()
        self.hard = hard  # the stop was a second signal: no checking, stop now
        self.verify_seconds = verify_seconds
        self._in_flight: dict[str, Change] = {}  # tag writes or deletes under way

    def _check(self) -> None:
        if self.stop.is_set():
            raise _Stopped

    def _record(self, result: ApplyResult, outcome: Outcome) -> None:
        """Keep a change's outcome, and tell the listener at once."""
        result.outcomes.append(outcome)
        self.events(ApplyEnded(outcome))

    async def check_stale(self, plan: Plan) -> None:
        """Refuse the whole plan if any tag it covers moved since planning."""

        async def now(c: Change) -> tuple[Change, str | None]:
            return c, await self._now(c)

        seen = await asyncio.gather(*(now(c) for c in plan.changes))
        moved = [MovedTag(c.address, c.live_digest, d) for c, d in seen if d != c.live_digest]
        if moved:
            raise StalePlanError(moved)

    async def apply(self, plan: Plan) -> ApplyResult:
        result = ApplyResult()
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in plan.changes:
            if c.action in ("create", "update", "repair") and c.desired is not None:
                groups.setdefault((c.repository.name, c.desired.digest), []).append(c)
        deletes = [c for c in plan.changes if c.action == "delete"]
        work = asyncio.ensure_future(self._run(list(groups.values()), deletes, result))
        aborted = asyncio.ensure_future(self.abort.wait())
        try:
            await asyncio.wait({work, aborted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            aborted.cancel()
            if not work.done():
                work.cancel()
                await asyncio.gather(
                    work, *self._once.cancel(), *self._landed.cancel(), return_exceptions=True
                )
        if not work.cancelled():
            work.result()  # a bug in the work surfaces here, as it would without the wrapper
        if self.stop.is_set():
            await self._account(plan, list(groups.values()), result)
        return result

    async def _run(
        self, groups: list[list[Change]], deletes: list[Change], result: ApplyResult
    ) -> None:
        await run_bounded(
            [functools.partial(self._apply_group, g, result) for g in groups],
            self.groups_in_flight,
        )
        if deletes:
            await self._delete(deletes, result)

    async def _delete(self, deletes: list[Change], result: ApplyResult) -> None:
        """Deletions, one repository at a time each; once ``stop`` is set none starts.

        Each outcome is collected as soon as it is known, so a hard stop that cancels this
        still reports the deletions already done; ``_in_flight`` tells which were cut off.
        """

        async def serially(items: list[Change]) -> None:
            for c in items:
                if self.stop.is_set():
                    self._record(
                        result,
                        Outcome(c.address, "delete", False, "not deleted (stopped first)", True),
                    )
                    continue
                self._in_flight[c.address] = c
                self.events(ApplyStarted(c))
                self._record(result, await delete_change(self.registries, c, self.progress))

        await asyncio.gather(*(serially(items) for items in by_repository(deletes)))

    async def _account(self, plan: Plan, groups: list[list[Change]], result: ApplyResult) -> None:
        """After a stop: every change gets an outcome, and lists whose tags disagree are named.

        A write cut off by the hard stop may have landed; unless the stop was a second
        signal, one HEAD per such tag (bounded) tells which, so no write goes unreported.
        """
        result.interrupted = True
        accounted = len(result.outcomes)
        seen = {o.address for o in result.outcomes}
        cut = [c for c in plan.changes if c.address in self._in_flight and c.address not in seen]
        landed: dict[str, str | None] = {}
        if cut and not self.hard():
            landed = await self._verify(cut)
        for c in plan.changes:
            if c.address in seen or c.action == "no-op":
                continue
            if c.address in self._in_flight:
                now = landed.get(c.address, "?")
                if c.action != "delete" and c.desired is not None and now == c.desired.digest:
                    result.outcomes.append(
                        Outcome(c.address, c.action, True, f"written {now} (as the stop came)")
                    )
                elif c.action == "delete" and now is None:
                    result.outcomes.append(Outcome(c.address, "delete", True, "deleted"))
                elif now == c.live_digest:
                    result.outcomes.append(
                        Outcome(c.address, c.action, False, "not written (stopped)", True)
                    )
                else:
                    result.outcomes.append(
                        Outcome(
                            c.address,
                            c.action,
                            False,
                            "cut off by the stop; run plan to see where it points",
                            unknown=True,
                        )
                    )
            else:
                result.outcomes.append(
                    Outcome(c.address, c.action, False, "not written (stopped first)", True)
                )
        for o in result.outcomes[accounted:]:
            self.events(ApplyEnded(o))
        by_address = {o.address: o for o in result.outcomes}
        for g in groups:
            assert g[0].desired is not None
            maybe = [f"{c.address} (maybe)" for c in g if by_address[c.address].unknown]
            on = [c.address for c in g if by_address[c.address].ok] + maybe
            off = [c.address for c in g if not (o := by_address[c.address]).ok and not o.unknown]
            if (on and off) or (maybe and len(g) > 1):
                reference = f"{g[0].repository}@{g[0].desired.digest}"
                result.split.append(SplitList(reference, tuple(on), tuple(off)))

    async def _now(self, c: Change) -> str | None:
        """Where the change's tag points right now (one HEAD); None: the tag is absent."""
        info = await self.registries.client(c.repository.registry).head_manifest(
            c.repository.repository, c.tag
        )
        return info.digest if info else None

    async def _verify(self, changes: list[Change]) -> dict[str, str | None]:
        async def now(c: Change) -> tuple[str, str | None]:
            return c.address, await self._now(c)

        found: dict[str, str | None] = {}
        tasks = [asyncio.ensure_future(now(c)) for c in changes]
        done, pending = await asyncio.wait(tasks, timeout=self.verify_seconds)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for t in done:
            if not t.cancelled() and t.exception() is None:
                address, digest = t.result()
                found[address] = digest
        return found

    async def _apply_group(self, changes: list[Change], result: ApplyResult) -> None:
        first = changes[0]
        assert first.desired is not None
        try:
            self._check()
            for c in changes:
                self.events(ApplyStarted(c))
            await asyncio.gather(
                *(self._bring_child(first.repository, copy) for copy in first.children)
            )
            self._check()  # nothing of this list is tagged yet: stopping here splits nothing
        except _Stopped:
            for c in changes:
                self._record(
                    result, Outcome(c.address, c.action, False, "not written (stopped first)", True)
                )
            return
        except RegistryError as exc:
            for c in changes:
                self._record(
                    result, Outcome(c.address, c.action, False, f"copying children failed: {exc}")
                )
            return
        # Once a tag of this list moved, its other tags follow even after a stop: they are
        # one HEAD and one PUT each, and tags of one list must agree.
        moved = False
        for c in changes:
            outcome = await self._write_tag(c, stoppable=not moved)
            moved = moved or (outcome.ok and c.action != "repair")
            self._record(result, outcome)

    async def _write_tag(self, c: Change, stoppable: bool = True) -> Outcome:
        assert c.desired is not None
        if c.action == "repair":
            self.progress(f"{c.address}: children restored")
            return Outcome(c.address, c.action, True, "children restored")
        client = self.registries.client(c.repository.registry)
        path = c.repository.repository
        try:
            # Re-check right before writing: another writer may have won, or it may already
            # hold the desired list (immutable-tag registries refuse identical re-pushes).
            info = await client.head_manifest(path, c.tag)
            current = info.digest if info else None
            if current == c.desired.digest:
                self.progress(f"{c.address}: already up to date")
                return Outcome(c.address, c.action, True, "already up to date", unchanged=True)
            if current != c.live_digest:
                return Outcome(
                    c.address,
                    c.action,
                    False,
                    f"changed since plan (was {c.live_digest or 'absent'}, now "
                    f"{current or 'absent'}); not overwritten — run plan again",
                )
            if stoppable and self.stop.is_set():
                return Outcome(c.address, c.action, False, "not written (stopped first)", True)
            self._in_flight[c.address] = c
            digest = await client.put_manifest(path, c.tag, c.desired.body, c.desired.media_type)
        except RegistryError as exc:
            self.progress(f"{c.address}: failed")
            return Outcome(c.address, c.action, False, str(exc))
        verb = "created" if c.action == "create" else "updated"
        self.progress(f"{c.address}: {verb} {digest}")
        return Outcome(c.address, c.action, True, f"{verb} {digest}")

    def _bring_child(self, target: Reference, copy: ChildCopy) -> Awaitable[None]:
        return self._once(("manifest", target, copy.digest), lambda: self._copy_child(target, copy))

    async def _copy_child(self, target: Reference, copy: ChildCopy) -> None:
        """Bring one child manifest (and the blobs it lacks) into ``target`` (no tag)."""
        client = self.registries.client(target.registry)
        if await client.head_manifest(target.repository, copy.digest) is not None:
            return
        await asyncio.gather(
            *(
                self._once(
                    ("blob", target, b.digest),
                    functools.partial(self._copy_blob, target, copy.source, b),
                )
                for b in copy.blobs
            )
        )
        source = self.registries.client(copy.source.registry)
        fetched = await source.get_manifest(copy.source.repository, copy.digest)
        self._check()
        await client.put_manifest(target.repository, copy.digest, fetched.data, fetched.media_type)
        self.progress(f"{target.name}: copied child {copy.digest} from {copy.source}")

    async def _copy_blob(self, target: Reference, source: Reference, blob: BlobCopy) -> None:
        """Mount ``blob`` from ``source`` into ``target`` (same registry), else stream it.

        Across registries a blob crosses the network once per target registry: the first
        repository there to need it streams it, the others mount it from that one.
        """
        client = self.registries.client(target.registry)
        path, digest = target.repository, blob.digest
        if await client.blob_size(path, digest) is not None:
            return
        self._check()
        if blob.how == "mount":
            if not await client.mount_blob(path, digest, source.repository):
                await self._stream(target, source, blob)
            return
        holder = await self._landed(
            (target.registry, digest), lambda: self._stream(target, source, blob)
        )
        if holder == path:
            return
        self._check()
        if not await client.mount_blob(path, digest, holder):
            await self._stream(target, source, blob)

    async def _stream(self, target: Reference, source: Reference, blob: BlobCopy) -> str:
        """Upload ``blob`` into ``target`` from ``source``'s registry; the repository it is in."""
        client = self.registries.client(target.registry)
        origin = self.registries.client(source.registry)
        self._check()
        await client.upload_blob(
            target.repository,
            blob.digest,
            blob.size,
            lambda: origin.stream_blob(source.repository, blob.digest),
        )
        return target.repository
