"""Loading the YAML config: the typed result, and every problem at its exact file:line:column."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from ruamel.yaml.nodes import MappingNode, SequenceNode

from mplat.config import loader
from mplat.config.loader import MAX_FILE_BYTES, MAX_NODES, load_config, load_config_text
from mplat.config.model import (
    Config,
    ConfigError,
    EntrySpec,
    ListSpec,
    Location,
    RegistrySettings,
)
from mplat.values.platform import Platform
from mplat.values.reference import parse_reference, parse_repository
from mplat.values.text import json_quoted
from tests.support.paths import ROOT

EXAMPLE = ROOT / "examples" / "manifests.yaml"
SCHEMA = ROOT / "schemas" / "mplat.schema.json"

Problem = tuple[int, int, str]


def write(tmp_path: Path, text: str, name: str = "mplat.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems, "a ConfigError must carry at least one problem"
    for problem in caught.value.problems:
        assert problem.location.file == str(path)
    return [(p.location.line, p.location.column, p.message) for p in caught.value.problems]


def problems(tmp_path: Path, text: str) -> list[Problem]:
    return problems_of(write(tmp_path, text))


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the n-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


VALID_HEAD = """\
version: 1
lists:
  - repository: localhost:5000/acme/app
    tags: [latest]
"""


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


def test_yaml_anchors_merge_keys_and_extension_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        x-common: &common
          repository: localhost:5000/acme/app
          format: docker
          manifests:
            - image: localhost:5000/acme/app:amd64
        version: 1
        lists:
          - <<: *common
            tags: [a]
          - <<: *common
            repository: localhost:5000/acme/other
            tags: [b]
        """,
    )
    first, second = load_config(path).lists
    assert first.repository.name == "localhost:5000/acme/app" and first.format == "docker"
    assert second.repository.name == "localhost:5000/acme/other"
    # Merged values keep the position where they were written, inside the anchor.
    assert (first.manifests[0].location.line, second.manifests[0].location.line) == (5, 5)


def test_text_and_bytes_input_and_a_byte_order_mark() -> None:
    text = VALID_HEAD + "    manifests: [{image: 'localhost:5000/acme/app:1'}]\n"
    from_text = load_config_text(text, "inline.yaml")
    from_bytes = load_config_text(b"\xef\xbb\xbf" + text.encode(), "inline.yaml")
    assert from_text == from_bytes
    assert from_text.path == "inline.yaml"
    assert from_bytes.lists[0].location == Location("inline.yaml", 3, 5)


def test_windows_builds_of_one_architecture_are_not_duplicates(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            VALID_HEAD
            + """\
    manifests:
      - image: localhost:5000/acme/app:ltsc2019
        platform: {os: windows, architecture: amd64, os.version: 10.0.17763.1}
      - image: localhost:5000/acme/app:ltsc2022
        platform: {os: windows, architecture: amd64, os.version: 10.0.20348.1}
""",
        )
    )
    assert len(config.lists[0].manifests) == 2


# ------------------------------------------------------------------------------------------
# Schema problems, one at a time


