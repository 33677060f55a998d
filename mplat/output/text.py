"""Plans and results for people, as text in the spirit of Terraform.

Text only: the JSON documents for machines are plan.json_codec. Both word a diff item the
same way (plan.wording); here its mark is coloured by the item's kind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mplat.plan.compare import drift
from mplat.plan.model import Change, ChildCopy, DiffItem, ImageView, ListView, Plan, PlanError
from mplat.plan.outcome import ApplyResult
from mplat.plan.wording import diff_text, short_type

_VERB = {
    "create": "will be created",
    "update": "will be updated in place",
    "repair": "will be repaired (children missing from the repository)",
    "delete": "will be deleted",
}
_MARK = {"create": "+", "update": "~", "repair": "~", "delete": "-"}


class Style:
    """ANSI colours only when writing to a terminal that wants them."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def green(self, t: str) -> str:
        return self._wrap("32", t)

    def yellow(self, t: str) -> str:
        return self._wrap("33", t)

    def red(self, t: str) -> str:
        return self._wrap("31", t)

    def bold(self, t: str) -> str:
        return self._wrap("1", t)

    def mark(self, action: str) -> str:
        m = _MARK.get(action, " ")
        return {"+": self.green, "~": self.yellow, "-": self.red}.get(m, str)(m)

    def diff_mark(self, item: DiffItem) -> str:
        """What a difference does: green "+" adds, red "-" removes, yellow "~" anything else."""
        if item.kind == "added":
            return self.green("+")
        if item.kind == "removed":
            return self.red("-")
        return self.yellow("~")


def human_bytes(n: int) -> str:
    """Decimal units, one decimal; never "1000.0 KB" (rounding moves up a unit)."""
    if n < 1000:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if round(size, 1) < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
    return f"{n} B"


@dataclass(frozen=True, slots=True)
class TextOptions:
    """How much of a plan to print: everything, one line per changed tag, or the summary."""

    compact: bool = False
    quiet: bool = False


def render_plan(plan: Plan, style: Style | None = None, options: TextOptions | None = None) -> str:
    return "".join(line + "\n" for line in plan_lines(plan, style, options))


def summary_line(plan: Plan, s: Style | None = None) -> str:
    """One line that says what the plan does; printed first and last, so it is never missed."""
    s = s or Style(False)
    counts = plan.summary()
    unchanged = f" {counts['no_op']} unchanged." if counts["no_op"] else ""
    errors = len(plan.errors)
    failed = f" {errors} {'error' if errors == 1 else 'errors'}." if errors else ""
    if not plan.has_changes:
        if plan.errors:
            return f"No changes for the lists that planned; see the errors above.{unchanged}"
        return s.green("No changes.") + " The registry matches the configuration." + unchanged
    repair = f"{counts['repair']} to repair, " if counts["repair"] else ""
    drifted = sum(1 for c in plan.changes if drift(c))
    outside = f" {drifted} changed outside mplat." if drifted else ""
    return (
        s.bold("Plan:")
        + f" {counts['create']} to create, {counts['update']} to update, "
        + f"{repair}{counts['delete']} to delete."
        + unchanged
        + (s.yellow(outside) if outside else "")
        + (s.red(failed) if failed else "")
    )


_LISTS_NAMED = 10
"""Lists named under an error that several share; the JSON plan has every one."""


def error_groups(errors: Sequence[PlanError]) -> dict[str, list[PlanError]]:
    """Errors by cause, in order: 240 lists behind one dead registry are one error, not 240."""
    groups: dict[str, list[PlanError]] = {}
    for e in errors:
        groups.setdefault(e.cause or e.message, []).append(e)
    return groups


def _error_lines(errors: Sequence[PlanError], s: Style) -> Iterator[str]:
    """One line per cause (and the lists it affects)."""
    for cause, group in error_groups(errors).items():
        if len(group) == 1:
            yield s.red("Error: ") + group[0].message
            continue
        yield s.red("Error: ") + cause
        named = [f"{e.location or '?'} ({_name(e)})" for e in group[:_LISTS_NAMED]]
        more = f", and {len(group) - _LISTS_NAMED} more" if len(group) > _LISTS_NAMED else ""
        yield f"  affects {len(group)} lists: " + ", ".join(named) + more


