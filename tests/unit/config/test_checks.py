"""The builders' shared checks: skipping what the schema refused, and saying where."""

from __future__ import annotations

from mplat.config.checks import Checks
from mplat.config.model import ConfigProblem, Location
from mplat.config.origins import Origins

ORIGINS = Origins(
    "a.yaml",
    {
        ("lists",): ("a.yaml", 2, 3, 1, 1, None),
        ("lists", 0, "tags", 0): ("a.yaml", 4, 12, 0, 0, "v1"),
        ("lists", 1, "tags", 0): ("b.yaml", 3, 12, 0, 0, "v1"),
    },
)


def test_clean_and_intact_against_tainted_paths() -> None:
    checks = Checks(ORIGINS, [("lists", 0, "tags")])
    assert not checks._clean(("lists", 0, "tags", 0))  # inside a refused value
    assert not checks._clean(("lists", 0))  # around it
    assert checks._clean(("lists", 1, "tags"))
    assert checks._intact(("lists", 0))  # the item is a mapping; only its tags are wrong
    assert not checks._intact(("lists", 0, "tags", 0))


def test_problems_are_placed_and_prefixed() -> None:
    checks = Checks(ORIGINS, [])
    checks._problem(("lists", 0, "tags", 0), "bad tag")
    checks._problem(("lists", 0, "tags", 0), "bad", prefix=("lists",))
    assert checks.problems == [
        ConfigProblem(Location("a.yaml", 4, 12), "lists[0].tags[0]: bad tag"),
        ConfigProblem(Location("a.yaml", 4, 12), "lists: bad"),
    ]


def test_where_names_the_file_only_when_it_is_another() -> None:
    checks = Checks(ORIGINS, [])
    first = ("lists", 0, "tags", 0)
    assert checks._where(first) == "line 4, column 12 (lists[0].tags[0])"
    assert checks._where(first, ("lists",)) == "line 4, column 12 (lists[0].tags[0])"
    assert checks._where(first, ("lists", 1, "tags", 0)) == "a.yaml:4:12 (lists[0].tags[0])"