SCHEMA_CASES: list[tuple[str, str, Problem]] = [
    (
        "enum",
        VALID_HEAD + "    format: dockr\n    manifests: [{image: a.io/b:1}]\n",
        (
            5,
            13,
            'lists[0].format: expected one of "oci", "docker", got "dockr" '
            '(did you mean "docker"?)',
        ),
    ),
    (
        "unknown key",
        VALID_HEAD + "    tagz: [x]\n    manifests: [{image: a.io/b:1}]\n",
        (
            5,
            5,
            'lists[0]: unknown key "tagz", did you mean "tags"? (expected one of repository, '
            "tags, format, annotations, state, prune, prevent_destroy, manifests)",
        ),
    ),
    (
        "unknown top-level key",
        VALID_HEAD + "    manifests: [{image: a.io/b:1}]\nlsits: []\n",
        (
            6,
            1,
            'unknown key "lsits", did you mean "lists"? (expected one of version, '
            "registries, defaults, lists, or an x- extension key)",
        ),
    ),
    (
        "missing required key points at the mapping",
        "version: 1\nlists:\n  - repository: a.io/b\n    manifests: [{image: a.io/b:1}]\n",
        (3, 5, 'lists[0]: missing required key "tags"'),
    ),
    (
        "missing top-level key",
        "version: 1\n",
        (1, 1, 'missing required key "lists"'),
    ),
    (
        "manifests needed unless absent",
        VALID_HEAD,
        (3, 5, 'lists[0]: missing required key "manifests" (needed unless state is "absent")'),
    ),
    (
        "empty manifests",
        VALID_HEAD + "    manifests: []\n",
        (
            5,
            16,
            "lists[0].manifests: expected a non-empty list, got an empty list "
            '(needed unless state is "absent")',
        ),
    ),
    (
        "number where a tag belongs",
        "version: 1\nlists:\n  - repository: a.io/b\n    tags: [latest, 1.10]\n"
        "    manifests: [{image: a.io/b:1}]\n",
        (
            4,
            20,
            "lists[0].tags[1]: expected a string, got the number 1.10 "
            '(write "1.10" in quotes to make it a string)',
        ),
    ),
    (
        "tag pattern",
        "version: 1\nlists:\n  - repository: a.io/b\n    tags: [-x]\n"
        "    manifests: [{image: a.io/b:1}]\n",
        (
            4,
            12,
            "lists[0].tags[0]: expected a tag: 1 to 128 letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-', got \"-x\"",
        ),
    ),
    (
        "empty tags",
        "version: 1\nlists:\n  - repository: a.io/b\n    tags: []\n"
        "    manifests: [{image: a.io/b:1}]\n",
        (4, 11, "lists[0].tags: expected a non-empty list, got an empty list"),
    ),
    (
        "empty value points at its key",
        VALID_HEAD + "    format:\n    manifests: [{image: a.io/b:1}]\n",
        (5, 5, 'lists[0].format: expected one of "oci", "docker", got an empty value'),
    ),
    (
        "version",
        "version: 2\nlists: [{repository: a.io/b, tags: [x], manifests: [{image: a.io/b:1}]}]\n",
        (1, 10, "version: unsupported version 2 (this mplat reads version 1)"),
    ),
    (
        "boolean",
        VALID_HEAD + "    prune: yes\n    manifests: [{image: a.io/b:1}]\n",
        (5, 12, 'lists[0].prune: expected true or false, got "yes"'),
    ),
    (
        "integer range",
        "registries: {a.io: {parallelism: 100}}\n"
        + VALID_HEAD
        + "    manifests: [{image: a.io/b:1}]\n",
        (1, 34, 'registries["a.io"].parallelism: expected a whole number from 1 to 64, got 100'),
    ),
    (
        "a float is not an integer",
        "registries: {a.io: {parallelism: 8.0}}\n"
        + VALID_HEAD
        + "    manifests: [{image: a.io/b:1}]\n",
        (1, 34, 'registries["a.io"].parallelism: expected a whole number, got the number 8.0'),
    ),
    (
        "credentials come in pairs",
        "registries:\n  a.io:\n    username_env: USER\n"
        + VALID_HEAD
        + "    manifests: [{image: a.io/b:1}]\n",
        (3, 5, 'registries["a.io"]: "username_env" needs "password_env" as well'),
    ),
    (
        "registry key shape",
        "registries:\n  'bad host': {}\n" + VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n",
        (
            2,
            3,
            'registries: invalid key "bad host": expected a registry host[:port], '
            'e.g. "localhost:5000" or "ghcr.io"',
        ),
    ),
    (
        "platform of the wrong type",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: [linux]\n",
        (7, 19, "lists[0].manifests[0].platform: expected a string or a mapping, got a list"),
    ),
    (
        "platform string shape",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: linux\n",
        (
            7,
            19,
            "lists[0].manifests[0].platform: expected a platform os/arch[/variant], "
            'e.g. "linux/amd64" or "linux/arm64/v8", got "linux"',
        ),
    ),
    (
        "platform mapping without architecture",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: {os: linux}\n",
        (7, 19, 'lists[0].manifests[0].platform: missing required key "architecture"'),
    ),
    (
        "empty platforms",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platforms: []\n",
        (7, 20, "lists[0].manifests[0].platforms: expected a non-empty list, got an empty list"),
    ),
    (
        "annotation values are strings",
        VALID_HEAD + "    annotations: {a.b: 1.0}\n    manifests: [{image: a.io/b:1}]\n",
        (
            5,
            24,
            'lists[0].annotations["a.b"]: expected a string, got the number 1.0 '
            '(write "1.0" in quotes to make it a string)',
        ),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in SCHEMA_CASES], ids=[n for n, _, _ in SCHEMA_CASES]
)
def test_schema_problem_position_and_message(tmp_path: Path, text: str, expected: Problem) -> None:
    assert problems(tmp_path, text) == [expected]


