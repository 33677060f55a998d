"""The saved plan file's format: encoding and a decoder that checks every field.

Versioned on its own (``VERSION``), apart from the ``plan --json`` document. The file holds
what apply needs (the exact bytes of each list, checked against their digest when read) and,
for readers, each change's diff lines. An update's or repair's diff is not read from those
lines but derived again from the views the file carries (plan.compare.change_diff), so what
is shown is what is applied; a delete's lines are its reasons (why a tag is pruned), kept as
written. Reading and writing files (atomic writes, size caps) is plan.planfile's job:
messages here name no file, the caller puts the path in front. See docs/plan-file.md.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, TypeVar, cast

from mplat import __version__
from mplat.plan.compare import change_diff
from mplat.plan.model import (
    Action,
    BlobCopy,
    Change,
    ChildCopy,
    Desired,
    DiffItem,
    Entry,
    ImageView,
    ListView,
    Live,
    Plan,
)
from mplat.plan.wire import child_json, diff_json, error_json, live_json
from mplat.plan.wording import diff_line
from mplat.values import mediatypes as mt
from mplat.values.digest import is_descriptor_digest, sha256_digest
from mplat.values.errors import MplatError
from mplat.values.manifest import str_map
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import (
    Reference,
    ReferenceError,
    parse_reference,
    parse_repository,
    validate_tag,
)
from mplat.values.text import brief

FORMAT = "mplat-plan"
VERSION = 1


class PlanFileError(MplatError):
    """A plan file that cannot be used; the message says why in one line."""


class _Malformed(ValueError):
    """A field of the plan file that is missing or of the wrong kind; says which one."""


def errors_text(n: int) -> str:
    return f"{n} error" if n == 1 else f"{n} errors"


# --- writing ---------------------------------------------------------------------------------


def encode(plan: Plan) -> str:
    """The file's text: sorted keys and a final newline, so equal plans are equal files."""
    return json.dumps(to_document(plan), indent=2, sort_keys=True) + "\n"


def to_document(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "mplat_version": __version__,
        "changes": [_change(c) for c in plan.changes],
        "errors": [error_json(e) for e in plan.errors],
    }


def _change(c: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "repository": c.repository.name,
        "tag": c.tag,
        "action": c.action,
        "live_digest": c.live_digest,
        "before": live_json(c.before),
        "after": live_json(c.after),
        "diff": diff_json(c),
        "warnings": list(c.warnings),
        "prevent_destroy": c.prevent_destroy,
        "desired": None,
    }
    if c.desired is not None:
        d = c.desired
        out["desired"] = {
            "repository": d.repository.name,
            "media_type": d.media_type,
            "digest": d.digest,
            "body": base64.b64encode(d.body).decode("ascii"),
            "sources": dict(d.sources),
            "entry_sources": list(d.entry_sources),
            "children": [child_json(cp) for cp in d.children],
        }
    return out


# --- reading: every field is checked, so a loaded plan can be shown and applied -------------


