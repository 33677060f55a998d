"""How plan values read: short names for media types and the words for a diff item.

One wording, shared: the text plan prints ``diff_text`` after a mark coloured by the
item's kind, and the JSON plan and the plan file carry ``diff_line``, the same words with
the mark as text, exactly as mplat has always written them.
"""

from __future__ import annotations

from mplat.plan.model import DiffItem
from mplat.values import mediatypes as mt

_SHORT_TYPES = {
    mt.OCI_INDEX: "OCI index",
    mt.DOCKER_LIST: "Docker manifest list",
    mt.OCI_MANIFEST: "OCI image",
    mt.DOCKER_MANIFEST: "Docker image",
}
_SIGNS = {"added": "+", "removed": "-", "changed": "~"}


def short_type(media_type: str) -> str:
    """ "OCI index" for the index media type, and so on; unknown types as they are."""
    return _SHORT_TYPES.get(media_type, media_type)


def diff_text(item: DiffItem) -> str:
    """The words for one difference, without its mark."""
    if item.kind == "note":
        return item.label
    value = item.new if item.kind == "added" else item.old
    if item.label:  # an entry of the list
        source = f" (from {item.source})" if item.source else ""
        if not item.field:
            return f"{item.label}: {value}{source}"
        where = ".".join(str(p) for p in item.field)
        if item.kind == "changed":
            return f"{item.label}: {where}: {item.old} -> {item.new}{source}"
        return f"{item.label}: {where} = {value}"
    part = item.field[0] if item.field else ""
    if part == "mediaType":
        return f"media type: {short_type(str(item.old))} -> {short_type(str(item.new))}"
    if part == "manifests":
        return "entry order: " + ", ".join(str(label) for label in _labels(item.new))
    if part == "annotations":
        key = item.field[1]
        if item.kind == "changed":
            return f"annotation {key}: {item.old!r} -> {item.new!r}"
        return f"annotation {key} = {value!r}"
    return f"{part} {value}"  # artifactType, subject


def diff_line(item: DiffItem) -> str:
    """The item as the JSON documents carry it: its mark, then its words.

    Notes and the media type line never had a mark in those documents, so they have none.
    """
    text = diff_text(item)
    if item.kind == "note" or (item.field == ("mediaType",) and not item.label):
        return text
    return f"{_SIGNS[item.kind]} {text}"


def _labels(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, tuple | list) else ()
