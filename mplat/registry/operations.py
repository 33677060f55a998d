"""Registry operations in the vocabulary of the distribution spec: :class:`RegistryClient`
implements :class:`mplat.registry.api.Registry` over one :class:`~mplat.registry.session.Session`.

Every read is verified: manifests and blobs must hash to the digest that was asked for and
to the ``Docker-Content-Digest`` the registry claims, manifests must fit in 4 MiB, and a
body's ``mediaType`` must agree with the ``Content-Type``. A registry's word is never
enough on its own.

Retries here are of whole transfers (a body that broke off after its headers, an upload
that failed midway); they run through the same loop and policy as every request
(:mod:`mplat.registry.retry`), bounded by attempts only (see ``RetryPolicy.unbudgeted``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable

import httpx

from mplat.registry.api import ContentCache, FetchedManifest, ManifestInfo
from mplat.registry.bodies import read_capped, read_limited
from mplat.registry.errors import (
    BodyBrokenError,
    ContentError,
    ErrorDetail,
    NotFoundError,
    RegistryError,
    parse_error_body,
)
from mplat.registry.retry import Again, Retrying, RetryPolicy, Verdict, retryable_status
from mplat.registry.session import Params, Session
from mplat.registry.taghints import TagHints
from mplat.values import mediatypes as mt
from mplat.values.digest import Sha256, names_sha256, sha256_digest
from mplat.values.manifest import MAX_MANIFEST_BYTES, ManifestError, parse_manifest
from mplat.values.text import shown

_Read = tuple[httpx.Response, bytes | None]
"""A manifest GET's answer and its body (None when too large to be a manifest)."""

BLOB_CHUNK = 256 * 1024
"""Blobs stream through in pieces this size: several copies at once stay a few MB."""


_STATUS_CODES = {
    401: "UNAUTHORIZED",
    403: "DENIED",
    404: "NOT_FOUND",
    405: "UNSUPPORTED",
    429: "TOOMANYREQUESTS",
}


def _error(resp: httpx.Response, registry: str, repository: str | None, what: str) -> RegistryError:
    errors = parse_error_body(resp.content) if not resp.is_stream_consumed or resp.content else ()
    if not errors and resp.status_code in _STATUS_CODES:
        # HEAD answers carry no body; name the condition the status stands for.
        errors = (ErrorDetail(_STATUS_CODES[resp.status_code], "(from the HTTP status)"),)
    cls = NotFoundError if resp.status_code == 404 else RegistryError
    return cls(
        registry,
        repository,
        what,
        status=resp.status_code,
        errors=errors,
        retryable=retryable_status(resp.status_code),
    )


