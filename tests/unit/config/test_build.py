"""Rules of meaning: references, platforms, duplicates and rules between fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from mplat.config import yamlnodes
from mplat.config.build import build_config
from mplat.config.loader import load_config, load_config_text
from mplat.config.model import ConfigError
from mplat.config.parsecache import ParseCache
from tests.support.configs import (
    VALID_HEAD,
    Problem,
    problems,
    write,
)


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
                '(format "docker", from defaults.format) cannot carry them',
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


def test_one_mistake_gives_one_message(tmp_path: Path) -> None:
    # The wrong type is not also reported as a bad reference, tag or platform.
    found = problems(
        tmp_path,
        """\
        version: 1
        lists:
          - repository: {a: b}
            tags: [1]
            manifests:
              - image: {a: b}
                platforms: [{os: linux}]
        """,
    )
    assert [(line, column) for line, column, _ in found] == [(3, 17), (4, 12), (6, 16), (7, 21)]


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


# ------------------------------------------------------------------------------------------
# The stage on its own


def test_build_config_builds_what_the_schema_accepted() -> None:
    text = VALID_HEAD + "    manifests: [{image: a.io/b:1, platform: linux/amd64}]\n"
    document = yamlnodes.parse_document(text, "b.yaml")
    config, found = build_config(document, [])
    assert found == [] and config is not None
    assert config.lists[0].manifests[0].image.name == "a.io/b"
    # A path the schema refused is neither built nor checked again ...
    config, found = build_config(document, [("lists", 0, "manifests", 0, "platform")])
    assert config is None and found == []


def test_build_config_keeps_to_rules_a_schema_cannot_state() -> None:
    text = VALID_HEAD + "    format: docker\n    prune: true\n    manifests: [{image: a.io/b:1}]\n"
    config, found = build_config(yamlnodes.parse_document(text, "b.yaml"), [])
    assert config is None
    assert [(p.location.line, p.message[:30]) for p in found] == [
        (6, "lists[0].prune: prune needs fo")
    ]


# ------------------------------------------------------------------------------------------
# One list in several repositories


MULTI = """\
version: 1
lists:
  - repository:
      - docker.io/acme/app
      - {name: ghcr.io/acme/app}
      - {name: quay.io/acme/app, format: docker}
    tags: [v1, latest]
    manifests:
      - {image: "ghcr.io/acme/app:v1-amd64", platform: linux/amd64}
"""


def test_a_repository_list_is_one_spec_per_repository_sharing_the_rest() -> None:
    config = load_config_text(MULTI, "m.yaml")
    specs = config.lists
    assert [(s.repository.name, s.format) for s in specs] == [
        ("docker.io/acme/app", "oci"),
        ("ghcr.io/acme/app", "oci"),
        ("quay.io/acme/app", "docker"),
    ]
    assert {s.tags for s in specs} == {("v1", "latest")}
    assert {s.manifests for s in specs} == {specs[0].manifests}
    # The OCI copies name each other in their marker, so their bytes are the same.
    oci = (specs[0].repository, specs[1].repository)
    assert specs[0].owners == specs[1].owners == oci
    assert specs[2].written_for == ()


def test_one_repository_is_one_spec_as_before() -> None:
    spec = load_config_text(VALID_HEAD + "    manifests: [{image: a.io/b:1}]\n", "m.yaml").lists[0]
    assert spec.written_for == ()
    assert spec.owners == (spec.repository,)


@pytest.mark.parametrize(
    ("repository", "extra", "expected"),
    [
        (
            "[r.io/a, {name: r.io/a}]",
            "",
            [
                (
                    3,
                    33,
                    "lists[0].repository[1].name: r.io/a is listed twice; first at line 3, "
                    "column 18 (lists[0].repository[0])",
                )
            ],
        ),
        (
            "[r.io/a, {name: r.io/b, format: docker}]",
            "    annotations: {k: v}\n",
            [
                (
                    5,
                    5,
                    'lists[0].annotations: annotations need format "oci": a Docker manifest list '
                    '(format "docker", from lists[0].repository[1].format) cannot carry them',
                )
            ],
        ),
        (
            "[r.io/a, {name: r.io/b, format: docker}]",
            "    prune: true\n",
            [
                (
                    5,
                    12,
                    'lists[0].prune: prune needs format "oci": mplat records which entries it '
                    "owns in an OCI annotation, and Docker manifest lists (from "
                    "lists[0].repository[1].format) have no annotations",
                )
            ],
        ),
        (
            "[r.io/a, {name: 'r.io/b:1'}, {format: oci}]",
            "",
            [
                (
                    3,
                    33,
                    'lists[0].repository[1].name: repository "r.io/b:1" must not include a '
                    "tag or digest (list the tags under tags:)",
                ),
                (3, 46, 'lists[0].repository[2]: missing required key "name"'),
            ],
        ),
        ("[]", "", [(3, 17, "lists[0].repository: expected a non-empty list, got an empty list")]),
    ],
    ids=[
        "same twice",
        "docker target with annotations",
        "docker target with prune",
        "bad",
        "empty",
    ],
)
def test_repository_list_problems(
    tmp_path: Path, repository: str, extra: str, expected: list[Problem]
) -> None:
    text = (
        f"version: 1\nlists:\n  - repository: {repository}\n    tags: [v1]\n{extra}"
        "    manifests: [{image: r.io/q:1}]\n"
    )
    assert problems(tmp_path, text) == expected


def test_the_same_tag_in_another_item_names_the_repository_entry(tmp_path: Path) -> None:
    text = (
        "version: 1\nlists:\n  - repository: [r.io/a, r.io/b]\n    tags: [v1]\n"
        "    manifests: [{image: r.io/q:1}]\n"
        "  - repository: r.io/b\n    tags: [v1]\n    manifests: [{image: r.io/q:1}]\n"
    )
    assert problems(tmp_path, text) == [
        (
            7,
            12,
            "lists[1].tags[0]: r.io/b:v1 is declared twice; first at line 4, column 12 "
            "(lists[0].tags[0])",
        )
    ]


# ------------------------------------------------------------------------------------------
# optional entries and require_platforms


def test_optional_and_require_platforms_from_the_list_or_defaults() -> None:
    text = """\
