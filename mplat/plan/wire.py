"""JSON shapes of plan values that both wire formats carry, written in one place.

The ``plan --json`` document (plan.json_codec) and the saved plan file (plan.file_codec)
describe entries, lists, copies and diff lines identically; each codec versions its own
document, so a change here changes both and needs both versions considered.
"""

from __future__ import annotations

from typing import Any

from mplat.plan.model import Change, ChildCopy, Entry, ImageView, ListView, Live, PlanError
from mplat.plan.wording import diff_line


def entry_json(e: Entry) -> dict[str, Any]:
    """An entry as a descriptor: optional fields are written only when present."""
    out: dict[str, Any] = {"mediaType": e.media_type, "digest": e.digest, "size": e.size}
    if e.platform is not None:
        out["platform"] = dict(e.platform)
    if e.annotations:
        out["annotations"] = dict(e.annotations)
    if e.artifact_type is not None:
        out["artifactType"] = e.artifact_type
    return out


def live_json(view: Live | None) -> dict[str, Any] | None:
    """A tag's content: ``"kind": "list"`` with its entries, or ``"kind": "image"``."""
    if view is None:
        return None
    if isinstance(view, ImageView):
        return {"kind": "image", "mediaType": view.media_type, "digest": view.digest}
    return list_json(view)


def list_json(view: ListView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "list",
        "mediaType": view.media_type,
        "digest": view.digest,
        "manifests": [entry_json(e) for e in view.entries],
    }
    if view.annotations:
        out["annotations"] = dict(view.annotations)
    if view.artifact_type is not None:
        out["artifactType"] = view.artifact_type
    if view.subject is not None:
        out["subject"] = entry_json(view.subject)
    return out


def child_json(cp: ChildCopy) -> dict[str, Any]:
    return {
        "digest": cp.digest,
        "mediaType": cp.media_type,
        "size": cp.size,
        "source": cp.source.name,
        "blobs": [{"digest": b.digest, "size": b.size, "how": b.how} for b in cp.blobs],
    }


def error_json(e: PlanError) -> dict[str, Any]:
    out: dict[str, Any] = {
        "repository": e.repository.name if e.repository is not None else None,
        "tags": list(e.tags),
        "message": e.message,
    }
    if e.cause:
        out["cause"] = e.cause
    return out


def diff_json(c: Change) -> list[str]:
    return [diff_line(item) for item in c.diff]
