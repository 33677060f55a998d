"""Lock files are untrusted input too: mutated and arbitrary ones load as a valid Lock or are
refused with a readable message naming the file, quickly (the mutators of test_fuzz.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mplat.plan.lock import Lock, LockError, Pin, encode
from mplat.plan.lockfile import read_lock, write_lock
from mplat.values import mediatypes as mt
from mplat.values.reference import parse_reference, validate_digest
from tests.fuzz.test_fuzz import (
    DIGEST,
    DIGEST_B,
    PER_CALL_SECONDS,
    _byte_ops,
    _struct_ops,
    _tree,
    fuzz_settings,
    mutate_bytes,
    mutate_tree,
    render_json,
)

SEED = Lock(
    {
        "localhost:5000/acme/app:amd64": Pin(DIGEST, mt.DOCKER_MANIFEST, 423),
        "docker.io/library/alpine:3": Pin(DIGEST_B, mt.OCI_INDEX, 9000),
    }
)


@pytest.fixture(scope="module")
def lock_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-locks")


@pytest.fixture(scope="module")
def seed(lock_dir: Path) -> bytes:
    path = lock_dir / "seed.lock"
    write_lock(path, SEED)
    assert read_lock(path) == Lock(dict(sorted(SEED.pins.items())), str(path))
    return encode(SEED).encode()


_mutation = st.one_of(
    st.tuples(st.just("bytes"), _byte_ops),
    st.tuples(st.just("tree"), _struct_ops),
    st.tuples(st.just("arbitrary"), st.binary(max_size=300)),
    st.tuples(st.just("deep"), st.sampled_from([1, 5000, 100_000])),
)


def assert_readable_lines(message: str, path: Path) -> None:
    """One line, or a heading and indented lines; each printable; the file is named."""
    lines = message.split("\n")
    assert str(path) in lines[0]
    assert all(line and line.isprintable() for line in lines), repr(message)
    assert all(line.startswith("  ") for line in lines[1:]), repr(message)
    assert "Traceback" not in message and " object at 0x" not in message


@fuzz_settings(1000)
@given(mutation=_mutation)
def test_read_lock_returns_a_valid_lock_or_refuses(
    lock_dir: Path, seed: bytes, mutation: tuple[str, Any]
) -> None:
    kind, how = mutation
    if kind == "bytes":
        data = mutate_bytes(seed, how)
    elif kind == "tree":
        data = render_json(mutate_tree(_tree(json.loads(seed)), how)).encode()
    elif kind == "arbitrary":
        data = how
    else:
        data = b'{"format": "mplat-lock", "version": 1, "sources": ' + b"[" * how + b"]" * how
    path = lock_dir / "manifests.lock"
    path.write_bytes(data)
    started = time.process_time()
    try:
        lock = read_lock(path)
    except LockError as exc:
        assert_readable_lines(str(exc), path)
        return
    finally:
        assert time.process_time() - started < PER_CALL_SECONDS
    assert lock is not None
    for source, pin in lock.pins.items():  # what plan would use is well-formed throughout
        ref = parse_reference(source)
        assert str(ref) == source and ref.tag is not None and ref.digest is None
        assert validate_digest(pin.digest) == pin.digest
        assert pin.media_type in mt.MANIFEST_TYPES
        assert type(pin.size) is int and 0 < pin.size <= 4 * 1024 * 1024
