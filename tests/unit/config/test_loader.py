"""Loading the YAML config: the typed result, and every problem at its exact file:line:column."""

from __future__ import annotations

import contextlib
import gc
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mplat.config import read, schema, yamlnodes
from mplat.config.build import build_config
from mplat.config.loader import load_config, load_config_text
from mplat.config.model import (
    Config,
    ConfigError,
    EntrySpec,
    ListSpec,
    Location,
    RegistrySettings,
)
from mplat.config.origins import Document
from mplat.values.platform import Platform
from mplat.values.reference import parse_reference, parse_repository
from tests.support.configs import (
    EXAMPLE,
    VALID_HEAD,
    lists_config,
    position,
    problems,
    write,
)

# ------------------------------------------------------------------------------------------
# Valid files


def test_example_loads_to_the_expected_config() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/mplat.schema.json\n")

    config = load_config(EXAMPLE)

    def loc(needle: str) -> Location:
        return Location(str(EXAMPLE), *position(text, needle))

    expected = Config(
        path=str(EXAMPLE),
        registries={"localhost:5000": RegistrySettings(insecure=True)},
        default_format="oci",
        lists=(
            ListSpec(
                repository=parse_repository("localhost:5000/acme/helloworld"),
                tags=("latest",),
                format="docker",
                location=loc("repository: localhost:5000/acme/helloworld"),
                tag_locations=(loc("latest]"),),
                manifests=(
                    EntrySpec(
                        image=parse_reference("localhost:5000/acme/helloworld:alpine"),
                        location=loc("image: localhost:5000/acme/helloworld:alpine"),
                    ),
                    EntrySpec(
                        image=parse_reference("localhost:5000/acme/helloworld:nanoserver"),
                        location=loc("image: localhost:5000/acme/helloworld:nanoserver\n"),
                    ),
                    EntrySpec(
                        image=parse_reference("localhost:5000/acme/helloworld:nanoserver-1709"),
                        location=loc("image: localhost:5000/acme/helloworld:nanoserver-1709"),
                        platform=Platform("windows", "amd64", os_version="10.0.16299.248"),
                    ),
                ),
            ),
        ),
    )
    assert config == expected
    assert config.settings_for("localhost:5000").insecure is True
    assert config.settings_for("ghcr.io") == RegistrySettings()


