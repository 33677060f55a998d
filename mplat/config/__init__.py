"""Configuration: the YAML file that declares the desired multi-platform tags.

``loader.load_configs`` runs the stages, each a module: ``read`` (the files), ``yamlnodes``
(YAML -> an ``origins.Document``: data plus where each value was written), ``merge``
(several files -> one Document), ``template`` (variables and for_each), ``schema``
(shapes, types, spellings) and ``build`` (the rules of meaning -> ``model.Config``).
Importing this package loads only the model; the loader's parsers load when it is used.
"""

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
