"""From configuration and registry to a plan.

The registry is the state: for every declared tag the planner asks the registry what is
there (one HEAD; where a repository has many tags in the plan, its tag list first rules out
the absent ones, see :mod:`mplat.engine.census`), resolves the sources (one request per
source tag; content by digest comes from the cache), renders the desired list locally and
compares. Bodies are read only when the digests differ. All reads for all lists run
concurrently, bounded per registry.
A listener, when given, hears ``PlanStarted`` and then ``ListPlanned`` as each list is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import functools
import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Literal

from mplat.config.model import EntrySpec, ListSpec
from mplat.engine.census import TagCensus
from mplat.engine.concurrency import run_bounded
from mplat.engine.lock import lock_notices
from mplat.engine.sources import Child, SourceError, SourceResolver, is_missing
from mplat.plan.compare import compare, owner_annotations, ownership
from mplat.plan.events import Listener, ListPlanned, PlanStarted, ignore
from mplat.plan.lock import Lock
from mplat.plan.model import (
    BlobCopy,
    Change,
    ChildCopy,
    Desired,
    DiffItem,
    Entry,
    ImageView,
    ListView,
    Live,
    Plan,
    PlanError,
)
from mplat.registry.api import ManifestInfo, Registries, Registry
from mplat.registry.errors import RegistryError
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import ImageManifest, Index, render_index
from mplat.values.reference import Reference


@dataclass(frozen=True, slots=True)
class Target:
    """One ``--target`` tag: planning is limited to the tags named so."""

    repository: Reference  # no tag, no digest: equal to the ListSpec's repository
    tag: str

    @classmethod
    def of(cls, reference: Reference) -> Target:
        """The target a tagged reference names (``registry/repository:tag``)."""
        if reference.tag is None:
            raise ValueError(f"a target needs a tag: {reference}")
        return cls(Reference(reference.registry, reference.repository), reference.tag)

    @property
    def address(self) -> str:
        return f"{self.repository.name}:{self.tag}"


# Tags other tools own: OCI referrers fallback tags and cosign signatures/attestations/SBOMs.
_REFERRER_TAG = re.compile(r"^sha256-[0-9a-f]{64}(\.[a-z]+)?$")


@dataclass(frozen=True)
class PlanOptions:
    targets: Collection[Target] | None = None  # --target: only these tags
    # Lists planned at once. Requests are bounded per registry anyway; this bounds memory:
    # 10,000 lists must not become 10,000 suspended coroutines holding their partial state.
    lists_in_flight: int = 64
    lock: Lock | None = None  # sources resolve to these pins (None: follow the tags)


_Job = Callable[[], Awaitable[tuple[list[Change], list[PlanError]]]]


async def build_plan(
    lists: Collection[ListSpec],
    registries: Registries,
    options: PlanOptions | None = None,
    events: Listener = ignore,
) -> Plan:
    options = options or PlanOptions()
    resolver = SourceResolver(registries, options.lock)
    if options.lock is not None:
        for note in lock_notices(lists, options.lock):
            registries.notices.add(note)
    declared: dict[str, set[str]] = {}
    for spec in lists:
        declared.setdefault(spec.repository.name, set()).update(spec.tags)
    prunes = {spec.repository.name: spec for spec in lists if spec.prune}
    # Only for tags to be present: a list that lags behind would make an absent-state tag
    # look deleted already, and nothing after the plan would notice.
    census = TagCensus(
        registries,
        [
            (spec.repository, t)
            for spec in lists
            if spec.state == "present"
            for t in _selected_tags(spec, options)
        ],
    )
    jobs: list[_Job] = [
        functools.partial(_plan_list, spec, registries, resolver, census, options) for spec in lists
    ]
    jobs += [
        functools.partial(_plan_prune, spec, declared[name], registries, options)
        for name, spec in prunes.items()
    ]
    events(PlanStarted(len(jobs)))
    try:
        results = await run_bounded([_reported(j, events) for j in jobs], options.lists_in_flight)
    finally:
        await census.aclose()
    changes: list[Change] = []
    errors: list[PlanError] = []
    for ch, err in results:
        changes.extend(ch)
        errors.extend(err)
    return Plan(
        changes=tuple(changes),
        errors=tuple(errors),
        notices=tuple(registries.notices.messages),
        rate_limits=dict(registries.notices.rate_limits),
        requests=dict(registries.notices.requests),
    )


def _reported(job: _Job, events: Listener) -> _Job:
    """``job``, telling ``events`` what it planned as soon as it is done."""

    async def run() -> tuple[list[Change], list[PlanError]]:
        changes, errors = await job()
        events(ListPlanned(tuple(changes), tuple(errors)))
        return changes, errors

    return run


def unmatched_targets(lists: Collection[ListSpec], targets: Collection[Target]) -> list[str]:
    """One message per --target that selects nothing: a typo must not read as "No changes".

    A target matches a declared tag, or any tag of a repository with ``prune: true`` (its
    undeclared tags are prune candidates, which only planning can tell apart).
    """
    declared = {Target(spec.repository, t) for spec in lists for t in spec.tags}
    pruned = {spec.repository for spec in lists if spec.prune}
    addresses = sorted(t.address for t in declared)
    problems = []
    for target in sorted(targets, key=lambda t: (t.repository.name, t.tag)):
        if target in declared or target.repository in pruned:
            continue
        address = target.address
        close = difflib.get_close_matches(address, addresses, n=3)
        hint = f"; did you mean: {', '.join(close)}" if close else ""
        problems.append(f"no declared tag matches --target {address}{hint}")
    return problems


def _selected_tags(spec: ListSpec, options: PlanOptions) -> list[str]:
    if options.targets is None:
        return list(spec.tags)
    return [t for t in spec.tags if Target(spec.repository, t) in options.targets]


async def _plan_list(
    spec: ListSpec,
    registries: Registries,
    resolver: SourceResolver,
    census: TagCensus,
    options: PlanOptions,
) -> tuple[list[Change], list[PlanError]]:
    tags = _selected_tags(spec, options)
    if not tags:
        return [], []
    target = spec.repository
    client = registries.client(target.registry)

    async def head(tag: str) -> ManifestInfo | None:
        if spec.state == "present" and await census.absent(target, tag):
            return None
        return await client.head_manifest(target.repository, tag)

    heads = [asyncio.ensure_future(head(t)) for t in tags]
    try:
        if spec.state == "absent":
            infos = await asyncio.gather(*heads)
            return await _plan_absent(spec, client, tags, infos), []
        desired = await render_desired(spec, registries, resolver)
        infos = await asyncio.gather(*heads)
        lives = await asyncio.gather(*(_live_view(client, target, i, desired) for i in infos))
    except (SourceError, RegistryError) as exc:
        for h in heads:
            h.cancel()
        await asyncio.gather(*heads, return_exceptions=True)
        where = exc.location if isinstance(exc, SourceError) and exc.location else spec.location
        cause = exc.cause if isinstance(exc, SourceError) and exc.cause else str(exc)
        return [], [PlanError(f"{where}: {exc}", target, tuple(tags), cause, str(where))]
    changes = [
        compare(desired, tag, live, children_missing=bool(desired.children))
        for tag, live in zip(tags, lives, strict=True)
    ]
    return changes, []


async def _plan_prune(
    spec: ListSpec, declared: set[str], registries: Registries, options: PlanOptions
) -> tuple[list[Change], list[PlanError]]:
    """Tags of the repository that mplat wrote and that no entry declares any more.

    Ownership is proven by mplat's marker in the live index naming this very tag; anything
    else (lists pushed by others, copies of mplat's lists to other tags, single images,
    sources, signatures) is never a prune candidate.
    """
    target = spec.repository
    client = registries.client(target.registry)
    try:
        tags = [t for t in await client.list_tags(target.repository) if t not in declared]
        if options.targets is not None:
            tags = [t for t in tags if Target(target, t) in options.targets]
        tags = [t for t in tags if not _REFERRER_TAG.match(t)]
        infos = await asyncio.gather(*(client.head_manifest(target.repository, t) for t in tags))
        candidates = [
            (t, i) for t, i in zip(tags, infos, strict=True) if i and i.media_type == mt.OCI_INDEX
        ]
        lives = await asyncio.gather(*(_live_view(client, target, i, None) for _, i in candidates))
    except RegistryError as exc:
        cause = f"prune: {exc}"
        return [], [PlanError(f"{spec.location}: {cause}", target, (), cause, str(spec.location))]
    owned = [ownership(v, target, t) for (t, _), v in zip(candidates, lives, strict=True)]
    old = sorted(t for (t, _), o in zip(candidates, owned, strict=True) if o == "old")
    if old:
        registries.notices.add(
            f"{target.name}: not pruned: {', '.join(old)} (marked by an older mplat, whose "
            "marker does not say which tags it wrote, so a copy by another tool looks the "
            "same); declare them with `state: absent` to delete them"
        )
    changes = [
        Change(
            repository=target,
            tag=t,
            action="delete",
            before=live,
            after=None,
            live_digest=info.digest,
            diff=(DiffItem("note", "no longer declared; written by mplat (prune: true)"),),
            prevent_destroy=spec.prevent_destroy,
        )
        for (t, info), live, o in zip(candidates, lives, owned, strict=True)
        if o == "owned"
    ]
    return changes, []


async def _plan_absent(
    spec: ListSpec, client: Registry, tags: list[str], infos: list[ManifestInfo | None]
) -> list[Change]:
    changes = []
    for tag, info in zip(tags, infos, strict=True):
        live = await _live_view(client, spec.repository, info, None)
        changes.append(
            Change(
                repository=spec.repository,
                tag=tag,
                action="delete" if live is not None else "no-op",
                before=live,
                after=None,
                live_digest=info.digest if info else None,
                prevent_destroy=spec.prevent_destroy,
            )
        )
    return changes


async def _live_view(
    client: Registry, target: Reference, info: ManifestInfo | None, desired: Desired | None
) -> Live | None:
    """What a tag holds. Bodies are fetched only when the digest alone cannot decide."""
    if info is None:
        return None
    if desired is not None and info.digest == desired.digest:
        return desired.view()
    if info.media_type not in mt.INDEX_TYPES:
        return ImageView(info.media_type, info.digest)
    fetched = await client.get_manifest(target.repository, info.digest)
    if not isinstance(fetched.manifest, Index):
        return ImageView(fetched.media_type, fetched.digest)
    return ListView.of(fetched.manifest, fetched.digest)


async def render_desired(
    spec: ListSpec, registries: Registries, resolver: SourceResolver
) -> Desired:
    """Resolve every entry of a list and render the exact bytes it must have."""

    skipped: list[str] = []

    async def one(entry_index: int) -> tuple[list[Child], tuple[str, ...], str | None]:
        entry = spec.manifests[entry_index]
        try:
            resolved = await resolver.resolve(entry)
        except SourceError as exc:
            if entry.optional and (exc.missing or exc.unlocked):
                why = "is not in the lock" if exc.unlocked else "is missing"
                return _skipped(entry, str(exc), skipped, why)
            raise SourceError(str(exc), exc.location or entry.location) from None
        except RegistryError as exc:
            if entry.optional and is_missing(exc):
                return _skipped(entry, str(exc), skipped)
            raise SourceError(f"source {entry.image}: {exc}", entry.location, str(exc)) from None
        return list(resolved.children), resolved.warnings, resolved.resolved_digest

    results = await asyncio.gather(*(one(i) for i in range(len(spec.manifests))))
    platform_children: list[Child] = []
    attestations: list[Child] = []
    warnings: list[str] = []
    sources: dict[str, str] = {}
    declared: list[str] = []  # the image: each platform child's entry declares
    declared_attestations: list[str] = []
    for entry, (children, warns, digest) in zip(spec.manifests, results, strict=True):
        if digest is not None:
            sources[str(entry.image)] = digest
        warnings.extend(warns)
        for c in children:
            (attestations if c.attestation else platform_children).append(c)
            (declared_attestations if c.attestation else declared).append(str(entry.image))
    if not platform_children and skipped:
        raise SourceError(
            f"every entry of the list was skipped ({'; '.join(skipped)}); "
            "a list needs at least one entry"
        )
    _check_duplicates(platform_children)
    _check_required(spec, platform_children, skipped)
    children = platform_children + attestations
    media_type = mt.FORMATS[spec.format]
    if spec.format == "docker":
        for c in children:
            if c.descriptor.media_type != mt.DOCKER_MANIFEST:
                raise SourceError(
                    f"format docker needs Docker image manifests, but {c.source} is "
                    f"{c.descriptor.media_type}; use format: oci"
                )
            if c.attestation:
                raise SourceError("attestation entries need format: oci")
    if spec.format == "oci":
        descriptors = [c.descriptor for c in children]
        annotations = {**spec.annotations, **owner_annotations(spec.owners, spec.tags)}
    else:
        # A Docker list has no annotations, urls or artifactType, and render_index leaves
        # them out; the entries compared and shown must be exactly the rendered ones, or the
        # list docker itself writes would never be in sync.
        descriptors = [
            dataclasses.replace(c.descriptor, annotations={}, urls=(), artifact_type=None)
            for c in children
        ]
        annotations = {}
    body = render_index(media_type, descriptors, annotations)
    copies = await _missing_children(spec.repository, children, registries, resolver)
    return Desired(
        repository=spec.repository,
        media_type=media_type,
        body=body,
        digest=sha256_digest(body),
        entries=tuple(Entry.of(d) for d in descriptors),
        annotations=annotations,
        sources=sources,
        entry_sources=(*declared, *declared_attestations),  # parallel to ``children``
        children=tuple(copies),
        warnings=tuple(warnings),
        prevent_destroy=spec.prevent_destroy,
    )


def _skipped(
    entry: EntrySpec, reason: str, skipped: list[str], why: str = "is missing"
) -> tuple[list[Child], tuple[str, ...], None]:
    """An optional entry whose source is missing (or unlocked): no children, and a warning."""
    skipped.append(f"{entry.image} {why}")
    return [], (f"{entry.location}: optional entry skipped: {reason}",), None


def _check_required(spec: ListSpec, children: list[Child], skipped: list[str]) -> None:
    """``require_platforms``: refuse a list that would publish without one of them."""
    have = [c.descriptor.platform for c in children if c.descriptor.platform is not None]
    missing = [r for r in spec.require_platforms if not any(r.matches(p) for p in have)]
    if not missing:
        return
    why = f"; skipped: {'; '.join(skipped)}" if skipped else ""
    raise SourceError(
        f"require_platforms: the list would lack {', '.join(str(m) for m in missing)} "
        f"(it has {', '.join(str(p) for p in have) or 'no platform'}){why}",
        spec.require_location or spec.location,
    )


def _check_duplicates(children: list[Child]) -> None:
    seen: dict[object, Child] = {}
    for c in children:
        p = c.descriptor.platform
        if p is None:
            continue
        first = seen.setdefault(p.key(), c)
        if first is not c:
            raise SourceError(
                f"duplicate platform {p}: {first.source} and {c.source} "
                "(platforms are compared after normalisation, e.g. arm64/v8 = arm64)"
            )


async def _missing_children(
    target: Reference, children: list[Child], registries: Registries, resolver: SourceResolver
) -> list[ChildCopy]:
    """Children the target repository lacks, with the blobs each one needs.

    A registry accepts a list only when every child is in the list's own repository, and
    cleanup jobs delete "untagged" children; both are found here, before apply.
    """
    client = registries.client(target.registry)

    async def check(c: Child) -> ChildCopy | None:
        same_repo = (c.source.registry, c.source.repository) == (
            target.registry,
            target.repository,
        )
        if same_repo and c.seen_live:
            return None
        digest = c.descriptor.digest
        if await client.head_manifest(target.repository, digest) is not None:
            return None
        if same_repo:
            raise SourceError(
                f"child {digest} is missing from {target.name} and no other repository "
                "is declared as its source"
            )
        src_client = registries.client(c.source.registry)
        fetched = await src_client.get_manifest(c.source.repository, digest)
        blobs: list[BlobCopy] = []
        if isinstance(fetched.manifest, ImageManifest):
            how: Literal["mount", "copy"] = (
                "mount" if c.source.registry == target.registry else "copy"
            )
            for b in fetched.manifest.blobs():
                if b.urls:
                    continue  # Foreign (non-distributable) layers stay where their urls say.
                if await client.blob_size(target.repository, b.digest) is None:
                    blobs.append(BlobCopy(b.digest, b.size, how))
        return ChildCopy(
            digest=digest,
            media_type=fetched.media_type,
            size=fetched.size,
            source=Reference(c.source.registry, c.source.repository),
            blobs=tuple(blobs),
        )

    found = await asyncio.gather(*(check(c) for c in children))
    return [c for c in found if c is not None]