def test_top_level_value_of_the_wrong_type(tmp_path: Path) -> None:
    assert problems(tmp_path, "version: 1\nlists: {a: b}\n") == [
        (2, 8, "lists: expected a list, got a mapping")
    ]


# ------------------------------------------------------------------------------------------
# Semantic problems


SEMANTIC_CASES: list[tuple[str, str, list[Problem]]] = [
    (
        "image reference",
        VALID_HEAD + "    manifests:\n      - image: localhost:5000/Acme/app:1\n",
        [
            (
                6,
                16,
                "lists[0].manifests[0].image: invalid reference 'localhost:5000/Acme/app:1': "
                "repository name must be lowercase (got 'Acme/app')",
            )
        ],
    ),
    (
        "repository with a tag",
        "version: 1\nlists:\n  - repository: a.io/b:1\n    tags: [x]\n"
        "    manifests: [{image: a.io/c:1}]\n",
        [
            (
                3,
                17,
                'lists[0].repository: repository "a.io/b:1" must not include a tag or digest '
                "(list the tags under tags:)",
            )
        ],
    ),
    (
        "tag the schema pattern lets through",
        'version: 1\nlists:\n  - repository: a.io/b\n    tags: ["x\\n"]\n'
        "    manifests: [{image: a.io/c:1}]\n",
        [
            (
                4,
                12,
                "lists[0].tags[0]: invalid tag 'x\\n': tag 'x\\n' must start with a letter, "
                "digit or '_' and contain only letters, digits, '_', '.' and '-'",
            )
        ],
    ),
    (
        "platform string the schema pattern lets through",
        VALID_HEAD
        + '    manifests:\n      - image: a.io/b:1\n        platform: "linux/amd64\\n"\n',
        [
            (
                7,
                19,
                "lists[0].manifests[0].platform: invalid platform 'linux/amd64\\n': "
                "architecture 'amd64\\n' may only contain a-z, 0-9, '.', '_' and '-'",
            )
        ],
    ),
    (
        "annotations with docker format",
        VALID_HEAD
        + "    format: docker\n    annotations: {a: b}\n    manifests: [{image: a.io/b:1}]\n",
        [
            (
                6,
                5,
                'lists[0].annotations: annotations need format "oci": a Docker manifest list '
                '(format "docker") cannot carry them',
            )
        ],
    ),
    (
        "annotations with docker format from defaults",
        "defaults: {format: docker}\n"
        + VALID_HEAD
        + "    annotations: {a: b}\n    manifests: [{image: a.io/b:1}]\n",
        [
            (
                6,
                5,
                'lists[0].annotations: annotations need format "oci": a Docker manifest list '
                '(format "docker" (from defaults.format)) cannot carry them',
            )
        ],
    ),
    (
        "prune with docker format",
        VALID_HEAD + "    format: docker\n    prune: true\n    manifests: [{image: a.io/b:1}]\n",
        [
            (
                6,
                12,
                'lists[0].prune: prune needs format "oci": mplat records which entries it owns '
                "in an OCI annotation, and Docker manifest lists have no annotations",
            )
        ],
    ),
    (
        "platform and platforms together",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: linux/amd64\n"
        "        platforms: [linux/arm64]\n",
        [
            (
                8,
                9,
                'lists[0].manifests[0].platforms: "platform" and "platforms" cannot be used '
                'together: "platform" labels one image, "platforms" picks entries from an index',
            )
        ],
    ),
    (
        "duplicate platform across entries, normalised",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: linux/arm64\n"
        "      - image: a.io/b:2\n"
        "        platform: {os: linux, architecture: aarch64, variant: v8}\n",
        [
            (
                9,
                19,
                'lists[0].manifests[1].platform: duplicate platform "linux/aarch64/v8": the same '
                'platform as "linux/arm64" at line 7, column 19 (lists[0].manifests[0].platform)',
            )
        ],
    ),
    (
        "duplicate platform inside platforms",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n"
        "        platforms: [linux/amd64, linux/x86_64]\n",
        [
            (
                7,
                34,
                'lists[0].manifests[0].platforms[1]: duplicate platform "linux/x86_64": the same '
                'platform as "linux/amd64" at line 7, column 21 '
                "(lists[0].manifests[0].platforms[0])",
            )
        ],
    ),
    (
        "attestation pseudo-platform",
        VALID_HEAD + "    manifests:\n      - image: a.io/b:1\n        platform: unknown/unknown\n",
        [
            (
                7,
                19,
                "lists[0].manifests[0].platform: unknown/unknown marks buildx attestation "
                "entries, not a platform (use attestations: true to keep them)",
            )
        ],
    ),
    (
        "tag declared twice across lists",
        VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n"
        "  - repository: localhost:5000/acme/app\n    tags: [v1, latest]\n    state: absent\n",
        [
            (
                7,
                16,
                "lists[1].tags[1]: localhost:5000/acme/app:latest is declared twice; first at "
                "line 4, column 12 (lists[0].tags[0])",
            )
        ],
    ),
    (
        "tag declared twice in one list, normalised repository",
        "version: 1\nlists:\n  - repository: busybox\n    tags: [a, b, a]\n"
        "    manifests: [{image: docker.io/library/busybox:musl}]\n",
        [
            (
                4,
                18,
                "lists[0].tags[2]: docker.io/library/busybox:a is declared twice; first at "
                "line 4, column 12 (lists[0].tags[0])",
            )
        ],
    ),
    (
        "a list cannot contain itself",
        VALID_HEAD + "    manifests: [{image: localhost:5000/acme/app}]\n",
        [
            (
                5,
                25,
                "lists[0].manifests[0].image: localhost:5000/acme/app is one of the tags this "
                "list writes; a list cannot contain itself (use a digest or another tag)",
            )
        ],
    ),
    (
        "registry key that names Docker Hub the old way",
        "registries: {index.docker.io: {}}\n" + VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n",
        [
            (
                1,
                14,
                'registries: "index.docker.io" is not a registry host[:port]: registry '
                "'index.docker.io' must be normalised to 'docker.io'",
            )
        ],
    ),
    (
        "registry key that is a Docker Hub namespace",
        "registries: {myreg: {}}\n" + VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n",
        [
            (
                1,
                14,
                "registries: \"myreg\" is not a registry host[:port]: registry 'myreg' would be "
                "read back as a Docker Hub namespace",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(t, e) for _, t, e in SEMANTIC_CASES],
    ids=[n for n, _, _ in SEMANTIC_CASES],
)
def test_semantic_problem_position_and_message(
    tmp_path: Path, text: str, expected: list[Problem]
) -> None:
    assert problems(tmp_path, text) == expected


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


def test_one_mistake_gives_one_message(tmp_path: Path) -> None:
    # The wrong type is not also reported as a bad reference, tag or platform.
    found = problems(
        tmp_path,
        """\
        version: 1
        lists:
          - repository: [a]
            tags: [1]
            manifests:
              - image: {a: b}
                platforms: [{os: linux}]
        """,
    )
    assert [(line, column) for line, column, _ in found] == [(3, 17), (4, 12), (6, 16), (7, 21)]


# ------------------------------------------------------------------------------------------
# The file itself


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}: no such file"]
    assert caught.value.problems[0].location == Location(str(path), 0, 0)


def test_directory(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [(0, 0, "is a directory, expected a YAML file")]


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, VALID_HEAD)
    real_open = os.open

    def refuse(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, flags, *args, **kwargs)

    # Root ignores file modes, so deny the open itself rather than chmod.
    monkeypatch.setattr(os, "open", refuse)
    assert problems_of(path) == [(0, 0, "cannot read the file: permission denied")]


def test_device_is_refused(tmp_path: Path) -> None:
    assert problems_of(Path("/dev/zero")) == [(0, 0, "is not a regular file, expected a YAML file")]


@pytest.mark.timeout(20)
def test_fifo_without_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert problems_of(fifo) == [
        (0, 0, "the file is empty: expected a mapping with version and lists")
    ]


def test_file_over_the_size_limit_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: the size alone must be enough to refuse
    assert problems_of(path) == [
        (
            0,
            0,
            f"the file is too large: {MAX_FILE_BYTES + 1} bytes, over the limit of 6291456 "
            "bytes (6 MiB) for one file; split the lists into several files (see Limits in the "
            "README)",
        )
    ]
    with pytest.raises(ConfigError, match="too large"):
        load_config_text("#" * (MAX_FILE_BYTES + 1), "big.yaml")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"version: 1\nlists:\n  - repository: caf\xc3\xa9\xff\n",
            (3, 21, "the file is not valid UTF-8: byte 0xff cannot be decoded"),
        ),
        (
            "version: 1\n".encode("utf-16"),
            (
                1,
                1,
                "the file is not valid UTF-8: byte 0xff cannot be decoded "
                "(the file looks like UTF-16; save it as UTF-8)",
            ),
        ),
    ],
    ids=["latin1-byte", "utf16"],
)
def test_not_utf8_names_the_position(tmp_path: Path, data: bytes, expected: Problem) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    assert problems_of(path) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 0, "the file is empty: expected a mapping with version and lists")),
        (
            "# only a comment\n\n",
            (0, 0, "the file is empty: expected a mapping with version and lists"),
        ),
        ("---\n...\n", (0, 0, "the file is empty: expected a mapping with version and lists")),
        ("- a\n- b\n", (1, 1, "expected a mapping with version and lists, got a list")),
        ("\nhello\n", (2, 1, "expected a mapping with version and lists, got a single value")),
    ],
    ids=["empty", "comments", "empty-document", "list", "scalar"],
)
def test_empty_or_not_a_mapping(tmp_path: Path, text: str, expected: Problem) -> None:
    assert problems(tmp_path, text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nlists: [a, b\nc: d\n",
            (
                3,
                2,
                "invalid YAML: expected ',' or ']', but got ':' "
                "(while parsing a flow sequence started at line 2, column 8)",
            ),
        ),
        ("version: 1\nlists: a: b\n", (2, 9, "invalid YAML: mapping values are not allowed here")),
        (
            "version: 1\n\tlists: []\n",
            (
                2,
                1,
                "invalid YAML: found character '\\t' that cannot start any token "
                "(while scanning for the next token)",
            ),
        ),
        (
            "version: 1\n---\nlists: []\n",
            (2, 1, "invalid YAML: only one document is allowed (a second one starts here)"),
        ),
        ("version: *nope\n", (1, 10, "invalid YAML: found undefined alias 'nope'")),
        ("version: 1\x00\n", (1, 11, "invalid YAML: character U+0000 is not allowed")),
    ],
    ids=["flow", "colon", "tab", "two-documents", "undefined-alias", "nul"],
)
def test_invalid_yaml(tmp_path: Path, text: str, expected: Problem) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert problems_of(path) == [expected]


