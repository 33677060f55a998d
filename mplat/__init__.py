"""mplat: declare multi-platform tags in YAML, plan and apply them against registries."""

__version__ = "0.1.0"
