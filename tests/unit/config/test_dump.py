"""The YAML writer: what it writes reads back, through the real loader, as the same lists."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from mplat.config.dump import SCHEMA_ID, dump_config, quoted
from mplat.config.loader import load_config_text
from mplat.config.model import EntrySpec, ListSpec, Location, RegistrySettings
from mplat.values.platform import Platform
from mplat.values.reference import parse_reference, parse_repository

NOWHERE = Location("", 0, 0)
DIGEST = "sha256:" + "ab" * 32


def spec(**overrides: object) -> ListSpec:
    base = ListSpec(
        repository=parse_repository("localhost:5000/acme/app"),
        tags=("1.0", "latest"),
        format="oci",
        location=NOWHERE,
        manifests=(
            EntrySpec(parse_reference("localhost:5000/acme/app:amd64"), NOWHERE),
            EntrySpec(
                parse_reference(f"localhost:5000/acme/app@{DIGEST}"),
                NOWHERE,
                platform=Platform("linux", "arm64", "v8"),
            ),
        ),
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def same(a: ListSpec, b: ListSpec) -> bool:
    """Equal but for where the values were written."""

    def strip(s: ListSpec) -> ListSpec:
        entries = tuple(dataclasses.replace(e, location=NOWHERE) for e in s.manifests)
        return dataclasses.replace(s, location=NOWHERE, manifests=entries, tag_locations=())

    return strip(a) == strip(b)


def round_trip(*lists: ListSpec, **registries: RegistrySettings) -> tuple[ListSpec, ...]:
    text = dump_config(lists, registries, header=["imported"])
    config = load_config_text(text, "dumped.yaml")
    assert len(config.lists) == len(lists)
    for got, want in zip(config.lists, lists, strict=True):
        assert same(got, want), (got, want)
    return config.lists


def test_the_text_starts_with_the_schema_comment_and_the_header() -> None:
    text = dump_config([spec()], header=["Written by `mplat import x`."], schema="/s.json")
    assert text.splitlines()[:4] == [
        "# yaml-language-server: $schema=/s.json",
        "# Written by `mplat import x`.",
        "",
        "version: 1",
    ]
    assert dump_config([spec()]).startswith(f"# mplat {SCHEMA_ID}\n\nversion: 1\n")


def test_lists_round_trip_with_format_annotations_and_registries() -> None:
    docker = spec(format="docker", tags=("v1",))
    annotated = spec(
        tags=("v2",), annotations={"org.opencontainers.image.version": "2", "a: b": "# c"}
    )
    round_trip(spec(), docker, annotated)
    config = load_config_text(
        dump_config(
            [spec()],
            {
                "localhost:5000": RegistrySettings(insecure=True),
                "r.io": RegistrySettings(http2=True),
            },
        ),
        "x.yaml",
    )
    assert config.settings_for("localhost:5000").insecure is True
    assert config.settings_for("localhost:5000").http2 is False
    assert config.settings_for("r.io").http2 is True


def test_platforms_the_short_form_would_change_are_written_field_by_field() -> None:
    platforms = [
        Platform("windows", "amd64", None, "10.0.17763.1", ("win32k",)),
        Platform("Linux", "ARM", "v7"),
        Platform("linux", "amd64", "v1"),
        Platform("linux", "riscv64"),
    ]
    entries = tuple(
        EntrySpec(parse_reference(f"localhost:5000/acme/app:t{i}"), NOWHERE, platform=p)
        for i, p in enumerate(platforms)
    )
    text = dump_config([spec(manifests=entries)])
    assert '        platform: "linux/riscv64"' in text
    assert '          os.version: "10.0.17763.1"' in text
    round_trip(spec(manifests=entries))


def test_platforms_selected_from_an_index_and_attestations_round_trip() -> None:
    entry = EntrySpec(
        parse_reference("localhost:5000/acme/app:multi"),
        NOWHERE,
        platforms=(Platform("linux", "amd64"), Platform("windows", "amd64", None, "10.0.1")),
        attestations=True,
    )
    round_trip(spec(manifests=(entry,), prune=True, prevent_destroy=True))


def test_absent_lists_round_trip() -> None:
    round_trip(spec(state="absent", manifests=()))


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_any_annotation_text_reads_back_exactly(value: str) -> None:
    # Lone surrogates cannot be encoded as UTF-8, so no registry can send them.
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        return
    (got,) = round_trip(spec(annotations={"k" + value: value}))
    assert got.annotations == {"k" + value: value}


def test_quoting_keeps_one_line() -> None:
    assert quoted('a"b\\c\nd\u2028\x85') == '"a\\"b\\\\c\\u000ad\\u2028\\u0085"'
    assert "\n" not in quoted("x\ny")