def test_duplicate_keys_are_reported_where_repeated(tmp_path: Path) -> None:
    text = """\
        version: 1
        lists:
          - repository: a.io/b
            tags: [x]
            manifests: [{image: a.io/b:1, image: a.io/b:2}]
            repository: a.io/c
        version: 1
        """
    assert problems(tmp_path, text) == [
        (5, 35, 'duplicate key "image" (first defined at line 5, column 18)'),
        (6, 5, 'duplicate key "repository" (first defined at line 3, column 5)'),
        (7, 1, 'duplicate key "version" (first defined at line 1, column 1)'),
    ]


def test_unsupported_yaml_tags(tmp_path: Path) -> None:
    assert problems(tmp_path, "version: !!binary aGk=\nlists: !custom [a]\n") == [
        (1, 10, "unsupported YAML tag !!binary"),
        (2, 8, "unsupported YAML tag !custom (only plain lists are allowed)"),
    ]


def test_complex_keys_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "? [a]\n: 1\nversion: 1\n") == [
        (1, 3, "a mapping key must be a plain string, not a list or mapping")
    ]


# ------------------------------------------------------------------------------------------
# Hostile input


def billion_laughs(levels: int = 9) -> str:
    text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for level in range(1, levels + 1):
        text += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]\n"
    return text