def _name(e: PlanError) -> str:
    return e.repository.name if e.repository is not None else "?"


def plan_lines(
    plan: Plan, style: Style | None = None, options: TextOptions | None = None
) -> Iterator[str]:
    """The plan as text, line by line: 10,000 changes are written, never held as one string.

    The summary comes first and last; no-ops are counted, never listed.
    """
    s = style or Style(False)
    opts = options or TextOptions()
    changed = [c for c in plan.changes if c.action != "no-op"]
    if not opts.quiet and changed:
        yield summary_line(plan, s)
        yield ""
        if opts.compact:
            yield from (_compact_line(c, s) for c in changed)
            yield ""
        else:
            yield "mplat will perform the following actions:\n"
            for c in changed:
                yield from change_lines(c, s)
                yield ""
            copies = _copy_summary(plan)
            if copies:
                yield from copies
                yield ""
    warnings = sorted({w for c in plan.changes for w in c.warnings})
    if not opts.quiet:
        for w in warnings:
            yield s.yellow("Warning: ") + w
    yield from _error_lines(plan.errors, s)
    if not opts.quiet:
        for registry, budget in sorted(plan.rate_limits.items()):
            yield f"Rate limit: {registry}: {budget}"
    if plan.errors or (not opts.quiet and (plan.rate_limits or warnings)):
        yield ""
    yield summary_line(plan, s)


def short_digest(digest: str | None) -> str:
    """``sha256:`` and 12 hex digits: enough to tell digests apart in one line."""
    if digest is None:
        return "absent"
    algorithm, _, hexa = digest.partition(":")
    return f"{algorithm}:{hexa[:12]}"


def _compact_line(c: Change, s: Style) -> str:
    """One line per changed tag (``--compact``): what happens, and the digest move."""
    mark = s.mark(c.action)
    after = c.after.digest if c.after else None
    if c.action == "create":
        entries = len(c.after.entries) if c.after else 0
        return f"{mark} {c.address}: create {short_digest(after)} ({entries} entries)"
    if c.action == "update":
        touched = len({item.label for item in c.diff if item.label and item.kind != "note"})
        what = f"{touched} {'entry' if touched == 1 else 'entries'}" if touched else "the list"
        outside = "; " + s.yellow("changed outside mplat") if drift(c) else ""
        move = f"{short_digest(c.live_digest)} -> {short_digest(after)}"
        return f"{mark} {c.address}: update {move} ({what} changed{outside})"
    if c.action == "repair":
        return f"{mark} {c.address}: repair ({len(c.children)} children missing)"
    return f"{mark} {c.address}: delete {short_digest(c.live_digest)}"


def change_lines(c: Change, s: Style) -> list[str]:
    """One change as the text plan shows it: its heading, then what it alters."""
    lines = [f"  # {s.bold(c.address)} {_VERB[c.action]}"]
    mark = s.mark(c.action)
    if c.action == "create" and c.after:
        sources = c.desired.entry_sources if c.desired else ()
        lines.append(f"  {mark} {short_type(c.after.media_type)} {c.after.digest}")
        for i, e in enumerate(c.after.entries):
            source = f" from {sources[i]}" if i < len(sources) else ""
            lines.append(
                f"      {s.green('+')} {e.label():<34} {e.digest} ({human_bytes(e.size)}){source}"
            )
        for k, v in sorted(c.after.annotations.items()):
            lines.append(f"      {s.green('+')} annotation {k} = {v!r}")
    elif c.action == "update" and c.after:
        before = c.before.digest if c.before else "absent"
        lines.append(f"  {mark} {short_type(c.after.media_type)} {before} -> {c.after.digest}")
        if drift(c):
            lines.append(
                f"      {s.yellow('!')} changed outside mplat: was {before}, declared "
                f"{c.after.digest}; apply puts back what the configuration declares"
            )
        for item in c.diff:
            lines.append(f"      {s.diff_mark(item)} {diff_text(item)}")
    elif c.action == "repair":
        for copy in c.children:
            lines.append(f"      {s.green('+')} child {copy.digest} from {copy.source.name}")
    elif c.action == "delete":
        what = (
            short_type(c.before.media_type) if isinstance(c.before, ListView | ImageView) else "tag"
        )
        lines.append(f"  {mark} {what} {c.live_digest}")
        if c.prevent_destroy:
            lines.append(f"      {s.red('!')} prevent_destroy is set: this plan cannot be applied")
    return lines