version: 1
defaults:
  require_platforms: [linux/amd64]
lists:
  - repository: r.io/a
    tags: [v1]
    manifests:
      - {image: "r.io/a:amd64"}
      - {image: "r.io/a:riscv", optional: true}
  - repository: r.io/b
    tags: [v1]
    require_platforms: [linux/arm64/v8, {os: windows, architecture: amd64}]
    manifests:
      - {image: "r.io/b:arm64", platform: linux/arm64}
      - {image: "r.io/b:win", platform: windows/amd64}
"""
    first, second = load_config_text(text, "m.yaml").lists
    assert [e.optional for e in first.manifests] == [False, True]
    assert [str(p) for p in first.require_platforms] == ["linux/amd64"]
    assert first.require_location is not None and first.require_location.line == 3
    assert [str(p) for p in second.require_platforms] == ["linux/arm64/v8", "windows/amd64"]
    assert second.require_location is not None and second.require_location.line == 12


@pytest.mark.parametrize(
    ("extra", "entries", "expected"),
    [
        (
            "    require_platforms: [linux/amd64, linux/s390x]\n",
            "      - {image: r.io/q:1, platform: linux/amd64}\n"
            "      - {image: r.io/q:2, platform: linux/arm64, optional: true}\n",
            [
                (
                    5,
                    24,
                    "lists[0].require_platforms: no entry declares linux/s390x (the entries "
                    "declare linux/amd64, linux/arm64)",
                )
            ],
        ),
        (
            "    require_platforms: [linux/amd64, linux/x86_64]\n",
            "      - {image: r.io/q:1}\n",
            [
                (
                    5,
                    38,
                    'lists[0].require_platforms[1]: duplicate platform "linux/x86_64": the '
                    'same platform as "linux/amd64" at line 5, column 25 '
                    "(lists[0].require_platforms[0])",
                )
            ],
        ),
        (
            "    require_platforms: [linux]\n",
            "      - {image: r.io/q:1}\n",
            [
                (
                    5,
                    25,
                    "lists[0].require_platforms[0]: expected a platform os/arch[/variant], "
                    'e.g. "linux/amd64" or "linux/arm64/v8", got "linux"',
                )
            ],
        ),
        (
            "    require_platforms: []\n",
            "      - {image: r.io/q:1, optional: yes}\n",
            [
                (5, 24, "lists[0].require_platforms: expected a non-empty list, got an empty list"),
                (7, 37, 'lists[0].manifests[0].optional: expected true or false, got "yes"'),
            ],
        ),
    ],
    ids=["declared platforms lack one", "duplicate", "bad platform", "shapes"],
)
def test_require_platforms_problems(
    tmp_path: Path, extra: str, entries: str, expected: list[Problem]
) -> None:
    text = f"version: 1\nlists:\n  - repository: r.io/a\n    tags: [v1]\n{extra}    manifests:\n"
    assert problems(tmp_path, text + entries) == expected


def test_require_platforms_is_left_to_the_plan_when_a_platform_is_read_from_an_image() -> None:
    text = (
        "version: 1\nlists:\n  - repository: r.io/a\n    tags: [v1]\n"
        "    require_platforms: [linux/s390x]\n    manifests:\n"
        "      - {image: r.io/q:1, platform: linux/amd64}\n      - {image: r.io/q:2}\n"
    )
    (spec,) = load_config_text(text, "m.yaml").lists
    assert [str(p) for p in spec.require_platforms] == ["linux/s390x"]


def test_build_config_parses_each_repeated_name_and_platform_once() -> None:
    lists = "".join(
        f"  - {{repository: a.io/b, tags: [t{i}], manifests: "
        f"[{{image: a.io/b:{i}-x, platform: linux/amd64}}, {{image: a.io/c:{i}}}]}}\n"
        for i in range(3)
    )
    document = yamlnodes.parse_document("version: 1\nlists:\n" + lists, "b.yaml")
    parsed = ParseCache()
    config, found = build_config(document, [], parsed)
    assert found == [] and config is not None
    assert config.lists[0].repository is config.lists[2].repository is parsed.reference("a.io/b")
    first, last = config.lists[0].manifests[0], config.lists[2].manifests[0]
    assert first.platform is last.platform is parsed.platform("linux/amd64")
    assert [str(spec.manifests[0].image) for spec in config.lists] == [
        "a.io/b:0-x",
        "a.io/b:1-x",
        "a.io/b:2-x",
    ]