ALIAS_BOMB = [
    "too many nodes (YAML alias expansion?): more than 300000 values once aliases are "
    "expanded, the limit for one file"
]


@pytest.mark.timeout(60)
def test_alias_bomb_stops_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    found = problems(tmp_path, billion_laughs())
    assert time.monotonic() - started < 20
    assert [message for _, _, message in found] == ALIAS_BOMB


@pytest.mark.timeout(60)
def test_merge_key_bomb_stops_quickly(tmp_path: Path) -> None:
    text = "m0: &m0 {" + ", ".join(f"k{i}: 1" for i in range(9)) + "}\n"
    for level in range(1, 12):
        text += f"m{level}: &m{level} {{<<: [" + ", ".join([f"*m{level - 1}"] * 9) + "]}\n"
    started = time.monotonic()
    found = problems(tmp_path, text)
    assert time.monotonic() - started < 20
    assert [message for _, _, message in found] == ALIAS_BOMB


@pytest.mark.parametrize(
    "text",
    ["a: &x [*x]\n", "a: &x {b: *x}\n", "a: &x {<<: *x}\n"],
    ids=["list", "mapping", "merge"],
)
def test_recursive_aliases_are_refused(tmp_path: Path, text: str) -> None:
    assert problems(tmp_path, text) == [
        (1, 4, "nested more than 64 levels deep (recursive YAML alias?)")
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", (1, 67)),
        ("".join("  " * i + f"k{i}:\n" for i in range(100)), (64, 127)),
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused_without_recursion_error(
    tmp_path: Path, text: str, expected: tuple[int, int]
) -> None:
    assert problems(tmp_path, text) == [(*expected, "nested more than 64 levels deep")]


def test_many_written_nodes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A smaller bound keeps the test fast; the limit is read when parsing.
    monkeypatch.setattr(loader, "MAX_NODES", 1000)
    text = "a: [" + ", ".join(["1"] * 2000) + "]\n"
    assert problems(tmp_path, text) == [
        (
            1,
            2996,
            "too many nodes: more than 1000 YAML values written by here, the limit for one "
            "file; split the lists into several files (see Limits in the README)",
        )
    ]


def test_duplicate_platforms_are_found_in_a_long_list() -> None:
    # The check was a scan of the entries before each one: 39 s for a list of 5,000.
    lines = ["version: 1", "lists:", "  - repository: r.io/a/b", "    tags: [t]", "    manifests:"]
    for i in range(3000):
        lines.append(f"      - image: r.io/a/b:x{i}")
        lines.append(
            f"        platform: {{os: windows, architecture: amd64, os.version: '10.{i}'}}"
        )
    config = load_config_text("\n".join(lines) + "\n", "long.yaml")
    assert len(config.lists[0].manifests) == 3000
    lines[-1] = "        platform: {os: windows, architecture: amd64, os.version: '10.17'}"
    with pytest.raises(ConfigError) as info:
        load_config_text("\n".join(lines) + "\n", "long.yaml")
    [problem] = info.value.problems
    assert problem.location.line == len(lines)
    assert "duplicate platform" in problem.message
    assert "lists[0].manifests[17].platform" in problem.message


def test_reused_anchor_names_are_fine_and_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = VALID_HEAD + "    manifests:\n      - image: &i a.io/b:1\n      - image: &i a.io/b:2\n"
    assert len(load_config(write(tmp_path, text)).lists[0].manifests) == 2
    assert capsys.readouterr() == ("", "")


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


# ------------------------------------------------------------------------------------------
# The schema file


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _subschemas(node: object, conditional: bool = False) -> list[tuple[dict[str, Any], bool]]:
    """Every schema object, flagged when inside if/else (those only restate constraints)."""
    found: list[tuple[dict[str, Any], bool]] = []
    if isinstance(node, dict):
        found.append((node, conditional))
        for key, value in node.items():
            found.extend(_subschemas(value, conditional or key in ("if", "then", "else")))
    elif isinstance(node, list):
        for value in node:
            found.extend(_subschemas(value, conditional))
    return found


def test_schema_is_valid_draft_2020_12() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] and schema["title"] and schema["description"]


