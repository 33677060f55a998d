"""Fixtures of the engine's unit tests: an empty in-memory registry world, and its main host."""

from __future__ import annotations

import pytest

from tests.support.engine import HOST
from tests.support.memregistry import MemoryRegistries, MemoryRegistry


@pytest.fixture
def registries() -> MemoryRegistries:
    return MemoryRegistries()


@pytest.fixture
def reg(registries: MemoryRegistries) -> MemoryRegistry:
    return registries.client(HOST)
