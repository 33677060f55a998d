"""mplat.values.digest: computing sha256 digests whole or in pieces, and telling forms apart."""

from __future__ import annotations

import hashlib

from mplat.values.digest import (
    Sha256,
    is_descriptor_digest,
    is_digest,
    names_sha256,
    sha256_digest,
)

HEX = hashlib.sha256(b"abc").hexdigest()


def test_streamed_digest_equals_the_whole_one() -> None:
    hasher = Sha256()
    assert hasher.digest() == sha256_digest(b"")
    for piece in (b"a", b"", b"bc"):
        hasher.update(piece)
    assert hasher.digest() == sha256_digest(b"abc") == f"sha256:{HEX}"
    assert is_digest(hasher.digest())


def test_forms_are_told_apart() -> None:
    assert is_digest(f"sha256:{HEX}")
    for bad in (f"sha256:{HEX.upper()}", f"sha256:{HEX[:-1]}", f"sha512:{HEX}", HEX, ""):
        assert not is_digest(bad), bad
    # A malformed sha256 claim still names sha256: it must then match exactly (and cannot).
    assert names_sha256("sha256:nonsense") and not names_sha256(f"sha512:{HEX}")
    assert is_descriptor_digest(f"sha512:{HEX}{HEX}") and not is_descriptor_digest("sha256:ab")
    assert not is_descriptor_digest(5)