def test_schema_documents_every_property_and_closes_every_object() -> None:
    for sub, conditional in _subschemas(_schema()):
        if not conditional:
            for name, prop in sub.get("properties", {}).items():
                assert prop.get("description"), f"property {name} has no description"
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, sub.get("description")
        if "pattern" in sub:
            assert sub.get("patternErrorMessage", "").startswith("Expected "), sub


def test_package_schema_is_the_repository_schema() -> None:
    link = ROOT / "mplat" / "config" / "mplat.schema.json"
    assert link.is_symlink()
    assert link.resolve() == SCHEMA.resolve()
    assert loader._load_schema() == _schema()


def test_inlined_schema_refs_give_the_same_errors() -> None:
    # The loader inlines $refs for speed; jsonschema must report exactly what it did before.
    documents: list[Any] = [
        {"version": 2, "lists": 5},
        {"version": 1, "lists": [{"repository": 1, "tags": ["-bad", 2], "format": "x"}]},
        {
            "version": 1,
            "defaults": {"format": "zip"},
            "registries": {"BAD HOST": {"username_env": "1x", "parallelism": 0}},
            "lists": [
                {
                    "repository": "a.io/b",
                    "tags": [],
                    "manifests": [
                        {"image": "", "platform": {"os": 1}, "platforms": ["linux", 3]},
                        {"image": "a.io/b:1", "platform": "LINUX/amd64/v8/x"},
                        "not a mapping",
                    ],
                }
            ],
        },
    ]
    inlined = loader._make_validator(_schema())
    plain = Draft202012Validator(_schema())
    for document in documents:

        def seen(validator: Any, doc: Any = document) -> list[tuple[object, ...]]:
            errors = validator.iter_errors(doc)
            return sorted(
                (e.validator, e.message, tuple(e.absolute_path), str(e.schema.get("type")))
                for e in errors
            )

        assert seen(inlined) == seen(plain) != []
    assert "$ref" not in json.dumps(loader._inline_refs(_schema(), _schema()["$defs"], frozenset()))


