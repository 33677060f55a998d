"""Tests for mplat.plan.wording: media type names and the words of each diff item."""

from __future__ import annotations

import pytest

from mplat.plan.model import DiffItem
from mplat.plan.wording import diff_line, diff_text, short_type
from mplat.values import mediatypes as mt
from tests.support.builders import DA, DB


@pytest.mark.parametrize(
    ("media_type", "text"),
    [
        (mt.OCI_INDEX, "OCI index"),
        (mt.DOCKER_LIST, "Docker manifest list"),
        (mt.OCI_MANIFEST, "OCI image"),
        (mt.DOCKER_MANIFEST, "Docker image"),
        ("application/x-other", "application/x-other"),
    ],
)
def test_short_type(media_type: str, text: str) -> None:
    assert short_type(media_type) == text


WORDS: dict[str, tuple[DiffItem, str, str]] = {
    "entry added": (DiffItem("added", "linux/arm64", (), None, DA), f"linux/arm64: {DA}", "+"),
    "entry removed": (DiffItem("removed", "linux/arm", (), DA, None), f"linux/arm: {DA}", "-"),
    "entry field changed": (
        DiffItem("changed", "linux/amd64", ("digest",), DA, DB),
        f"linux/amd64: digest: {DA} -> {DB}",
        "~",
    ),
    "entry field added": (
        DiffItem("added", "linux/amd64", ("annotations", "k"), None, "v"),
        "linux/amd64: annotations.k = v",
        "+",
    ),
    "entry list item removed": (
        DiffItem("removed", "w", ("platform", "os.features", 0), "win32k", None),
        "w: platform.os.features.0 = win32k",
        "-",
    ),
    "order": (
        DiffItem("changed", "", ("manifests",), ("a", "b"), ("b", "a")),
        "entry order: b, a",
        "~",
    ),
    "artifact type": (DiffItem("removed", "", ("artifactType",), "a/b"), "artifactType a/b", "-"),
    "subject": (DiffItem("added", "", ("subject",), None, DA), f"subject {DA}", "+"),
    "annotation added": (
        DiffItem("added", "", ("annotations", "k"), None, "it's"),
        'annotation k = "it\'s"',
        "+",
    ),
    "annotation changed": (
        DiffItem("changed", "", ("annotations", "k"), "a", "b"),
        "annotation k: 'a' -> 'b'",
        "~",
    ),
}


@pytest.mark.parametrize(("item", "words", "sign"), WORDS.values(), ids=WORDS)
def test_diff_words_and_lines(item: DiffItem, words: str, sign: str) -> None:
    assert diff_text(item) == words
    assert diff_line(item) == f"{sign} {words}"


def test_notes_and_the_media_type_line_carry_no_sign() -> None:
    """As the JSON plan has always written them; the text plan marks them with a yellow ~."""
    note = DiffItem("note", "same entries, different bytes")
    assert diff_text(note) == diff_line(note) == "same entries, different bytes"
    media = DiffItem("changed", "", ("mediaType",), mt.DOCKER_LIST, mt.OCI_INDEX)
    assert diff_line(media) == diff_text(media) == "media type: Docker manifest list -> OCI index"