def decode(raw: bytes) -> Plan:
    """The plan a file's bytes hold, or PlanFileError saying in one line why not."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # also bad UTF-8 and integers past 4300 digits
        raise PlanFileError("not a plan file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PlanFileError("not an mplat plan file")
    if doc.get("version") != VERSION:
        version = brief(doc.get("version"))
        raise PlanFileError(f"plan file version {version} is not supported (expected {VERSION})")
    try:
        changes = tuple(
            _load_change(c, f"changes[{i}]")
            for i, c in enumerate(_list(_field(doc, "changes", ""), "changes"))
        )
        errors = _list(doc.get("errors", []), "errors")
    except _Malformed as exc:
        raise PlanFileError(f"malformed plan file ({exc})") from None
    if errors:
        raise PlanFileError(
            f"the plan holds {errors_text(len(errors))}, so applying it would do only part "
            "of the work; run plan again"
        )
    return Plan(changes=changes)


_T = TypeVar("_T")
_ACTIONS: tuple[Action, ...] = ("create", "update", "repair", "delete", "no-op")
_HOWS: tuple[Literal["mount", "copy"], ...] = ("mount", "copy")


def _bad(where: str, expected: str, value: object) -> _Malformed:
    return _Malformed(f"{where}: expected {expected}, got {brief(value)}")


def _field(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise _Malformed(f"{where}.{key}: missing" if where else f"{key}: missing")
    return obj[key]


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "an object", value)
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(where, "a list", value)
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, "a string", value)
    return value


def _opt(check: Callable[[object, str], _T], value: object, where: str) -> _T | None:
    return None if value is None else check(value, where)


def _size(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(where, "a whole number >= 0", value)
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, "true or false", value)
    return value


def _strs(value: object, where: str) -> tuple[str, ...]:
    return tuple(_str(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def _digest(value: object, where: str) -> str:
    if not is_descriptor_digest(value):
        raise _bad(where, "a digest", value)
    return cast(str, value)


def _platform(value: object, where: str) -> dict[str, object] | None:
    """Stored in the canonical form Entry.of writes, so rendering can rely on its shape."""
    if value is None:
        return None
    try:
        return Platform.from_json(_obj(value, where)).to_json()
    except PlatformError as exc:
        raise _Malformed(f"{where}: {exc}") from None


def _repository(value: object, where: str) -> Reference:
    """A repository written in its normalised form: "busybox" would be a different text."""
    text = _str(value, where)
    try:
        ref: Reference | None = parse_repository(text)
    except ReferenceError:
        ref = None
    if ref is None or ref.name != text:
        raise _bad(where, "a repository name (registry/path)", text)
    return ref


def _tag(value: object, where: str) -> str:
    text = _str(value, where)
    try:
        return validate_tag(text)
    except ReferenceError:
        raise _bad(where, "a tag", text) from None


def _one_of(choices: tuple[_T, ...], value: object, where: str) -> _T:
    if value not in choices:
        raise _bad(where, "one of " + ", ".join(map(repr, choices)), value)
    return value


def _load_live(value: object, where: str) -> Live | None:
    if value is None:
        return None
    d = _obj(value, where)
    kind = _one_of(("image", "list"), _field(d, "kind", where), f"{where}.kind")
    media_type = _str(_field(d, "mediaType", where), f"{where}.mediaType")
    digest = _digest(_field(d, "digest", where), f"{where}.digest")
    if kind == "image":
        return ImageView(media_type, digest)
    manifests = _list(_field(d, "manifests", where), f"{where}.manifests")
    return ListView(
        media_type=media_type,
        digest=digest,
        entries=tuple(_load_entry(e, f"{where}.manifests[{i}]") for i, e in enumerate(manifests)),
        annotations=str_map(d.get("annotations", {}), f"{where}.annotations", _bad),
        artifact_type=_opt(_str, d.get("artifactType"), f"{where}.artifactType"),
        subject=_opt(_load_entry, d.get("subject"), f"{where}.subject"),
    )


def _load_entry(value: object, where: str) -> Entry:
    e = _obj(value, where)
    return Entry(
        media_type=_str(_field(e, "mediaType", where), f"{where}.mediaType"),
        digest=_digest(_field(e, "digest", where), f"{where}.digest"),
        size=_size(_field(e, "size", where), f"{where}.size"),
        platform=_platform(e.get("platform"), f"{where}.platform"),
        annotations=str_map(e.get("annotations", {}), f"{where}.annotations", _bad),
        artifact_type=_opt(_str, e.get("artifactType"), f"{where}.artifactType"),
    )


def _load_blob(value: object, where: str) -> BlobCopy:
    b = _obj(value, where)
    return BlobCopy(
        _digest(_field(b, "digest", where), f"{where}.digest"),
        _size(_field(b, "size", where), f"{where}.size"),
        _one_of(_HOWS, _field(b, "how", where), f"{where}.how"),
    )


def _load_child(value: object, where: str) -> ChildCopy:
    cp = _obj(value, where)
    blobs = _list(_field(cp, "blobs", where), f"{where}.blobs")
    return ChildCopy(
        digest=_digest(_field(cp, "digest", where), f"{where}.digest"),
        media_type=_str(_field(cp, "mediaType", where), f"{where}.mediaType"),
        size=_size(_field(cp, "size", where), f"{where}.size"),
        source=_repository(_field(cp, "source", where), f"{where}.source"),
        blobs=tuple(_load_blob(b, f"{where}.blobs[{i}]") for i, b in enumerate(blobs)),
    )


def _load_desired(value: object, where: str, change: Change) -> Desired:
    """The list to write; ``change`` is the change it belongs to, already checked."""
    assert change.after is not None
    d = _obj(value, where)
    encoded = _str(_field(d, "body", where), f"{where}.body")
    try:
        body = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{where}.body", "base64 text", encoded) from None
    digest = _digest(_field(d, "digest", where), f"{where}.digest")
    if sha256_digest(body) != digest:
        raise _Malformed(f"{where}: list body for {change.address} does not match its digest")
    children = _list(d.get("children", []), f"{where}.children")
    return Desired(
        repository=_repository(_field(d, "repository", where), f"{where}.repository"),
        media_type=_one_of(
            tuple(sorted(mt.INDEX_TYPES)), _field(d, "media_type", where), f"{where}.media_type"
        ),
        body=body,
        digest=digest,
        entries=change.after.entries,
        annotations=dict(change.after.annotations),
        sources=str_map(d.get("sources", {}), f"{where}.sources", _bad),
        entry_sources=_entry_sources(d.get("entry_sources", []), f"{where}.entry_sources", change),
        children=tuple(_load_child(cp, f"{where}.children[{i}]") for i, cp in enumerate(children)),
        warnings=change.warnings,
        prevent_destroy=change.prevent_destroy,
    )


def _source(value: object, where: str) -> str:
    text = _str(value, where)
    try:
        parse_reference(text)
    except ReferenceError:
        raise _bad(where, "an image reference", value) from None
    return text


def _entry_sources(value: object, where: str, change: Change) -> tuple[str, ...]:
    """Optional (older files lack it); when present, one declared image per entry."""
    assert change.after is not None
    items = tuple(_source(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))
    if items and len(items) != len(change.after.entries):
        raise _Malformed(f"{where}: {len(items)} sources for {len(change.after.entries)} entries")
    return items


def _load_change(value: object, where: str) -> Change:
    c = _obj(value, where)
    repository = _repository(_field(c, "repository", where), f"{where}.repository")
    tag = _tag(_field(c, "tag", where), f"{where}.tag")
    action = _one_of(_ACTIONS, _field(c, "action", where), f"{where}.action")
    before = _load_live(_field(c, "before", where), f"{where}.before")
    after = _load_live(_field(c, "after", where), f"{where}.after")
    if isinstance(after, ImageView):
        raise _Malformed(f"{where}.after: expected a list or null, got an image")
    live_digest = _opt(_digest, c.get("live_digest"), f"{where}.live_digest")
    lines = _strs(c.get("diff", []), f"{where}.diff")
    change = Change(
        repository=repository,
        tag=tag,
        action=action,
        before=before,
        after=after,
        live_digest=live_digest,
        warnings=_strs(c.get("warnings", []), f"{where}.warnings"),
        prevent_destroy=_bool(c.get("prevent_destroy", False), f"{where}.prevent_destroy"),
    )
    if c.get("desired") is not None:
        if after is None:
            raise _Malformed(f"{where}: a change with a list to write needs its after view")
        change = replace(change, desired=_load_desired(c["desired"], f"{where}.desired", change))
    return replace(change, diff=_diff(change, lines))


def _diff(change: Change, lines: tuple[str, ...]) -> tuple[DiffItem, ...]:
    """An update's or repair's diff follows from its views, so it is derived, not trusted;
    other actions carry only reasons (a prune's "no longer declared"), kept as sentences."""
    if change.action not in ("update", "repair"):
        return tuple(DiffItem("note", line) for line in lines)
    derived = change_diff(change.action, change.before, change.after, change.desired)
    if len(derived) != len(lines):
        return derived  # lines that do not describe these views: the views win
    return tuple(_as_recorded(item, line) for item, line in zip(derived, lines, strict=True))


def _as_recorded(item: DiffItem, line: str) -> DiffItem:
    """``item`` with its mappings in the key order ``line`` shows, if that is all that differs.

    The file keeps mappings with sorted keys; the line was worded before, in the registry's
    order, and a plan must read the same when applied from a file as when it was made.
    """
    if diff_line(item) == line:
        return item
    ordered = replace(item, old=_keys_as_in(item.old, line), new=_keys_as_in(item.new, line))
    return ordered if diff_line(ordered) == line else item


def _keys_as_in(value: object, line: str) -> object:
    if not isinstance(value, dict):
        return value
    return {k: value[k] for k in sorted(value, key=lambda k: line.find(f"{k!r}: "))}
