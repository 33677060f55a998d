"""Removing a tag without removing anything else.

Registries disagree: OCI 1.1 registries delete a tag with DELETE by tag; distribution 2.8
refuses that (400 DIGEST_INVALID) and only deletes by digest, which removes every tag that
points at the digest. So mplat tries, in order: DELETE by tag; DELETE by digest when the
content is a list that no other tag shares; otherwise the untag trick (move the tag to a
tiny unique manifest of mplat's own, then delete that one by digest). Child manifests and
single-platform images are never deleted by digest: other lists may depend on them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterable

from mplat.plan.model import Change, ListView
from mplat.plan.outcome import Outcome
from mplat.registry.api import Registries, Registry
from mplat.registry.errors import RegistryError
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import render_placeholder

EMPTY_BLOB = b"{}"
EMPTY_DIGEST = sha256_digest(EMPTY_BLOB)
ALREADY_ABSENT = "already absent"
"""How a deletion went when the tag was gone before mplat got to it."""

_REFUSAL_HINT = (
    "this registry does not allow deleting through the registry API; delete the tag in the "
    "registry's own UI or API (Docker Hub: hub.docker.com; GHCR: GitHub Packages), "
    "or remove `state: absent` from the configuration"
)


def by_repository(changes: Iterable[Change]) -> list[list[Change]]:
    """Deletions grouped per repository, in plan order: within one repository they must run
    one at a time, because each one reads the other tags (is the digest shared?)."""
    groups: dict[str, list[Change]] = {}
    for c in changes:
        groups.setdefault(c.repository.name, []).append(c)
    return list(groups.values())


async def delete_change(
    registries: Registries, c: Change, progress: Callable[[str], None]
) -> Outcome:
    """Delete one planned tag and say how it went; a refusal is a failed outcome, not a raise.

    Stopping and bookkeeping belong to the caller (the applier), which collects the outcomes.
    """
    registry, path = c.repository.registry, c.repository.repository
    client = registries.client(registry)
    try:
        how = await delete_tag(client, path, c)
    except RegistryError as exc:
        message = str(exc)
        if exc.status == 405 or exc.has_code("UNSUPPORTED", "DENIED"):
            message += f"\n  {_REFUSAL_HINT}"
        progress(f"{c.address}: delete failed")
        return Outcome(c.address, "delete", False, message)
    progress(f"{c.address}: deleted ({how})")
    return Outcome(c.address, "delete", True, f"deleted ({how})", unchanged=how == ALREADY_ABSENT)


async def delete_tag(client: Registry, path: str, c: Change) -> str:
    """Delete one tag; returns how it was done. Raises RegistryError on refusal."""
    info = await client.head_manifest(path, c.tag)
    if info is None:
        return ALREADY_ABSENT
    if info.digest != c.live_digest:
        raise RegistryError(
            client.registry,
            path,
            f"tag {c.tag} changed since plan (now {info.digest}); not deleted — run plan again",
        )
    try:
        await client.delete_manifest(path, c.tag)
        return "by tag"
    except RegistryError as exc:
        # 2.8 answers DIGEST_INVALID; others 400/405/UNSUPPORTED for tag deletion. A refusal
        # of deletion as a whole shows up again below, with the registry's own words.
        if exc.status not in (400, 404, 405) and not exc.has_code("UNSUPPORTED"):
            raise
    is_list = isinstance(c.before, ListView) and info.media_type in mt.INDEX_TYPES
    if is_list and not await _shared(client, path, c.tag, info.digest):
        await client.delete_manifest(path, info.digest)
        return "by digest"
    await _untag(client, path, c.tag, info.digest)
    return "untagged"


async def _shared(client: Registry, path: str, tag: str, digest: str) -> bool:
    """Whether another tag of the repository points at the same digest."""
    others = [t for t in await client.list_tags(path) if t != tag]
    sem = asyncio.Semaphore(8)

    async def same(t: str) -> bool:
        async with sem:
            info = await client.head_manifest(path, t)
        return info is not None and info.digest == digest

    return any(await asyncio.gather(*(same(t) for t in others)))


async def _untag(client: Registry, path: str, tag: str, digest: str) -> None:
    """Point the tag at a unique throw-away manifest, then delete that manifest by digest.

    If the registry then refuses the deletion, the tag is put back on its original bytes
    (same bytes, same digest), so a refusal never leaves the tag on mplat's placeholder.
    """
    original = await client.get_manifest(path, digest)
    if await client.blob_size(path, EMPTY_DIGEST) is None:

        async def body() -> AsyncIterator[bytes]:
            yield EMPTY_BLOB

        await client.upload_blob(path, EMPTY_DIGEST, len(EMPTY_BLOB), body)
    data = render_placeholder(EMPTY_DIGEST, len(EMPTY_BLOB), secrets.token_hex(16))
    placeholder = await client.put_manifest(path, tag, data, mt.OCI_MANIFEST)
    try:
        await client.delete_manifest(path, placeholder)
    except RegistryError:
        await client.put_manifest(path, tag, original.data, original.media_type)
        raise
