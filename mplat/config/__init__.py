"""Configuration: the YAML file that declares the desired multi-platform tags."""

from mplat.config.model import (
    Config,
    ConfigError,
    ConfigProblem,
    EntrySpec,
    ListSpec,
    Location,
    RegistrySettings,
)

__all__ = [
    "Config",
    "ConfigError",
    "ConfigProblem",
    "EntrySpec",
    "ListSpec",
    "Location",
    "RegistrySettings",
]
