"""The distribution-spec client; ``api`` is what the rest of mplat may depend on.

The layers inside, from the engine's view down: ``pool`` (a client per registry) ->
``operations`` (manifests, blobs, tags) -> ``session`` (the one request pipeline: scheme
probe, retry, auth, send) -> ``lean`` (HTTP/1.1 on asyncio streams). Beside them: ``auth``,
``retry``, ``observe``, ``tls``, ``bodies``, ``credentials`` (with ``credhelpers`` and
``secrets``), ``cache`` and ``errors``. See docs/architecture.md.
"""
