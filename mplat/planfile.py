"""Saved plans: what was reviewed is exactly what gets applied.

A plan file records, for every tag it covers, the digest the tag had when planned (or its
absence), the resolved source digests and the exact bytes of each list to write. It holds
no credentials: nothing in a Plan value ever does. Format documented in docs/plan-file.md.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mplat import __version__
from mplat.manifest import sha256_digest
from mplat.plan import (
    BlobCopy,
    Change,
    ChildCopy,
    Desired,
    Entry,
    ImageView,
    ListView,
    Live,
    Plan,
    PlanError,
)

FORMAT = "mplat-plan"
VERSION = 1


class PlanFileError(Exception):
    """A plan file that cannot be used; the message says why in one line."""


def dump_plan(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "mplat_version": __version__,
        "changes": [_change(c) for c in plan.changes],
        "errors": [e.to_json() for e in plan.errors],
    }


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write atomically so a half-written plan is never applied."""
    target = Path(path)
    data = json.dumps(dump_plan(plan), indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".mplat-plan-", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_plan(path: str | os.PathLike[str]) -> Plan:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise PlanFileError(f"{p}: is a directory, not a plan file") from None
    except OSError as exc:
        raise PlanFileError(f"{p}: cannot read plan file ({exc.strerror})") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PlanFileError(f"{p}: not a plan file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PlanFileError(f"{p}: not an mplat plan file")
    if doc.get("version") != VERSION:
        raise PlanFileError(
            f"{p}: plan file version {doc.get('version')!r} is not supported (expected {VERSION})"
        )
    try:
        changes = tuple(_load_change(c) for c in doc["changes"])
        errors = tuple(
            PlanError(e["message"], e.get("repository"), tuple(e.get("tags", ())))
            for e in doc.get("errors", [])
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"{p}: malformed plan file ({exc.__class__.__name__}: {exc})") from None
    return Plan(changes=changes, errors=errors)


def _live(v: Live | None) -> dict[str, Any] | None:
    return v.to_json() if v is not None else None


def _load_live(d: Any) -> Live | None:
    if d is None:
        return None
    if d["kind"] == "image":
        return ImageView(d["mediaType"], d["digest"])
    return ListView(
        media_type=d["mediaType"],
        digest=d["digest"],
        entries=tuple(_load_entry(e) for e in d["manifests"]),
        annotations=dict(d.get("annotations", {})),
    )


def _load_entry(e: Any) -> Entry:
    return Entry(
        media_type=str(e["mediaType"]),
        digest=str(e["digest"]),
        size=int(e["size"]),
        platform=e.get("platform"),
        annotations=dict(e.get("annotations", {})),
    )


def _change(c: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "repository": c.repository,
        "tag": c.tag,
        "action": c.action,
        "live_digest": c.live_digest,
        "before": _live(c.before),
        "after": _live(c.after),
        "diff": list(c.diff),
        "warnings": list(c.warnings),
        "prevent_destroy": c.prevent_destroy,
        "desired": None,
    }
    if c.desired is not None:
        d = c.desired
        out["desired"] = {
            "repository": d.repository,
            "media_type": d.media_type,
            "digest": d.digest,
            "body": base64.b64encode(d.body).decode("ascii"),
            "sources": dict(d.sources),
            "children": [cp.to_json() for cp in d.children],
        }
    return out


def _load_change(c: Any) -> Change:
    desired = None
    if c.get("desired") is not None:
        d = c["desired"]
        body = base64.b64decode(d["body"], validate=True)
        if sha256_digest(body) != d["digest"]:
            raise ValueError(
                f"list body for {c['repository']}:{c['tag']} does not match its digest"
            )
        after = _load_live(c["after"])
        desired = Desired(
            repository=d["repository"],
            media_type=d["media_type"],
            body=body,
            digest=d["digest"],
            entries=after.entries if isinstance(after, ListView) else (),
            annotations=dict(after.annotations) if isinstance(after, ListView) else {},
            sources=dict(d.get("sources", {})),
            children=tuple(
                ChildCopy(
                    digest=cp["digest"],
                    media_type=cp["mediaType"],
                    size=int(cp["size"]),
                    source=cp["source"],
                    blobs=tuple(
                        BlobCopy(b["digest"], int(b["size"]), b["how"]) for b in cp["blobs"]
                    ),
                )
                for cp in d.get("children", [])
            ),
            warnings=tuple(c.get("warnings", ())),
            prevent_destroy=bool(c.get("prevent_destroy", False)),
        )
    after = _load_live(c["after"])
    if c["action"] not in ("create", "update", "repair", "delete", "no-op"):
        raise ValueError(f"unknown action {c['action']!r}")
    return Change(
        repository=str(c["repository"]),
        tag=str(c["tag"]),
        action=c["action"],
        before=_load_live(c["before"]),
        after=after if isinstance(after, ListView) else None,
        live_digest=c.get("live_digest"),
        desired=desired,
        diff=tuple(c.get("diff", ())),
        warnings=tuple(c.get("warnings", ())),
        prevent_destroy=bool(c.get("prevent_destroy", False)),
    )
