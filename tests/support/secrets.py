"""Recognisable test secrets and a record of everything mplat printed or wrote.

Every secret used by any test comes from here, so a scan at the end of the session can
prove that none of them reached an output stream, a saved plan or the cache.
"""

from __future__ import annotations

import base64
from pathlib import Path

PASSWORD = "pw-S3CRET-7f3a9c-do-not-print"
TOKEN = "tok-S3CRET-51e0b2-do-not-print"
USER = "ci-bot"

# What a leak would look like: the secrets themselves and their Basic-auth encoding.
NEEDLES: tuple[str, ...] = (
    PASSWORD,
    TOKEN,
    base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
)

OUTPUTS: list[str] = []
WRITTEN_FILES: list[Path] = []


def leaks_in(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def scan_files(paths: list[Path]) -> list[tuple[Path, str]]:
    found = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            data = f.read_bytes().decode("utf-8", "replace")
            found += [(f, n) for n in leaks_in(data)]
    return found
