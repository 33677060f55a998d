"""References and platforms parsed once per load, however often the config repeats them.

A for_each template expanding into 10,000 lists repeats the same repository, the same few
platform strings and, in every image, the same repository with another tag; parsing each
anew was a third of the builder's time. One :class:`ParseCache` belongs to one load (the
builder makes its own unless it is given one), so nothing outlives it.

Only successes are kept: text that fails is parsed again by the plain function, so every
message is the one :func:`~mplat.values.reference.parse_reference` or
:meth:`~mplat.values.platform.Platform.parse` gives.
"""

from __future__ import annotations

from mplat.values.platform import Platform
from mplat.values.reference import Reference, ReferenceError, parse_reference

__all__ = ["ParseCache", "PlatformKey"]

PlatformKey = tuple[str, str, str, str, tuple[str, ...]]
"""What :meth:`Platform.key` returns: a platform's identity for duplicate detection."""


class ParseCache:
    """Parsed values of one load, by the text (or platform) they were made from."""

    def __init__(self) -> None:
        self._references: dict[str, Reference] = {}
        self._platforms: dict[str, Platform] = {}
        self._keys: dict[Platform, PlatformKey] = {}

    def reference(self, text: str) -> Reference:
        """``parse_reference(text)``, raising the same ReferenceError when it fails."""
        found = self._references.get(text)
        if found is None:
            found = self._tagged(text) or parse_reference(text)
            self._references[text] = found
        return found

    def _tagged(self, text: str) -> Reference | None:
        """``name:tag`` as the cached ``name`` with the tag; None unless that is certain.

        The last ``:`` with no ``/`` after it and no ``@`` anywhere separates the tag exactly
        where parse_reference would (it takes the first ``:`` after the registry, and a name
        that parses alone has none there). Anything unusual is left to parse_reference.
        """
        if "@" in text:
            return None
        name, colon, tag = text.rpartition(":")
        if not colon or not name or "/" in tag:
            return None
        try:
            base = self.reference(name)
            if base.tag is not None or base.digest is not None:
                return None
            return base.with_tag(tag)
        except ReferenceError:
            return None

    def platform(self, text: str) -> Platform:
        """``Platform.parse(text)``, raising the same PlatformError when it fails."""
        found = self._platforms.get(text)
        if found is None:
            found = Platform.parse(text)
            self._platforms[text] = found
        return found

    def platform_key(self, platform: Platform) -> PlatformKey:
        """``platform.key()``, worked out once per distinct platform."""
        found = self._keys.get(platform)
        if found is None:
            found = platform.key()
            self._keys[platform] = found
        return found