def test_every_key_of_the_format_is_read(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    path = write(
        tmp_path,
        f"""\
        # yaml-language-server: $schema=../schemas/mplat.schema.json
        version: 1
        registries:
          "localhost:5000":
            insecure: true
            ca_file: certs/ca.pem
            username_env: REG_USER
            password_env: REG_PASS
            parallelism: 8
          docker.io: {{ca_file: /etc/ca.pem}}
        defaults:
          format: docker
        lists:
          - repository: localhost:5000/acme/app
            tags: [latest, "1.0", v1.0.0]
            format: oci
            annotations: {{org.opencontainers.image.created: 2024-01-02T03:04:05Z}}
            state: present
            prune: true
            prevent_destroy: true
            manifests:
              - image: localhost:5000/acme/app@{digest}
                platform: linux/ARM64/v8
              - image: ghcr.io/acme/base:1.2
                platforms: [linux/amd64, {{os: windows, architecture: amd64,
                  os.version: 10.0.17763.1, os.features: [win32k]}}]
                attestations: true
          - repository: busybox
            tags: [old]
            state: absent
        """,
    )
    config = load_config(path)
    assert config.path == str(path)
    assert config.default_format == "docker"
    assert config.registries["localhost:5000"] == RegistrySettings(
        insecure=True,
        ca_file=os.path.join(str(tmp_path), "certs/ca.pem"),
        username_env="REG_USER",
        password_env="REG_PASS",
        parallelism=8,
    )
    assert config.registries["docker.io"] == RegistrySettings(ca_file="/etc/ca.pem")

    app, busybox = config.lists
    assert app.tags == ("latest", "1.0", "v1.0.0")
    assert app.format == "oci"
    # An unquoted YAML timestamp stays the text that was written.
    assert dict(app.annotations) == {"org.opencontainers.image.created": "2024-01-02T03:04:05Z"}
    assert (app.state, app.prune, app.prevent_destroy) == ("present", True, True)
    assert [(loc.line, loc.column) for loc in app.tag_locations] == [(15, 12), (15, 20), (15, 27)]
    pinned, index = app.manifests
    assert pinned.image.digest == digest and pinned.image.tag is None
    assert pinned.platform == Platform("linux", "arm64", "v8")
    assert pinned.platforms is None and pinned.attestations is False
    assert (pinned.location.line, pinned.location.column) == (22, 9)
    assert index.platform is None and index.attestations is True
    assert index.platforms == (
        Platform("linux", "amd64"),
        Platform("windows", "amd64", os_version="10.0.17763.1", os_features=("win32k",)),
    )
    # Without a format of its own the list takes defaults.format.
    assert busybox.repository == parse_repository("docker.io/library/busybox")
    assert (busybox.state, busybox.format, busybox.manifests) == ("absent", "docker", ())


def test_all_problems_are_reported_together_in_file_order(tmp_path: Path) -> None:
    text = """\
        version: 1
        lists:
          - repository: localhost:5000/acme/app
            tags: [latest]
            format: dockr
            manifests:
              - image: localhost:5000/acme/app:UPPER CASE
          - repository: localhost:5000/acme/app
            tags: [latest]
            format: docker
            prune: true
            tagz: []
            manifests:
              - image: a.io/b:1
                platform: linux/amd64
              - image: a.io/b:2
                platform: linux/amd64
        """
    found = problems(tmp_path, text)
    assert [(line, column) for line, column, _ in found] == [
        (5, 13),  # schema: enum
        (7, 16),  # semantic: reference, in the same list as the schema error
        (9, 12),  # semantic: tag declared twice
        (11, 12),  # semantic: prune with docker
        (12, 5),  # schema: unknown key
        (17, 19),  # semantic: duplicate platform
    ]
    assert "invalid reference 'localhost:5000/acme/app:UPPER CASE'" in found[1][2]
    assert "duplicate platform" in found[5][2]


# ------------------------------------------------------------------------------------------
# Robustness: whatever the input, the answer is a Config or a ConfigError with problems


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.sampled_from(["", "latest", "linux/amd64", "a.io/b:1", "oci", "docker", "absent", "x"]),
)
_keys = st.sampled_from(
    [
        "version",
        "lists",
        "registries",
        "defaults",
        "format",
        "repository",
        "tags",
        "manifests",
        "image",
        "platform",
        "platforms",
        "os",
        "architecture",
        "state",
        "annotations",
        "prune",
        "localhost:5000",
        "attestations",
        "insecure",
        "parallelism",
    ]
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"version": st.one_of(st.just(1), _scalars)},
        optional={
            "lists": st.lists(st.dictionaries(_keys, _values, max_size=6), max_size=2),
            "registries": _values,
            "defaults": _values,
        },
    )
)
def test_structured_garbage_never_escapes_as_another_exception(document: dict[str, Any]) -> None:
    # JSON is YAML, so this exercises the schema and semantic passes with arbitrary shapes.
    try:
        load_config_text(json.dumps(document), "fuzz.yaml")
    except ConfigError as exc:
        assert exc.problems
        assert all(p.location.line >= 0 and p.message for p in exc.problems)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`,?\n \t\\x01é")), max_size=40))
def test_random_text_never_escapes_as_another_exception(text: str) -> None:
    try:
        load_config_text(text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.problems


def test_a_config_of_1000_lists_loads() -> None:
    config = load_config_text(lists_config(1000), "big.yaml")
    assert len(config.lists) == 1000
    last = config.lists[-1]
    assert last.tags == ("1.2.999",) and len(last.manifests) == 3
    assert last.manifests[2].platform == Platform("linux", "arm", "v7")
    assert last.location == Location("big.yaml", 2 + 999 * 9 + 1, 5)


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("text", [VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n", "x: [1"])
def test_the_garbage_collector_is_left_as_it_was(enabled: bool, text: str) -> None:
    # Loading pauses the collector for speed; it must be back as it was however loading ends.
    was = gc.isenabled()
    try:
        if enabled:
            gc.enable()
        else:
            gc.disable()
        with contextlib.suppress(ConfigError):
            load_config_text(text, "gc.yaml")
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()


# ------------------------------------------------------------------------------------------
# The stages, one by one


def test_the_stages_one_by_one_give_what_loading_gives() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    name = str(EXAMPLE)
    document = yamlnodes.parse_document(read.source_text(read.read_file(name), name), name)
    report = schema.check_schema(document)
    config, found = build_config(document, report.tainted)
    assert report.problems == [] and found == []
    assert config == load_config(EXAMPLE) == load_config_text(text, name)


def test_a_stage_can_rewrite_the_document_between_yaml_and_schema() -> None:
    # Where templating or merging several files will go: data and origins travel together,
    # and problems in rewritten data still point where it was written.
    document = yamlnodes.parse_document(
        VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n", "t.yaml"
    )
    lists = document.data["lists"]
    assert isinstance(lists, list)
    lists[0]["state"] = "gone"
    report = schema.check_schema(Document(document.data, document.origins))
    assert [str(p) for p in report.problems] == [
        't.yaml:3:5: lists[0].state: expected one of "present", "absent", got "gone"'
    ]
