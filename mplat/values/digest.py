"""Content digests: computing them over exact bytes, and recognising their written forms.

Digests are always computed over the bytes received or sent, never over re-serialised JSON:
any byte of difference is a different manifest. mplat computes and requires sha256 only, but a
descriptor written by another tool may name any algorithm, so both forms are told apart here.
"""

from __future__ import annotations

import hashlib
import re

SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
"""The only digest form mplat computes, accepts for its own references, and writes."""
GENERIC_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
"""The image-spec grammar for any algorithm (descriptor.md, "Digests")."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: str) -> bool:
    """A sha256 digest in canonical form (lowercase hex, 64 characters)."""
    return bool(SHA256_RE.fullmatch(value))


def is_descriptor_digest(value: object) -> bool:
    """A digest a descriptor may carry: any algorithm's form, and sha256 ones exactly."""
    if not isinstance(value, str) or not GENERIC_RE.fullmatch(value):
        return False
    return not value.startswith("sha256:") or bool(SHA256_RE.fullmatch(value))