def _written_nodes(text: str) -> int:
    """Nodes as the composer counts them: every value and every mapping key."""
    stack: list[Any] = [loader._compose(text, "big.yaml")[0]]
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return count


def _lists_config(count: int) -> str:
    """``count`` one-tag lists of 3 entries with platforms, named as real registries are."""
    lines = ["version: 1", "lists:"]
    platforms = ("linux/amd64", "linux/arm64/v8", "linux/arm/v7")
    for i in range(count):
        repository = f"registry.example.com/platform-team/service-{i:05d}"
        lines += [f"  - repository: {repository}", f"    tags: [1.2.{i}]", "    manifests:"]
        for platform in platforms:
            arch = platform.split("/", 1)[1].replace("/", "")
            lines.append(f"      - image: {repository}:1.2.{i}-linux-{arch}")
            lines.append(f"        platform: {platform}")
    return "\n".join(lines) + "\n"


def test_a_config_of_10000_tags_fits_the_limits_with_room() -> None:
    # Measured on 100 lists and scaled: nodes and bytes grow linearly with the lists, and
    # loading the full 10,000 takes seconds. Room: real names can be longer than these.
    small = _lists_config(100)
    written = _written_nodes(small)
    nodes = written * 100
    size = len(_lists_config(10_000).encode())
    assert nodes * 1.25 < MAX_NODES, nodes
    assert size * 1.3 < MAX_FILE_BYTES, size


