"""Which declared tags a repository does not have, from its tag list: one request where a
first apply would HEAD every tag only to hear 404 a thousand times.

Only absence is taken from the list, and only for tags to be present. A listed tag is
still HEADed for its digest, and a list that lags behind the registry (some serve it from
an index updated after the push) cannot make mplat overwrite anything: apply HEADs each
tag again right before it writes and refuses one that changed since the plan, naming both
digests (such a plan shows a create where the tag is in fact updated; planning again once
the list has caught up shows the update). Tags of ``state: absent`` are always HEADed: a
lagging list would make one look deleted already, and nothing after the plan would notice.

The list is read only for repositories with many tags in the plan, and given up (every tag
HEADed, as without it) past a page budget in proportion to them, so ten declared tags never
pay for a repository's 100,000 CI tags.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from mplat.registry.api import Registries
from mplat.values.reference import Reference

MIN_TAGS = 8
"""Tags of one repository in the plan before its list is read: below, HEADs cost as little."""
TAGS_PER_PAGE = 100
"""The page budget: one page of the list for each this many tags in the plan (and one more),
so the listing never costs more than a small share of the HEADs it may save."""


class TagCensus:
    """Tag lists of the repositories a plan has many tags in, each read at most once."""

    def __init__(self, registries: Registries, tags: Iterable[tuple[Reference, str]]) -> None:
        """``tags``: every (repository, tag) the plan will look at."""
        self._registries = registries
        counts = Counter(repository for repository, _ in set(tags))
        self._pages = {repo: 1 + n // TAGS_PER_PAGE for repo, n in counts.items() if n >= MIN_TAGS}
        self._lists: dict[Reference, asyncio.Task[frozenset[str] | None]] = {}

    async def tags(self, repository: Reference) -> frozenset[str] | None:
        """Every tag ``repository`` has, or None when its tags are to be asked one by one
        (few in the plan, more than the budget, or a registry that would not list them)."""
        pages = self._pages.get(repository)
        if pages is None:
            return None
        task = self._lists.get(repository)
        if task is None:
            client = self._registries.client(repository.registry)
            task = asyncio.ensure_future(client.tags_within(repository.repository, pages))
            self._lists[repository] = task
        # Shielded: a list whose plan fails and is cancelled must not cancel it for the rest.
        return await asyncio.shield(task)

    async def absent(self, repository: Reference, tag: str) -> bool:
        """Whether the list proves ``tag`` absent (False also when there is no list)."""
        listed = await self.tags(repository)
        return listed is not None and tag not in listed

    async def aclose(self) -> None:
        """Stop the listings still running (every plan that wanted them is over), so none
        is left pending when the run's loop closes."""
        for task in self._lists.values():
            task.cancel()
        await asyncio.gather(*self._lists.values(), return_exceptions=True)
