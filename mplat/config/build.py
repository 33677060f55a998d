"""Stage 4 of loading: schema-checked data -> the config model, with the rules of meaning.

The schema owns shapes, types, ranges and spellings; what is checked here is what a schema
cannot say: references and platforms parsed by mplat.values, duplicates across the file,
and rules between fields. Values whose path the schema tainted are not looked at, so one
mistake gives one message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from mplat.config.model import (
    Config,
    ConfigProblem,
    EntrySpec,
    Format,
    ListSpec,
    State,
)
from mplat.config.origins import Document, JSONPath, Origins, render_path
from mplat.config.parsecache import ParseCache
from mplat.config.registries import RegistryRules
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import Reference, ReferenceError
from mplat.values.text import json_quoted

__all__ = ["build_config"]

PlatformKey = tuple[str, str, str, str, tuple[str, ...]]


def build_config(
    document: Document, tainted: list[JSONPath], parsed: ParseCache | None = None
) -> tuple[Config | None, list[ConfigProblem]]:
    """The Config of ``document`` and the problems of meaning found in it.

    The Config is None when anything at all is wrong, including a tainted path; the problems
    are those of the parts the schema accepted, so both passes' problems are shown together.
    ``parsed`` holds the references and platforms parsed earlier in this load (None: none).
    """
    builder = _Builder(document.origins, tainted, parsed or ParseCache())
    config = builder.build(document.data)
    return config, builder.problems


@dataclass(frozen=True)
class _Declared:
    platform: Platform
    path: JSONPath


@dataclass(frozen=True, slots=True)
class _Required:
    """``require_platforms`` in effect for a list, and where it was written (None: nowhere)."""

    platforms: tuple[Platform, ...]
    path: JSONPath | None


@dataclass(frozen=True, slots=True)
class _Target:
    """One repository of a list item, with the format the list has there and where it is set."""

    path: JSONPath
    repository: Reference | None
    format: Format
    format_path: JSONPath


class _Builder(RegistryRules):
    """Turns schema-checked data into typed specs, adding the checks a schema cannot express."""

    def __init__(self, origins: Origins, tainted: list[JSONPath], parsed: ParseCache) -> None:
        super().__init__(origins, tainted)
        self.parsed = parsed

    def build(self, data: dict[str, object]) -> Config | None:
        defaults = data.get("defaults")
        default_format = self._default_format(defaults)
        required = _Required((), None)
        if isinstance(defaults, dict) and "require_platforms" in defaults:
            path: JSONPath = ("defaults", "require_platforms")
            found = self._required(path, defaults["require_platforms"])
            required = _Required(found or (), path)
        registries = self._registries(data.get("registries"))
        specs: list[ListSpec] = []
        ok = True
        declared: dict[tuple[str, str], JSONPath] = {}
        items = data.get("lists")
        for index, item in enumerate(items if isinstance(items, list) else []):
            built = self._list(("lists", index), item, default_format, required, declared)
            if built is None:
                ok = False
            else:
                specs.extend(built)
        if registries is None or not isinstance(items, list) or not ok:
            return None
        return Config(
            path=self.filename,
            lists=tuple(specs),
            registries=registries,
            default_format=default_format,
        )

    def _default_format(self, defaults: object) -> Format:
        if (
            isinstance(defaults, dict)
            and "format" in defaults
            and self._clean(("defaults", "format"))
        ):
            return cast(Format, defaults["format"])
        return "oci"

    # lists --------------------------------------------------------------------------------

    def _list(
        self,
        path: JSONPath,
        item: object,
        default_format: Format,
        default_required: _Required,
        declared: dict[tuple[str, str], JSONPath],
    ) -> list[ListSpec] | None:
        """The ListSpecs of one item: one per repository it names, sharing everything else."""
        if not isinstance(item, dict) or not self._intact(path):
            return None
        # Shapes, types and spellings are the schema's: a list it accepted whole is built,
        # once the rules below agree too; the rules still run on the parts it accepted.
        ok = self._clean(path)

        fmt_path = (*path, "format") if "format" in item else ("defaults", "format")
        fmt = cast(Format, item.get("format", default_format))
        if not self._clean(fmt_path):
            fmt = default_format
        targets = self._targets((*path, "repository"), item.get("repository"), fmt, fmt_path)
        ok &= targets is not None

        tags: list[str] = []
        tag_paths: list[JSONPath] = []
        raw_tags = item.get("tags")
        for index, tag in enumerate(raw_tags if isinstance(raw_tags, list) else []):
            tag_path = (*path, "tags", index)
            if isinstance(tag, str) and self._clean(tag_path):  # its pattern is validate_tag
                tags.append(tag)
                tag_paths.append(tag_path)

        annotations = item.get("annotations", {})
        if not isinstance(annotations, dict) or not all(
            isinstance(v, str) for v in annotations.values()
        ):
            ok = False
            annotations = {}
        prune = item.get("prune", False)

        entries: list[tuple[JSONPath, EntrySpec]] = []
        # By platform key: a list scan per entry made a 5,000-entry list take 39 s.
        platforms_seen: dict[PlatformKey, _Declared] = {}
        raw_entries = item.get("manifests", [])
        for index, raw in enumerate(raw_entries if isinstance(raw_entries, list) else []):
            entry_path = (*path, "manifests", index)
            entry = self._entry(entry_path, raw, platforms_seen)
            if entry is None:
                ok = False
            else:
                entries.append((entry_path, entry))

        required = default_required
        if "require_platforms" in item:
            req_path = (*path, "require_platforms")
            found = self._required(req_path, item["require_platforms"])
            ok &= found is not None
            required = _Required(found or (), req_path)
        if item.get("state", "present") == "present":
            ok &= self._declared_cover(required, [entry for _, entry in entries])

        for target in targets or ():
            ok &= self._target_rules(path, item, target, tags, tag_paths, entries, declared)
        if not ok or not targets:
            return None
        written_for = tuple(
            t.repository for t in targets if t.repository is not None and t.format == "oci"
        )
        return [
            ListSpec(
                repository=target.repository,
                tags=tuple(tags),
                format=target.format,
                location=self.origins.value(path),
                manifests=tuple(entry for _, entry in entries),
                annotations=dict(annotations),
                state=cast(State, item.get("state", "present")),
                prune=cast(bool, prune),
                prevent_destroy=cast(bool, item.get("prevent_destroy", False)),
                tag_locations=tuple(self.origins.value(p) for p in tag_paths),
                written_for=written_for if len(targets) > 1 and target.format == "oci" else (),
                require_platforms=required.platforms,
                require_location=self.origins.value(required.path) if required.path else None,
            )
            for target in targets
            if target.repository is not None
        ]

    def _targets(
        self, path: JSONPath, value: object, fmt: Format, fmt_path: JSONPath
    ) -> list[_Target] | None:
        """``repository:``: one string, or a list of strings and ``{name, format}`` mappings."""
        if not isinstance(value, list):
            return [_Target(path, self._repository(path, value), fmt, fmt_path)]
        out: list[_Target] = []
        seen: dict[str, JSONPath] = {}
        for index, raw in enumerate(value):
            sub = (*path, index)
            if isinstance(raw, dict):
                own = "format" in raw and self._clean((*sub, "format"))
                out.append(
                    _Target(
                        (*sub, "name"),
                        self._repository((*sub, "name"), raw.get("name")),
                        cast(Format, raw["format"]) if own else fmt,
                        (*sub, "format") if own else fmt_path,
                    )
                )
            else:
                out.append(_Target(sub, self._repository(sub, raw), fmt, fmt_path))
            repository = out[-1].repository
            if repository is not None:
                first = seen.setdefault(repository.name, out[-1].path)
                if first != out[-1].path:
                    self._problem(
                        out[-1].path,
                        f"{repository.name} is listed twice; first at "
                        f"{self._where(first, out[-1].path)}",
                    )
                    return None
        return out

    def _target_rules(
        self,
        path: JSONPath,
        item: dict[str, object],
        target: _Target,
        tags: list[str],
        tag_paths: list[JSONPath],
        entries: list[tuple[JSONPath, EntrySpec]],
        declared: dict[tuple[str, str], JSONPath],
    ) -> bool:
        """The rules that depend on the repository and format: each target is checked."""
        repository, fmt = target.repository, target.format
        if repository is None:
            return False
        ok = True
        for tag, tag_path in zip(tags, tag_paths, strict=True):
            first = declared.setdefault((repository.name, tag), tag_path)
            if first != tag_path:
                self._problem(
                    tag_path,
                    f"{repository.name}:{tag} is declared twice; first at "
                    f"{self._where(first, tag_path)}",
                )
                ok = False
        own = target.format_path == (*path, "format")
        source = "" if own or fmt != "docker" else f", from {render_path(target.format_path)}"
        if fmt == "docker" and item.get("annotations"):
            self._problem(
                (*path, "annotations"),
                f'annotations need format "oci": a Docker manifest list (format "docker"{source}) '
                "cannot carry them",
                at_key=True,
            )
            ok = False
        if fmt == "docker" and item.get("prune", False) is True:
            self._problem(
                (*path, "prune"),
                'prune needs format "oci": mplat records which entries it owns in an OCI '
                f"annotation, and Docker manifest lists{f' ({source[2:]})' if source else ''} have "
                "no annotations",
            )
            ok = False
        for entry_path, entry in entries:
            image = entry.image
            if (
                image.name == repository.name
                and image.digest is None
                and ((image.tag or "latest") in tags)
            ):
                self._problem(
                    (*entry_path, "image"),
                    f"{image} is one of the tags this list writes; a list cannot contain itself "
                    "(use a digest or another tag)",
                )
                ok = False
        return ok

    def _repository(self, path: JSONPath, text: object) -> Reference | None:
        if not isinstance(text, str) or not self._clean(path):
            return None
        try:
            reference = self.parsed.reference(text)
        except ReferenceError as exc:
            self._problem(path, str(exc))
            return None
        if reference.tag is not None or reference.digest is not None:
            self._problem(
                path,
                f"repository {json_quoted(text)} must not include a tag or digest "
                "(list the tags under tags:)",
            )
            return None
        return reference

    # entries ------------------------------------------------------------------------------

    def _entry(
        self, path: JSONPath, raw: object, platforms_seen: dict[PlatformKey, _Declared]
    ) -> EntrySpec | None:
        if not isinstance(raw, dict) or not self._intact(path):
            return None
        ok = True

        image: Reference | None = None
        text = raw.get("image")
        if isinstance(text, str) and self._clean((*path, "image")):
            try:
                image = self.parsed.reference(text)
            except ReferenceError as exc:
                self._problem((*path, "image"), str(exc))
        ok &= image is not None

        if "platform" in raw and "platforms" in raw:
            self._problem(
                (*path, "platforms"),
                '"platform" and "platforms" cannot be used together: "platform" labels one '
                'image, "platforms" picks entries from an index',
                at_key=True,
            )
            ok = False

        platform: Platform | None = None
        if "platform" in raw:
            platform = self._platform((*path, "platform"), raw["platform"], platforms_seen)
            ok &= platform is not None

        platforms: tuple[Platform, ...] | None = None
        if "platforms" in raw:
            values = raw["platforms"]
            parsed = [
                self._platform((*path, "platforms", index), value, platforms_seen)
                for index, value in enumerate(values if isinstance(values, list) else [])
            ]
            chosen = [p for p in parsed if p is not None]
            ok &= len(chosen) == len(parsed)
            platforms = tuple(chosen)

        if not ok or image is None:
            return None
        return EntrySpec(
            image=image,
            location=self.origins.value(path),
            platform=platform,
            platforms=platforms,
            attestations=cast(bool, raw.get("attestations", False)),
            optional=cast(bool, raw.get("optional", False)),
        )

    def _required(self, path: JSONPath, value: object) -> tuple[Platform, ...] | None:
        """``require_platforms``: distinct platforms, each a string or a mapping."""
        if not isinstance(value, list) or not self._clean(path):
            return None
        seen: dict[PlatformKey, _Declared] = {}
        parsed = [self._platform((*path, i), v, seen) for i, v in enumerate(value)]
        if any(p is None for p in parsed):
            return None
        return tuple(p for p in parsed if p is not None)

    def _declared_cover(self, required: _Required, entries: list[EntrySpec]) -> bool:
        """When every entry declares its platforms, a required one missing is known now."""
        if not required.platforms or required.path is None or not entries:
            return True
        declared: list[Platform] = []
        for entry in entries:
            if entry.platform is not None:
                declared.append(entry.platform)
            elif entry.platforms is not None:
                declared.extend(entry.platforms)
            else:
                return True  # read from the image at plan time
        missing = [r for r in required.platforms if not any(r.matches(d) for d in declared)]
        if not missing:
            return True
        self._problem(
            required.path,
            f"no entry declares {', '.join(str(m) for m in missing)} (the entries declare "
            f"{', '.join(str(d) for d in declared)})",
        )
        return False

    def _platform(
        self, path: JSONPath, value: object, platforms_seen: dict[PlatformKey, _Declared]
    ) -> Platform | None:
        if not self._clean(path):
            return None
        try:
            if isinstance(value, str):
                platform = self.parsed.platform(value)
            else:
                platform = Platform.from_json(value)
        except PlatformError as exc:
            self._problem(path, str(exc))
            return None
        if platform.is_unknown():
            self._problem(
                path,
                "unknown/unknown marks buildx attestation entries, not a platform "
                "(use attestations: true to keep them)",
            )
            return None
        key = self.parsed.platform_key(platform)
        other = platforms_seen.get(key)
        if other is not None:
            self._problem(
                path,
                f"duplicate platform {json_quoted(str(platform))}: the same platform as "
                f"{json_quoted(str(other.platform))} at {self._where(other.path)}",
            )
            return None
        platforms_seen[key] = _Declared(platform, path)
        return platform
