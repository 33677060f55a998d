"""The config's own format written out: ListSpecs (and registry settings) as YAML text.

The inverse of :func:`mplat.config.loader.load_config_text` for what ``mplat import`` produces,
so its output reads back to the same lists. Pure: the caller decides where the text goes.
Every string is double-quoted with YAML escapes for anything unprintable, so text from a
registry can never turn into YAML structure, a comment, or a second line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mplat.config.model import ListSpec, RegistrySettings
from mplat.values.platform import Platform, PlatformError

SCHEMA_ID = "https://mplat.dev/schemas/mplat-1.schema.json"
"""The schema's ``$id``: named when no file of it is given for editors to load."""


def dump_config(
    lists: Sequence[ListSpec],
    registries: Mapping[str, RegistrySettings] | None = None,
    header: Iterable[str] = (),
    schema: str | None = None,
) -> str:
    """The YAML text of a config holding ``lists``; ``header`` lines become comments.

    ``schema`` is where editors find the JSON Schema (a path or URL): the first line is
    then the ``yaml-language-server`` modeline, as in ``examples/``.
    """
    first = f"# yaml-language-server: $schema={schema}" if schema else f"# mplat {SCHEMA_ID}"
    out = [first, *(f"# {line}".rstrip() for line in header), "", "version: 1"]
    if registries:
        out.append("registries:")
        for host, settings in sorted(registries.items()):
            out.append(f"  {quoted(host)}:")
            out.extend(f"    {line}" for line in _settings(settings))
    out.append("lists:")
    for spec in lists:
        out.extend(_list(spec))
    return "\n".join(out) + "\n"


def _settings(s: RegistrySettings) -> list[str]:
    lines = []
    if s.insecure:
        lines.append("insecure: true")
    if s.ca_file is not None:
        lines.append(f"ca_file: {quoted(s.ca_file)}")
    if s.username_env is not None and s.password_env is not None:
        lines.append(f"username_env: {quoted(s.username_env)}")
        lines.append(f"password_env: {quoted(s.password_env)}")
    if s.parallelism is not None:
        lines.append(f"parallelism: {s.parallelism}")
    if s.http2:
        lines.append("http2: true")
    return lines or ["{}"]


def _list(spec: ListSpec) -> list[str]:
    lines = [
        f"  - repository: {quoted(spec.repository.name)}",
        f"    tags: [{', '.join(quoted(t) for t in spec.tags)}]",
        f"    format: {spec.format}",
    ]
    if spec.state != "present":
        lines.append(f"    state: {spec.state}")
    if spec.prune:
        lines.append("    prune: true")
    if spec.prevent_destroy:
        lines.append("    prevent_destroy: true")
    if spec.annotations:
        lines.append("    annotations:")
        lines.extend(f"      {quoted(k)}: {quoted(v)}" for k, v in sorted(spec.annotations.items()))
    if spec.manifests:
        lines.append("    manifests:")
    for entry in spec.manifests:
        lines.append(f"      - image: {quoted(str(entry.image))}")
        if entry.platform is not None:
            lines.extend(_platform("        platform", entry.platform))
        if entry.platforms is not None:
            lines.append("        platforms:")
            for p in entry.platforms:
                lines.extend(_platform("          -", p))
        if entry.attestations:
            lines.append("        attestations: true")
    return lines


def _platform(key: str, p: Platform) -> list[str]:
    """The short ``os/arch[/variant]`` form when it reads back as the same value, else fields.

    Both forms are the declared platform, written verbatim into the list; the string form is
    lower-cased on reading, so anything it would change is spelled out field by field.
    """
    text = f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")
    try:
        short = Platform.parse(text) == p
    except PlatformError:
        short = False
    if short:
        return [f"{key} {quoted(text)}" if key.endswith("-") else f"{key}: {quoted(text)}"]
    indent = " " * (len(key) - len(key.lstrip()) + 2)
    fields = [f"os: {quoted(p.os)}", f"architecture: {quoted(p.architecture)}"]
    if p.variant is not None:
        fields.append(f"variant: {quoted(p.variant)}")
    if p.os_version is not None:
        fields.append(f"os.version: {quoted(p.os_version)}")
    if p.os_features:
        fields.append(f"os.features: [{', '.join(quoted(f) for f in p.os_features)}]")
    if key.endswith("-"):
        return [f"{key} {fields[0]}", *(f"{indent}{f}" for f in fields[1:])]
    return [f"{key}:", *(f"{indent}{f}" for f in fields)]


def quoted(text: str) -> str:
    """A YAML double-quoted scalar holding exactly ``text``."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch not in "\u2028\u2029\ufeff":
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
