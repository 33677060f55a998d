"""Origins: where each JSON path was written, and how messages name a path."""

from __future__ import annotations

from mplat.config.model import Location
from mplat.config.origins import Origin, Origins, prefixed, render_path


def test_origins_are_made_from_raw_tuples_on_demand() -> None:
    origins = Origins(
        "a.yaml",
        {
            (): ("a.yaml", 1, 1, 0, 0, None),
            ("lists",): ("a.yaml", 3, 3, 2, 1, None),
            ("lists", 0): ("a.yaml", 3, 5, 0, 0, "x"),
        },
    )
    assert origins.get(("lists", 0)) == Origin(Location("a.yaml", 3, 5), None, "x")
    assert origins.get(("lists",)) == Origin(Location("a.yaml", 3, 3), Location("a.yaml", 2, 1))
    assert origins.get(("nowhere",)) is None
    # A path written nowhere (a missing key) is placed at its nearest written ancestor ...
    assert origins.value(("lists", 0, "tags")) == Location("a.yaml", 3, 5)
    # ... and a list item, which has no key, at its value.
    assert origins.key(("lists", 0)) == Location("a.yaml", 3, 5)
    assert origins.key(("lists",)) == Location("a.yaml", 2, 1)


def test_origins_may_point_into_several_files() -> None:
    # What a stage merging files relies on: each origin names its own file.
    origins = Origins(
        "a.yaml", {(): ("a.yaml", 1, 1, 0, 0, None), ("x",): ("b.yaml", 4, 2, 4, 1, "")}
    )
    assert origins.value(("x",)).file == "b.yaml"
    assert origins.value(("y",)).file == "a.yaml"


def test_values_written_at_one_place_share_one_location() -> None:
    # Expanded template items share their template's origins, and so their Locations.
    shared = ("t.yaml", 7, 9, 7, 5, None)
    origins = Origins("t.yaml", {(): ("t.yaml", 1, 1, 0, 0, None), ("a",): shared, ("b",): shared})
    assert origins.value(("a",)) is origins.value(("b",))
    assert origins.value(("b",)) == Location("t.yaml", 7, 9)
    assert origins.value(("a", "missing")) == Location("t.yaml", 7, 9)
    assert origins.value(()) == Location("t.yaml", 1, 1)


def test_paths_are_rendered_as_messages_name_them() -> None:
    assert render_path(("lists", 0, "tags", 1)) == "lists[0].tags[1]"
    assert render_path(("registries", "a.io", "parallelism")) == 'registries["a.io"].parallelism'
    assert render_path(("lists", 0, "annotations", "a\nb")) == 'lists[0].annotations["a\\nb"]'
    assert prefixed((), "the file is empty") == "the file is empty"
    assert prefixed(("version",), "unsupported") == "version: unsupported"
