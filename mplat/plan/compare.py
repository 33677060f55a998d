"""The plan decision: what one tag needs, and how its live list differs, as data.

Pure: every registry fact is already in the arguments. The differences come out as
``DiffItem`` values, not text, so the text plan colours them by kind and the JSON documents
word them (plan.wording) without either re-reading the other's output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

from mplat.plan.model import (
    OWNER_ANNOTATION,
    OWNER_TAGS_ANNOTATION,
    OWNER_VALUE,
    Action,
    Change,
    Desired,
    DiffItem,
    DiffKind,
    ImageView,
    ListView,
    Live,
)
from mplat.plan.wire import entry_json
from mplat.values.reference import Reference


def owner_annotations(repositories: Iterable[Reference], tags: Iterable[str]) -> dict[str, str]:
    """The marker for a list mplat writes to ``tags`` of ``repositories`` (normalised names).

    One list published to several repositories names all of them, so its bytes are the same
    in each; prune still needs the marker to name the very tag it sits on.
    """
    tags = tuple(tags)
    refs = " ".join(sorted({f"{r.name}:{t}" for r in repositories for t in tags}))
    return {OWNER_ANNOTATION: OWNER_VALUE, OWNER_TAGS_ANNOTATION: refs}


def ownership(live: Live | None, repository: Reference, tag: str) -> Literal["owned", "old", "no"]:
    """Whether mplat wrote the list at ``repository:tag``, as far as its marker proves.

    "old": marked by an mplat older than the tags marker; that marker is the same on every copy
    of the list, so it cannot tell the tag mplat wrote from a peer's copy and proves nothing.
    """
    if not isinstance(live, ListView) or live.annotations.get(OWNER_ANNOTATION) != OWNER_VALUE:
        return "no"
    refs = live.annotations.get(OWNER_TAGS_ANNOTATION)
    if refs is None:
        return "old"
    return "owned" if f"{repository.name}:{tag}" in refs.split(" ") else "no"


def compare(desired: Desired, tag: str, live: Live | None, children_missing: bool) -> Change:
    """Decide the action for one tag. Pure: all registry facts are already in the arguments."""
    after = desired.view()
    action: Action
    if live is None:
        action = "create"
    elif isinstance(live, ImageView):
        action = "update"
    elif live.digest == desired.digest or live.meaning() == after.meaning():
        # An in-sync list is never rewritten: nothing to PUT beyond missing children.
        action = "repair" if children_missing else "no-op"
    else:
        action = "update"
    return Change(
        repository=desired.repository,
        tag=tag,
        action=action,
        before=live,
        after=after,
        live_digest=live.digest if live is not None else None,
        desired=desired,
        diff=change_diff(action, live, after, desired),
        warnings=desired.warnings,
        prevent_destroy=desired.prevent_destroy,
    )


def change_diff(
    action: Action, before: Live | None, after: ListView | None, desired: Desired | None
) -> tuple[DiffItem, ...]:
    """What a change of ``action`` alters, derived from the views alone.

    Derived, never stored on its own: a loaded plan file gets its diff from the views it
    carries, so what is shown is what those views (and so apply) say.
    """
    if action == "repair" and desired is not None:
        return tuple(
            DiffItem("note", f"child {c.digest} missing from the repository")
            for c in desired.children
        )
    if action != "update" or after is None:
        return ()
    if isinstance(before, ImageView):
        return (DiffItem("note", f"replace single image ({before.media_type}) with a list"),)
    if isinstance(before, ListView):
        return describe_diff(before, after, desired.sources_by_label() if desired else None)
    return ()


def drift(change: Change) -> bool:
    """Whether an update undoes a change made outside mplat, rather than carrying out the config.

    mplat's marker names every tag a list was written for, so a tag whose list lacks it
    (another tool pushed a list or an image there, or copied one from another tag) was last
    written by someone else. A list marked by an older mplat proves nothing either way.
    """
    if change.action != "update" or change.before is None:
        return False
    return ownership(change.before, change.repository, change.tag) == "no"


def describe_diff(
    before: ListView, after: ListView, sources: Mapping[str, str] | None = None
) -> tuple[DiffItem, ...]:
    """How two lists differ, entry by entry keyed by platform label, then the list's own fields.

    ``sources``: the declared image of each wanted entry, by label, named beside its digest.
    """
    sources = sources or {}
    items: list[DiffItem] = []
    if before.media_type != after.media_type:
        items.append(DiffItem("changed", "", ("mediaType",), before.media_type, after.media_type))
    old = {e.label(): entry_json(e) for e in before.entries}
    new = {e.label(): entry_json(e) for e in after.entries}
    for label in [e.label() for e in after.entries if e.label() not in old]:
        items.append(
            DiffItem("added", label, (), None, new[label]["digest"], sources.get(label, ""))
        )
    for label in [e.label() for e in before.entries if e.label() not in new]:
        items.append(DiffItem("removed", label, (), old[label]["digest"], None))
    for label in [e.label() for e in after.entries if e.label() in old]:
        items.extend(_entry_changes(label, old[label], new[label], sources.get(label, "")))
    kept_before = tuple(e.label() for e in before.entries if e.label() in new)
    if kept_before != tuple(e.label() for e in after.entries if e.label() in old):
        order = tuple(e.label() for e in after.entries)
        items.append(DiffItem("changed", "", ("manifests",), kept_before, order))
    if before.artifact_type != after.artifact_type:
        if before.artifact_type is not None:
            items.append(DiffItem("removed", "", ("artifactType",), before.artifact_type))
        if after.artifact_type is not None:
            items.append(DiffItem("added", "", ("artifactType",), None, after.artifact_type))
    if (before.subject and before.subject.meaning()) != (after.subject and after.subject.meaning()):
        if before.subject is not None:
            items.append(DiffItem("removed", "", ("subject",), before.subject.digest))
        if after.subject is not None:
            items.append(DiffItem("added", "", ("subject",), None, after.subject.digest))
    was = before.own_annotations()
    want = after.own_annotations()
    for key in sorted(set(was) | set(want)):
        if was.get(key) != want.get(key):
            kind: DiffKind = "changed"
            if key not in was or key not in want:
                kind = "added" if key not in was else "removed"
            items.append(DiffItem(kind, "", ("annotations", key), was.get(key), want.get(key)))
    if not items:
        items.append(DiffItem("note", "same entries, different bytes"))
    return tuple(items)


def _entry_changes(
    label: str, old: dict[str, object], new: dict[str, object], source: str = ""
) -> Iterator[DiffItem]:
    """Field-level changes of one entry present before and after (same platform label).

    One DeepDiff per entry, in tree view with paths as lists: no threshold makes it report a
    whole entry as one opaque value, and labels from registry data need no quoting rules.
    """
    from deepdiff import DeepDiff  # Costly to import (numpy); only updates need it.

    dd = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    for kind, levels in sorted(dd.items()):
        for level in sorted(levels, key=lambda lv: str(lv.path(output_format="list"))):
            where = tuple(level.path(output_format="list"))
            if kind.endswith("_added"):
                yield DiffItem("added", label, where, None, level.t2)
            elif kind.endswith("_removed"):
                yield DiffItem("removed", label, where, level.t1, None)
            else:
                named = source if where == ("digest",) else ""
                yield DiffItem("changed", label, where, level.t1, level.t2, named)
