"""``mplat schema``: the packaged JSON Schema, exactly, with a stable ``$id``."""

from __future__ import annotations

import argparse
import json

import pytest

from mplat.cli.commands import schema
from mplat.config.dump import SCHEMA_ID
from tests.support.paths import ROOT

SCHEMA_FILE = ROOT / "schemas" / "mplat.schema.json"


def test_prints_the_repository_schema_byte_for_byte(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.run(argparse.Namespace()) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (SCHEMA_FILE.read_text(encoding="utf-8"), "")
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_id_is_a_stable_url_that_import_names_too() -> None:
    """Editors outside the repository key the schema by its $id; `mplat import` writes it."""
    assert json.loads(schema.schema_text())["$id"] == SCHEMA_ID
    assert SCHEMA_ID == "https://mplat.dev/schemas/mplat-1.schema.json"
