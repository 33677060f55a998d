"""Where the checkout is, so tests at any depth find examples/, schemas/ and scripts/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