class RegistryClient:
    """One registry. Create through :class:`RegistryPool` so settings and credentials apply."""

    def __init__(
        self,
        session: Session,
        cache: ContentCache | None = None,
        hints: TagHints | None = None,
    ) -> None:
        self.session = session
        self.registry = session.registry
        self.cache = cache
        self.hints = hints if cache is not None else None

    def probably_cached(self, repository: str, tag: str) -> bool:
        if self.cache is None or self.hints is None:
            return False
        seen = self.hints.get(self._hint_key(repository, tag))
        return seen is not None and self.cache.has(seen)

    def _hint_key(self, repository: str, tag: str) -> str:
        return f"{self.registry}/{repository}:{tag}"

    def _seen(self, repository: str, ref: str, digest: str) -> None:
        """Remember what a tag held, for the next run's :meth:`probably_cached`."""
        if self.hints is not None and not names_sha256(ref):
            self.hints.put(self._hint_key(repository, ref), digest)

    async def aclose(self) -> None:
        await self.session.aclose()

    def _transfers(self) -> RetryPolicy:
        """The policy for retrying a whole transfer: attempts bound it, not the time budget."""
        return self.session.retry.unbudgeted()

    # -- manifests ----------------------------------------------------------------------

    async def head_manifest(self, repository: str, ref: str) -> ManifestInfo | None:
        """Digest, type and size of a tag or digest; None when it does not exist."""
        resp = await self.session.request(
            "HEAD",
            f"/v2/{repository}/manifests/{ref}",
            repository=repository,
            headers={"Accept": mt.MANIFEST_ACCEPT},
        )
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise _error(resp, self.registry, repository, f"HEAD manifest {ref} failed")
        digest = resp.headers.get("docker-content-digest")
        media_type = mt.base_type(resp.headers.get("content-type"))
        length = resp.headers.get("content-length")
        if not digest or not length or not length.isdigit() or media_type not in mt.MANIFEST_TYPES:
            # Older registries omit the header: read the body and hash it ourselves.
            fetched = await self.get_manifest(repository, ref)
            return ManifestInfo(fetched.digest, fetched.media_type, fetched.size)
        if names_sha256(ref) and digest != ref:
            raise ContentError(
                self.registry, repository, f"HEAD {ref} answered with digest {shown(digest)}"
            )
        self._seen(repository, ref, digest)
        return ManifestInfo(digest, media_type, int(length))

    async def get_manifest(self, repository: str, ref: str) -> FetchedManifest:
        """Fetch, verify and parse a manifest. Raises NotFoundError when absent."""
        by_digest = names_sha256(ref)
        if by_digest and self.cache is not None:
            cached = self.cache.get(ref)
            if cached is not None:
                return self._parse(repository, ref, cached, None)

        async def attempt(_: int) -> _Read | Again[_Read]:
            resp = await self.session.request(
                "GET",
                f"/v2/{repository}/manifests/{ref}",
                repository=repository,
                headers={"Accept": mt.MANIFEST_ACCEPT},
                stream=True,
            )
            try:
                if resp.status_code != 200:
                    await read_capped(resp, deadline=self.session.timeout)
                    raise _error(resp, self.registry, repository, f"manifest {ref} not readable")
                return resp, await read_limited(
                    resp, MAX_MANIFEST_BYTES, deadline=self.session.timeout
                )
            except httpx.TransportError as exc:
                # The headers arrived but the body broke off: a GET is safe to repeat.
                kind = exc.__class__.__name__
                broken = BodyBrokenError(
                    self.registry, repository, f"manifest {ref}: body broke off ({kind})"
                )
                return Again(kind, error=broken)
            finally:
                await resp.aclose()

        async def before_retry(outcome: Again[_Read], delay: float) -> Verdict:
            self.session.notices.add(
                f"{self.registry}: manifest body broke off ({outcome.reason}), retrying"
            )
            return Verdict.RETRY

        resp, data = await Retrying[_Read](self._transfers()).run(attempt, before_retry)
        if data is None:
            raise ContentError(
                self.registry,
                repository,
                f"manifest {ref} is larger than {MAX_MANIFEST_BYTES} bytes",
            )
        digest = sha256_digest(data)
        claimed = resp.headers.get("docker-content-digest")
        if claimed and names_sha256(claimed) and claimed != digest:
            raise ContentError(
                self.registry,
                repository,
                f"manifest {ref}: registry claims digest {shown(claimed)} but the bytes hash to"
                f" {digest}",
            )
        if by_digest and digest != ref:
            raise ContentError(
                self.registry,
                repository,
                f"manifest {ref}: the bytes received hash to {digest}",
            )
        fetched = self._parse(repository, ref, data, resp.headers.get("content-type"))
        if self.cache is not None:
            self.cache.put(digest, data)
        self._seen(repository, ref, digest)
        return fetched

    def _parse(
        self, repository: str, ref: str, data: bytes, content_type: str | None
    ) -> FetchedManifest:
        try:
            manifest = parse_manifest(data, content_type)
        except ManifestError as exc:
            raise ContentError(self.registry, repository, f"manifest {ref}: {exc}") from None
        return FetchedManifest(sha256_digest(data), manifest.media_type, data, manifest)

    async def put_manifest(self, repository: str, ref: str, data: bytes, media_type: str) -> str:
        """PUT exact bytes; returns the digest after checking the registry agrees with it."""
        digest = sha256_digest(data)
        resp = await self.session.request(
            "PUT",
            f"/v2/{repository}/manifests/{ref}",
            repository=repository,
            actions=("pull", "push"),
            headers={"Content-Type": media_type},
            content=data,
        )
        if resp.status_code not in (200, 201, 202):
            raise _error(resp, self.registry, repository, f"PUT manifest {ref} refused")
        claimed = resp.headers.get("docker-content-digest")
        if claimed and names_sha256(claimed) and claimed != digest:
            raise ContentError(
                self.registry,
                repository,
                f"PUT {ref}: registry stored digest {shown(claimed)}, expected {digest}",
            )
        return digest

    async def delete_manifest(self, repository: str, ref: str) -> None:
        """DELETE by tag or digest. Never retried blindly: callers re-check state instead."""
        resp = await self.session.request(
            "DELETE",
            f"/v2/{repository}/manifests/{ref}",
            repository=repository,
            actions=("delete",),
            idempotent=False,
        )
        if resp.status_code not in (200, 202, 204):
            raise _error(resp, self.registry, repository, f"DELETE manifest {ref} refused")

    async def list_tags(self, repository: str, page_size: int = 1000) -> list[str]:
        """All tags, following ``Link`` pagination; [] for a repository that does not exist."""
        try:
            return (await self._read_tags(repository, page_size, None))[0]
        except NotFoundError:
            return []

    async def tags_within(
        self, repository: str, max_pages: int, page_size: int = 1000
    ) -> frozenset[str] | None:
        try:
            tags, complete = await self._read_tags(repository, page_size, max_pages)
        except NotFoundError as exc:
            # Only NAME_UNKNOWN means "no tags": a bare 404 may be a proxy that lists none.
            return frozenset() if exc.has_code("NAME_UNKNOWN") else None
        except RegistryError:
            return None
        return frozenset(tags) if complete else None

    async def _read_tags(
        self, repository: str, page_size: int, max_pages: int | None
    ) -> tuple[list[str], bool]:
        """The tag list, page by page (``Link`` pagination), and whether it is whole: not
        past ``max_pages`` pages, nor with a next page elsewhere. 404: NotFoundError."""
        tags: list[str] = []
        path = f"/v2/{repository}/tags/list"
        params: Params | None = [("n", str(page_size))]
        for _ in range(1 << 62 if max_pages is None else max_pages):
            try:
                resp = await self.session.request("GET", path, repository=repository, params=params)
            except httpx.InvalidURL:
                raise ContentError(self.registry, repository, "tag list: bad next link") from None
            if resp.status_code != 200:
                raise _error(resp, self.registry, repository, "listing tags failed")
            try:
                doc = resp.json()
            except ValueError:
                raise ContentError(self.registry, repository, "tag list is not JSON") from None
            page = doc.get("tags") if isinstance(doc, dict) else None
            if page is not None and not (
                isinstance(page, list) and all(isinstance(t, str) for t in page)
            ):
                raise ContentError(self.registry, repository, "tag list is malformed")
            tags.extend(page or [])
            link = resp.links.get("next", {}).get("url")
            if not link:
                return tags, True
            # An empty page that points on is no end; a page elsewhere (another host, or
            # http:// from an https registry: credentials in clear) is not read.
            if not page or not link.startswith(("/", await self.session.base_url() + "/")):
                return tags, False
            path, params = link, None
        return tags, False

    # -- blobs --------------------------------------------------------------------------

    async def blob_size(self, repository: str, digest: str) -> int | None:
        """Size of a blob in this repository, or None if it is not there."""
        resp = await self.session.request(
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            repository=repository,
            follow_redirects=True,
        )
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise _error(resp, self.registry, repository, f"HEAD blob {digest} failed")
        length = resp.headers.get("content-length", "")
        return int(length) if length.isdigit() else 0

    async def get_blob(self, repository: str, digest: str, max_bytes: int) -> bytes:
        """A small blob (image config) read whole, verified, and cached."""
        if self.cache is not None:
            cached = self.cache.get(digest)
            if cached is not None:
                return cached

        async def attempt(_: int) -> list[bytes] | Again[list[bytes]]:
            try:
                return [c async for c in self.stream_blob(repository, digest, max_bytes=max_bytes)]
            except BodyBrokenError as exc:
                return Again("body broke off", error=exc)

        chunks = await Retrying[list[bytes]](self._transfers()).run(attempt)
        data = b"".join(chunks)
        if self.cache is not None:
            self.cache.put(digest, data)
        return data

    async def stream_blob(
        self, repository: str, digest: str, *, max_bytes: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield a blob's bytes as they arrive; raises at the end if they hash wrong.

        Blobs can be gigabytes, so they are never held whole. Redirects to object storage
        are followed; Authorization is dropped when the origin changes (Session._follow).
        """
        resp = await self.session.request(
            "GET",
            f"/v2/{repository}/blobs/{digest}",
            repository=repository,
            stream=True,
            follow_redirects=True,
        )
        try:
            if resp.status_code != 200:
                await read_capped(resp, deadline=self.session.timeout)
                raise _error(resp, self.registry, repository, f"blob {digest} not readable")
            hasher = Sha256()
            total = 0
            async for chunk in resp.aiter_bytes(BLOB_CHUNK):
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise ContentError(
                        self.registry, repository, f"blob {digest} is larger than {max_bytes} bytes"
                    )
                hasher.update(chunk)
                yield chunk
            got = hasher.digest()
            if got != digest:
                raise ContentError(
                    self.registry, repository, f"blob {digest}: the bytes received hash to {got}"
                )
        except httpx.TransportError as exc:
            raise BodyBrokenError(
                self.registry,
                repository,
                f"blob {digest} download broke off ({exc.__class__.__name__})",
            ) from None
        finally:
            await resp.aclose()

    async def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Cross-repository mount. True if mounted; False if refused (the opened session is
        cancelled, and the caller copies instead)."""
        resp = await self.session.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            repository=repository,
            actions=("pull", "push"),
            extra_scopes=(f"repository:{source_repository}:pull",),
            params=[("mount", digest), ("from", source_repository)],
            headers={"Content-Length": "0"},
        )
        if resp.status_code == 201:
            return True
        if resp.status_code == 202 and resp.headers.get("location"):
            await self._cancel_upload(repository, resp.headers["location"])
        return False

    async def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: Callable[[], AsyncIterable[bytes]],
    ) -> None:
        """Monolithic upload: POST for a session, then one PUT carrying the whole blob.

        A failed attempt (5xx, a dropped connection, a source stream that broke off) is
        retried with a new session and a fresh stream from ``chunks``; before retrying, a HEAD
        tells whether the lost answer was in fact a success.
        """

        async def attempt(_: int) -> Again[None] | None:
            try:
                await self._upload_once(repository, digest, size, chunks)
            except RegistryError as exc:
                if not exc.retryable:
                    raise
                return Again("upload failed", error=exc)
            return None

        async def before_retry(outcome: Again[None], delay: float) -> Verdict:
            if await self.blob_size(repository, digest) is not None:
                return Verdict.DONE  # Only the answer was lost: the blob is there.
            self.session.notices.add(
                f"{self.registry}/{repository}: upload of {digest[:19]} failed, retrying"
            )
            return Verdict.RETRY

        await Retrying[None](self._transfers()).run(attempt, before_retry)

    async def _upload_once(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: Callable[[], AsyncIterable[bytes]],
    ) -> None:
        resp = await self.session.request(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            repository=repository,
            actions=("pull", "push"),
            headers={"Content-Length": "0"},
        )
        location = resp.headers.get("location")
        if resp.status_code not in (201, 202) or not location:
            raise _error(resp, self.registry, repository, "could not start a blob upload")
        if resp.status_code == 201:
            return
        url = await self.session.absolute(location)
        sep = "&" if "?" in url else "?"
        body = chunks()
        try:
            # Start the source stream before the PUT takes its slot: a source on this same
            # registry needs a slot for its GET, and waiting for it inside the PUT deadlocks
            # once every slot is held by an upload waiting for its own source.
            content = await _primed(body)
            put = await self.session.request(
                "PUT",
                f"{url}{sep}digest={digest}",
                repository=repository,
                actions=("pull", "push"),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                content=content,
                idempotent=False,
            )
        except RegistryError:
            await self._cancel_upload(repository, url)
            raise
        finally:
            # A source stream left half-read would hold its connection until garbage
            # collection; close it now so failed attempts cannot exhaust the source's pool.
            close = getattr(body, "aclose", None)
            if close is not None:
                await close()
        if put.status_code not in (201, 204):
            await self._cancel_upload(repository, url)
            raise _error(put, self.registry, repository, f"upload of blob {digest} refused")

    async def _cancel_upload(self, repository: str, location: str) -> None:
        try:
            url = await self.session.absolute(location)
            await self.session.request(
                "DELETE", url, repository=repository, actions=("pull", "push"), idempotent=False
            )
        except RegistryError:
            pass  # Abandoned sessions expire on their own; cancelling is a courtesy.


async def _primed(body: AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    """``body`` with its first chunk already fetched (so its request has been answered)."""
    it = aiter(body)
    try:
        first = await anext(it)
    except StopAsyncIteration:
        first = b""

    async def chained() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in it:
            yield chunk

    return chained()
