"""Old import path of :class:`RegistryClient` and :class:`RegistryPool`, kept only while
mplat/engine/ still imports it; the engine is moving to :mod:`mplat.registry.api`, after
which this module goes. New code imports :mod:`mplat.registry.operations` and
:mod:`mplat.registry.pool`.
"""

from mplat.registry.operations import RegistryClient
from mplat.registry.pool import ConnectionSettings, RegistryPool

__all__ = ["ConnectionSettings", "RegistryClient", "RegistryPool"]
