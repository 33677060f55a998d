"""Value types with no I/O: references, platforms, media types, manifests, digests, safe text.

This package imports nothing else of mplat, so every other layer can depend on it.
"""
