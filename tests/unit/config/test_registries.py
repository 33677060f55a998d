"""``registries:``: host keys as references spell them, settings relative to their file."""

from __future__ import annotations

import os

from mplat.config.model import RegistrySettings
from mplat.config.origins import Origins
from mplat.config.registries import RegistryRules


def rules(file: str = "conf/a.yaml") -> RegistryRules:
    origins = Origins(file, {("registries", "r.io", "ca_file"): (file, 3, 20, 3, 11, "ca.pem")})
    return RegistryRules(origins, [])


def test_settings_and_a_ca_file_relative_to_the_file_it_is_written_in() -> None:
    checks = rules()
    value = {
        "r.io": {"ca_file": "ca.pem", "insecure": True},
        "s.io:5000": {"parallelism": 4, "http2": True},
    }
    assert checks._registries(value) == {
        "r.io": RegistrySettings(insecure=True, ca_file=os.path.join("conf", "ca.pem")),
        "s.io:5000": RegistrySettings(parallelism=4, http2=True),
    }
    assert checks.problems == []
    assert checks._registries(None) == {}


def test_a_host_references_would_never_name_is_refused() -> None:
    checks = rules()
    assert checks._registries({"index.docker.io": {}, "myreg": {}}) is None
    messages = [p.message for p in checks.problems]
    assert len(messages) == 2
    assert all(
        m.startswith("registries: ") and "is not a registry host[:port]" in m for m in messages
    )
