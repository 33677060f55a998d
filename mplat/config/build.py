"""Stage 4 of loading: schema-checked data -> the config model, with the rules of meaning.

The schema owns shapes, types, ranges and spellings; what is checked here is what a schema
cannot say: references and platforms parsed by mplat.values, duplicates across the file,
and rules between fields. Values whose path the schema tainted are not looked at, so one
mistake gives one message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

from mplat.config.model import (
    Config,
    ConfigProblem,
    EntrySpec,
    Format,
    ListSpec,
    RegistrySettings,
    State,
)
from mplat.config.origins import Document, JSONPath, Origins, prefixed, render_path
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import Reference, ReferenceError, parse_reference
from mplat.values.text import json_quoted

__all__ = ["build_config"]

PlatformKey = tuple[str, str, str, str, tuple[str, ...]]


def build_config(
    document: Document, tainted: list[JSONPath]
) -> tuple[Config | None, list[ConfigProblem]]:
    """The Config of ``document`` and the problems of meaning found in it.

    The Config is None when anything at all is wrong, including a tainted path; the problems
    are those of the parts the schema accepted, so both passes' problems are shown together.
    """
    builder = _Builder(document.origins, tainted)
    config = builder.build(document.data)
    return config, builder.problems


@dataclass(frozen=True)
class _Declared:
    platform: Platform
    path: JSONPath


@dataclass(frozen=True, slots=True)
class _Target:
    """One repository of a list item, with the format the list has there and where it is set."""

    path: JSONPath
    repository: Reference | None
    format: Format
    format_path: JSONPath


class _Builder:
    """Turns schema-checked data into typed specs, adding the checks a schema cannot express.

    Values under a path the schema already complained about are skipped, so a single typo does
    not produce a second, confusing message.
    """

    def __init__(self, origins: Origins, tainted: list[JSONPath]) -> None:
        self.origins = origins
        self.filename = origins.filename
        self.tainted = tainted
        self.problems: list[ConfigProblem] = []

    def _clean(self, path: JSONPath) -> bool:
        """Neither this value, nor anything in it, nor anything around it failed the schema."""
        return not any(t[: len(path)] == path or path[: len(t)] == t for t in self.tainted)

    def _intact(self, path: JSONPath) -> bool:
        """This container is the right kind of thing; parts of it may still be broken."""
        return not any(path[: len(t)] == t for t in self.tainted)

    def _problem(
        self, path: JSONPath, message: str, *, at_key: bool = False, prefix: JSONPath | None = None
    ) -> None:
        where = self.origins.key(path) if at_key else self.origins.value(path)
        shown = path if prefix is None else prefix
        self.problems.append(ConfigProblem(where, prefixed(shown, message)))

    def _where(self, path: JSONPath, beside: JSONPath | None = None) -> str:
        """Where ``path`` was written, naming its file when it is not the file of ``beside``."""
        loc = self.origins.value(path)
        if beside is not None and self.origins.value(beside).file != loc.file:
            return f"{loc} ({render_path(path)})"
        return f"line {loc.line}, column {loc.column} ({render_path(path)})"

    def build(self, data: dict[str, object]) -> Config | None:
        default_format = self._default_format(data.get("defaults"))
        registries = self._registries(data.get("registries"))
        specs: list[ListSpec] = []
        ok = True
        declared: dict[tuple[str, str], JSONPath] = {}
        items = data.get("lists")
        for index, item in enumerate(items if isinstance(items, list) else []):
            built = self._list(("lists", index), item, default_format, declared)
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

    # registries ---------------------------------------------------------------------------

    def _registries(self, value: object) -> dict[str, RegistrySettings] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            return None
        out: dict[str, RegistrySettings] = {}
        ok = True
        for host, raw in value.items():
            path: JSONPath = ("registries", host)
            if not self._intact(path) or not isinstance(raw, dict):
                ok = False
                continue
            problem = _registry_problem(host)
            if problem is not None:
                self._problem(path, problem, at_key=True, prefix=("registries",))
                ok = False
                continue
            if not self._clean(path):
                ok = False  # the schema has said what is wrong with these settings
                continue
            out[host] = self._settings(path, raw)
        return out if ok else None

    def _settings(self, path: JSONPath, raw: dict[str, object]) -> RegistrySettings:
        """Settings the schema accepted: their types and ranges are the schema's to check."""
        ca_file = cast("str | None", raw.get("ca_file"))
        if ca_file is not None:
            # Relative to the file it is written in, so `mplat -c dir/mplat.yaml` works from
            # anywhere.
            written_in = self.origins.value((*path, "ca_file")).file
            ca_file = os.path.join(os.path.dirname(written_in), os.path.expanduser(ca_file))
        return RegistrySettings(
            insecure=cast(bool, raw.get("insecure", False)),
            ca_file=ca_file,
            username_env=cast("str | None", raw.get("username_env")),
            password_env=cast("str | None", raw.get("password_env")),
            parallelism=cast("int | None", raw.get("parallelism")),
        )

    # lists --------------------------------------------------------------------------------

    def _list(
        self,
        path: JSONPath,
        item: object,
        default_format: Format,
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
        source = "" if own else f", from {render_path(target.format_path)}"
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
            reference = parse_reference(text)
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
                image = parse_reference(text)
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
        )

    def _platform(
        self, path: JSONPath, value: object, platforms_seen: dict[PlatformKey, _Declared]
    ) -> Platform | None:
        if not self._clean(path):
            return None
        try:
            if isinstance(value, str):
                platform = Platform.parse(value)
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
        key = platform.key()
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


def _registry_problem(host: str) -> str | None:
    """Keys must equal what Reference.registry produces, or settings silently never apply."""
    try:
        Reference(registry=host, repository="mplat/probe")
    except ReferenceError as exc:
        reason = str(exc).partition(": ")[2] or str(exc)
        return f"{json_quoted(host)} is not a registry host[:port]: {reason}"
    return None