def _copy_summary(plan: Plan) -> list[str]:
    """Per target repository: what must be brought in, so a big copy is seen before approval."""
    per_repo: dict[str, dict[str, ChildCopy]] = {}
    for c in plan.changes:
        if c.action in ("create", "update", "repair"):
            for copy in c.children:
                per_repo.setdefault(c.repository.name, {})[copy.digest] = copy
    lines = []
    for repo, copies in sorted(per_repo.items()):
        blobs = {b.digest: b for cp in copies.values() for b in cp.blobs}
        mounted = [b for b in blobs.values() if b.how == "mount"]
        copied = [b for b in blobs.values() if b.how == "copy"]
        lines.append(
            f"Into {repo}: {len(copies)} manifest(s) to copy; blobs: {len(mounted)} to mount "
            f"({human_bytes(sum(b.size for b in mounted))}), {len(copied)} to copy "
            f"({human_bytes(sum(b.size for b in copied))})"
        )
        for cp in copies.values():
            lines.append(
                f"  {cp.digest} from {cp.source.name} ({human_bytes(cp.bytes_to_copy)} to copy)"
            )
    return lines


def render_result(
    result: ApplyResult, style: Style | None = None, elapsed: float | None = None
) -> str:
    """Each failure, then the summary: what was done, by kind, and ``elapsed`` seconds."""
    s = style or Style(False)
    out = []
    for o in result.failed:
        out.append(s.red("Error: ") + f"{o.address}: {o.message}")
    n = result.counts()
    same = f", {n['unchanged']} already up to date" if n["unchanged"] else ""
    took = "" if elapsed is None else f" in {elapsed:.{2 if elapsed < 1 else 1}f} s"
    summary = (
        f"Apply complete: {len(result.outcomes) - n['failed']} done, {n['failed']} failed "
        f"({n['created']} created, {n['updated']} updated, {n['repaired']} repaired, "
        f"{n['deleted']} deleted{same}){took}."
    )
    out.append(s.bold(summary) if not result.failed else s.red(summary))
    return "\n".join(out) + "\n"


def interrupted_report(result: ApplyResult, signal_name: str) -> str:
    """What was done and what was not, tag by tag, after a stop by ``signal_name``."""
    done = [o for o in result.outcomes if o.ok]
    skipped = [o for o in result.outcomes if not o.ok and o.interrupted]
    unknown = [o for o in result.outcomes if not o.ok and o.unknown]
    failed = [o for o in result.outcomes if not o.ok and not o.interrupted and not o.unknown]
    lines = [f"Interrupted by {signal_name}: apply stopped before the end."]
    lines.append(f"Done ({len(done)}):")
    lines += [f"  {o.address}: {o.message}" for o in done]
    lines.append(f"Not done ({len(skipped)}), left as they were:")
    lines += [f"  {o.address}: {o.message}" for o in skipped]
    if unknown:
        lines.append(f"Unknown ({len(unknown)}), the write was cut off; run plan to see:")
        lines += [f"  {o.address}: {o.message}" for o in unknown]
    if failed:
        lines.append(f"Failed ({len(failed)}):")
        lines += [f"  {o.address}: {o.message}" for o in failed]
    if result.split:
        lines.append(f"Lists whose tags disagree ({len(result.split)}):")
        for split in result.split:
            on, off = ", ".join(split.on), ", ".join(split.off)
            lines.append(f"  {split.reference}: on {on}; not on {off}")
    else:
        lines.append("Every list's tags agree (all moved, or none).")
    lines.append(
        f"Apply interrupted: {len(done)} done, {len(skipped)} not done, "
        f"{len(unknown)} unknown, {len(failed)} failed. Run `mplat apply` again to finish."
    )
    return "\n".join(lines) + "\n"


def blocked_message(plan: Plan) -> str | None:
    """The deletions prevent_destroy forbids, as one sentence; None when there are none."""
    blocked = plan.blocked()
    if not blocked:
        return None
    return "prevent_destroy forbids deleting: " + ", ".join(c.address for c in blocked)
