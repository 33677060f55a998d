"""The distribution-spec client; ``api`` is what the rest of mplat may depend on.

The layers inside, from the engine's view down: ``pool`` (a client per registry) ->
``operations`` (manifests, blobs, tags) -> ``session`` (the one request pipeline: scheme
probe, retry, auth, send) -> ``lean`` (HTTP/1.1 on asyncio streams). Beside them: ``auth``,
``retry``, ``observe``, ``tls``, ``bodies``, ``credentials`` (with ``credhelpers`` and
``secrets``), ``cache`` and ``errors``. See docs/architecture.md.
"""

import sys

# httpx imports its own command-line tool (click, pygments, rich) at ``import httpx``
# whenever those happen to be installed: 50-80 ms at every start, for a tool mplat never
# runs, and rich loaded even when no progress bar is shown. Marking the module absent makes
# httpx fall back to its stub, as it does where they are not installed.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