def test_written_nodes_are_counted_as_the_composer_counts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What makes the scaled figure above trustworthy: exactly that many nodes load ...
    small = _lists_config(10)
    monkeypatch.setattr(loader, "MAX_NODES", _written_nodes(small))
    assert len(load_config_text(small, "big.yaml").lists) == 10
    # ... and one fewer allowed is refused.
    monkeypatch.setattr(loader, "MAX_NODES", _written_nodes(small) - 1)
    with pytest.raises(ConfigError, match="too many nodes"):
        load_config_text(small, "big.yaml")


def test_a_config_of_1000_lists_loads() -> None:
    config = load_config_text(_lists_config(1000), "big.yaml")
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


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\u2028", "\\u2028"),
        ("\x85", "\\u0085"),
        ("\x9b", "\\u009b"),
        ("\x1b", "\\u001b"),
        ("\u200b", "\\u200b"),
        ("\xa0", "\\u00a0"),
        ("\ud800", "\\ud800"),
        ("\U000e0001", "\\udb40\\udc01"),
    ],
)
def test_unprintable_characters_are_escaped_in_messages(char: str, escaped: str) -> None:
    key = json.dumps("lists" + char)  # a YAML escape puts any character into a key
    with pytest.raises(ConfigError) as caught:
        load_config_text(f"version: 1\nlists: []\n{key}: 1\n", "u.yaml")
    (problem,) = [p for p in caught.value.problems if "unknown key" in p.message]
    assert f'unknown key "lists{escaped}"' in problem.message
    assert problem.message.isprintable()


def test_printable_text_is_quoted_as_written() -> None:
    assert json_quoted('é ü 😀 "x"') == '"é ü 😀 \\"x\\""'


def test_anchors_and_merges_still_expand_when_items_are_released() -> None:
    # Sequence items are released as they are converted, except in files with anchors,
    # where an alias or a merge key may walk the same nodes again.
    text = """\
version: 1
x-common: &entries
  - image: localhost:5000/acme/app:amd64
  - image: localhost:5000/acme/app:arm64
x-list: &base
  repository: localhost:5000/acme/app
  manifests: *entries
lists:
  - <<: *base
    tags: [a]
  - <<: *base
    tags: [b]
  - repository: localhost:5000/acme/other
    tags: [c]
    manifests: *entries
"""
    config = load_config_text(text, "anchors.yaml")
    assert [len(spec.manifests) for spec in config.lists] == [2, 2, 2]
    assert [spec.tags for spec in config.lists] == [("a",), ("b",), ("c",)]


def test_deep_flow_nesting_is_refused_before_parsing() -> None:
    # ruamel's scanner is cubic on nested flow collections: 300 levels took 9 s. The loader
    # refuses nesting past MAX_DEPTH with a linear scan first, pointing at the bracket.
    import time

    deep = "[" * 300 + "]" * 300
    started = time.process_time()
    with pytest.raises(ConfigError) as info:
        load_config_text(f"version: 1\nx-deep: {deep}\nlists: []\n", "deep.yaml")
    assert time.process_time() - started < 1.0
    (problem,) = info.value.problems
    # "x-deep: " is 8 columns; the root mapping is the first level, this bracket the 64th.
    assert (problem.location.line, problem.location.column) == (2, 8 + loader.MAX_DEPTH)
    assert "nested more than" in problem.message
    # Nesting well within the limit is still fine.
    shallow = "[" * 10 + "]" * 10
    assert len(load_config_text(f"{EXAMPLE.read_text()}\nx-ok: {shallow}\n", "ok.yaml").lists) == 1
