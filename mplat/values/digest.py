"""Content digests: computing them over exact bytes, and recognising their written forms.

Digests are always computed over the bytes received or sent, never over re-serialised JSON:
any byte of difference is a different manifest. mplat computes and requires sha256 only, but a
descriptor written by another tool may name any algorithm, so both forms are told apart here.
"""

from __future__ import annotations

import hashlib
import re

SHA256_PREFIX = "sha256:"
SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
"""The only digest form mplat computes, accepts for its own references, and writes."""
GENERIC_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
"""The image-spec grammar for any algorithm (descriptor.md, "Digests")."""


def sha256_digest(data: bytes) -> str:
    return SHA256_PREFIX + hashlib.sha256(data).hexdigest()


class Sha256:
    """A sha256 digest computed piece by piece, for content too large to hold (blobs)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> str:
        """The digest of everything so far, in the form :func:`sha256_digest` writes."""
        return SHA256_PREFIX + self._hash.hexdigest()


def names_sha256(value: str) -> bool:
    """Written as a sha256 digest, well formed or not: content asked for or claimed by such a
    digest must hash to it exactly, so a malformed one fails the check instead of skipping it."""
    return value.startswith(SHA256_PREFIX)


def is_digest(value: str) -> bool:
    """A sha256 digest in canonical form (lowercase hex, 64 characters)."""
    return bool(SHA256_RE.fullmatch(value))


def is_descriptor_digest(value: object) -> bool:
    """A digest a descriptor may carry: any algorithm's form, and sha256 ones exactly."""
    if not isinstance(value, str) or not GENERIC_RE.fullmatch(value):
        return False
    return not names_sha256(value) or bool(SHA256_RE.fullmatch(value))
