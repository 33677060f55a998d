"""Fuzzing every parser of untrusted input: a value or the module's own error, quickly.

Config files, references, platforms, manifests and plan files all come from outside mplat
(users, registries, disk). Whatever arrives, each parser must return a well-formed value or
raise its documented error with a readable one-line message, in bounded time; anything else
reaches the user as a traceback or a hang. Inputs are valid examples mutated byte-wise and
structurally, hostile YAML and JSON constructs, and arbitrary text, bytes and JSON values.
The number of cases run per parser is printed at the end of the module (``pytest -s``).
"""

from __future__ import annotations

import json
import math
import random
import re
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mplat.config.loader import MAX_NODES, load_config_text
from mplat.config.model import Config, ConfigError, Location
from mplat.output.text import Style, render_plan
from mplat.plan.json_codec import plan_to_json
from mplat.plan.model import Plan
from mplat.plan.planfile import PlanFileError, load_plan, save_plan
from mplat.values import mediatypes as mt
from mplat.values.manifest import (
    Descriptor,
    ImageManifest,
    Index,
    ManifestError,
    parse_manifest,
)
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import (
    Reference,
    ReferenceError,
    parse_reference,
    parse_repository,
    validate_digest,
    validate_tag,
)
from tests.support.builders import sample_plan
from tests.support.paths import ROOT
from tests.support.worst_configs import WORST_CASES, load_worst_case

FILENAME = "fuzz.yaml"
PER_CALL_SECONDS = 20.0
"""CPU seconds every single parse must finish within, whatever the input (issue 7: no hangs).
A hang guard, not a speed target: the slowest inputs here (alias bombs) take about a second,
a hang takes minutes. CPU time, so a busy machine cannot fail the test."""
HANG_BOUND_SECONDS = 90.0
"""CPU seconds after which a load at the loader's own limits counts as hung. A hang guard, not
a speed target: such loads take ~5-15 CPU s (pure-Python YAML; benchmarks/config_limits.py
prints the figures), while a hang (quadratic scanning, as ruamel's round-trip mode had on
6 MiB of blank lines) takes many minutes, so no load on this machine makes the test flake."""

DIGEST = "sha256:" + "ab" * 32
DIGEST_B = "sha256:" + "cd" * 32

# Independent oracles: written from the grammar, not imported from mplat.
TAG_ORACLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
SHA256_ORACLE = re.compile(r"sha256:[0-9a-f]{64}")
DIGEST_ORACLE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
PLATFORM_PART_ORACLE = re.compile(r"[a-z0-9._-]+")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


@pytest.fixture(scope="module")
def counts() -> Iterator[Counter[str]]:
    """Cases run per fuzz target; the totals are printed when the module is done."""
    tally: Counter[str] = Counter()
    yield tally
    config = sum(n for name, n in tally.items() if name.startswith("config"))
    lines = [f"  {name}: {n}" for name, n in sorted(tally.items())]
    print("\nfuzz cases run:\n" + "\n".join(lines))
    print(f"  config total: {config}; all parsers: {sum(tally.values())}")


def assert_one_line(message: str) -> None:
    """What issue 7 asks of every message: one non-empty line, nothing Python-internal."""
    assert message, "empty error message"
    assert message == message.strip(), f"message has surrounding whitespace: {message!r}"
    assert "\n" not in message and "\r" not in message, f"message is not one line: {message!r}"
    assert "Traceback" not in message and " object at 0x" not in message, message


def assert_readable(message: str) -> None:
    """One printable line: no line breaks (incl. U+2028/NEL), no raw control or format chars."""
    assert_one_line(message)
    assert message.isprintable(), f"message is not one printable line: {message!r}"


# ------------------------------------------------------------------------------------------
# Seeds: valid configs that mutations start from


SEED_CONFIGS: dict[str, str] = {
    "example": (ROOT / "examples" / "manifests.yaml").read_text(encoding="utf-8"),
    "every-key": textwrap.dedent(
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
        x-notes: free text for humans
        lists:
          - repository: localhost:5000/acme/app
            tags: [latest, "1.0", v1.0.0]
            format: oci
            annotations: {{org.opencontainers.image.created: 2024-01-02T03:04:05Z}}
            state: present
            prune: true
            prevent_destroy: true
            manifests:
              - image: localhost:5000/acme/app@{DIGEST}
                platform: linux/ARM64/v8
              - image: ghcr.io/acme/base:1.2
                platforms: [linux/amd64, {{os: windows, architecture: amd64,
                  os.version: 10.0.17763.1, os.features: [win32k]}}]
                attestations: true
          - repository: busybox
            tags: [old]
            state: absent
        """
    ),
    "anchors": textwrap.dedent(
        """\
        x-common: &common
          repository: localhost:5000/acme/app
          format: docker
          manifests:
            - image: localhost:5000/acme/app:amd64
              platform: &amd64 {os: linux, architecture: amd64}
        version: 1
        lists:
          - <<: *common
            tags: [a]
          - <<: *common
            repository: localhost:5000/acme/other
            tags: [b, c]
        """
    ),
    "flow": json.dumps(
        {
            "version": 1,
            "registries": {"[::1]:5000": {"insecure": True, "parallelism": 2}},
            "lists": [
                {
                    "repository": "[::1]:5000/team/tool",
                    "tags": ["stable", "2024.01"],
                    "annotations": {"org.opencontainers.image.source": "https://x/y"},
                    "manifests": [
                        {"image": "[::1]:5000/team/tool:linux", "platform": "linux/arm/v7"},
                        {"image": f"quay.io/org/img@{DIGEST_B}", "platforms": ["linux/s390x"]},
                    ],
                }
            ],
        }
    ),
    "windows": textwrap.dedent(
        """\
        version: 1
        defaults: {format: oci}
        lists:
          - repository: mcr.example.com/windows/servercore
            tags: ['ltsc', 'ltsc-2019', '10.0']
            manifests:
              - image: mcr.example.com/windows/servercore:ltsc2019
                platform:
                  os: windows
                  architecture: amd64
                  os.version: 10.0.17763.1
              - image: mcr.example.com/windows/servercore:ltsc2022
                platform: {os: windows, architecture: amd64, os.version: 10.0.20348.1}
              - image: mcr.example.com/windows/servercore:arm
                platform: {os: windows, architecture: arm64, variant: v8}
        """
    ),
}


# ------------------------------------------------------------------------------------------
# The config oracle


_BREAKS = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


def _lines(source: str | bytes) -> tuple[int, int]:
    """(line count, longest line) by every YAML line-break convention, as bounds on positions."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    text = text.removeprefix("\ufeff")
    by_yaml = _BREAKS.split(text)
    by_newline = text.split("\n")  # undecodable bytes are located by '\n' alone
    longest = max(len(line) for line in [*by_yaml, *by_newline])
    return max(len(by_yaml), len(by_newline)), longest


def _check_location(location: Location, bounds: tuple[int, int], *, file_level: bool) -> None:
    lines, longest = bounds
    assert location.file == FILENAME, location
    if file_level and location.line == 0:
        assert location.column == 0, f"file-level problem with a column: {location}"
        return
    assert 1 <= location.line <= lines + 1, f"line out of range ({lines} lines): {location}"
    assert 1 <= location.column <= longest + 2, f"column out of range: {location}"


def check_config(source: str | bytes, counts: Counter[str], kind: str) -> Config | ConfigError:
    """A Config, or a ConfigError whose every problem is located and one readable line."""
    counts[f"config {kind}"] += 1
    started = time.process_time()
    try:
        outcome: Config | ConfigError = load_config_text(source, FILENAME)
    except ConfigError as exc:
        outcome = exc
    elapsed = time.process_time() - started
    assert elapsed < PER_CALL_SECONDS, f"load_config_text took {elapsed:.2f} s"

    bounds = _lines(source)
    if isinstance(outcome, ConfigError):
        assert outcome.problems, "a ConfigError without problems"
        for problem in outcome.problems:
            _check_location(problem.location, bounds, file_level=True)
            # Printability is checked separately (test_config_messages_escape_...): asserting
            # it here would stop every config fuzz target at that one known bug.
            assert_one_line(problem.message)
        lines = [str(p) for p in outcome.problems]
        if len(lines) > 1:  # several problems: a heading, then one indented line each
            lines = ["invalid configuration"] + [f"  {line}" for line in lines]
        assert str(outcome).split("\n") == lines
        return outcome

    assert isinstance(outcome, Config)
    assert outcome.path == FILENAME and outcome.lists
    assert outcome.default_format in ("oci", "docker")
    for spec in outcome.lists:
        assert spec.tags and len(spec.tag_locations) == len(spec.tags)
        assert all(TAG_ORACLE.fullmatch(tag) for tag in spec.tags), spec.tags
        assert parse_reference(str(spec.repository)) == spec.repository
        assert spec.repository.tag is None and spec.repository.digest is None
        assert spec.format in ("oci", "docker") and spec.state in ("present", "absent")
        assert spec.manifests or spec.state == "absent"
        assert all(isinstance(v, str) for v in spec.annotations.values())
        locations = [spec.location, *spec.tag_locations, *(e.location for e in spec.manifests)]
        for location in locations:
            _check_location(location, bounds, file_level=False)
        for entry in spec.manifests:
            assert parse_reference(str(entry.image)) == entry.image
            assert not (entry.platform is not None and entry.platforms is not None)
    return outcome


class _Faithful(random.Random):
    """Renders every string double-quoted, so the written file means exactly the tree."""

    def random(self) -> float:
        return 0.99


def test_seeds_are_valid_configs(counts: Counter[str]) -> None:
    for name, text in SEED_CONFIGS.items():
        assert isinstance(check_config(text, counts, "seed"), Config), name
        tree = _tree(_yaml_data(text))
        for style in STYLES:
            rendered = render_config(tree, style, _Faithful(), decorate=False)
            assert isinstance(check_config(rendered, counts, "seed"), Config), (name, style)


UNPRINTABLE = {
    "line separator": "\u2028",
    "next line (NEL)": "\x85",
    "CSI (terminal escape)": "\x9b",
    "ESC": "\x1b",
    "zero-width space": "\u200b",
    "no-break space": "\xa0",
    "lone surrogate": "\ud800",
}


@pytest.mark.parametrize("where", ["key", "value"])
@pytest.mark.parametrize("char", UNPRINTABLE.values(), ids=UNPRINTABLE.keys())
def test_config_messages_escape_unprintable_characters(
    counts: Counter[str], char: str, where: str
) -> None:
    # A YAML escape puts any character into a key or value; quoting it back raw would split
    # the line, drive the terminal, or show "lists\u200b" as a baffling "lists".
    quoted = json.dumps("lists" + char)
    text = f"version: 1\nlists: []\n{quoted}: 1\n" if where == "key" else f"version: {quoted}\n"
    outcome = check_config(text, counts, "unprintable")
    assert isinstance(outcome, ConfigError)
    for problem in outcome.problems:
        assert_readable(problem.message)


# ------------------------------------------------------------------------------------------
# Byte-level mutations


_TOKENS: tuple[bytes, ...] = (
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
    b"\xef\xbb\xbf",
    b"\xc2\x85",  # NEL
    b"\xe2\x80\xa8",  # LINE SEPARATOR
    b"\xe2\x80\x8b",  # ZERO WIDTH SPACE
    b"\x1b[31m",
    b"\t",
    b"\r",
    b"\r\n",
    b"\n",
    b"  ",
    b": ",
    b":",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"&a ",
    b"*a",
    b"*undefined",
    b"!!binary ",
    b"!!python/object:os.system ",
    b"!custom ",
    b"<<: *a\n",
    b"? ",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"%TAG !e! tag:example.com,2000:\n",
    b"#",
    b"|",
    b">-",
    b"'",
    b'"',
    b"\\",
    b"@",
    b"`",
    b"%",
    b"~",
    b"null",
    b"yes",
    b"1.10",
    b"0x1F",
    b"2024-01-01",
    b".nan",
    b"9" * 5000,
)

_BYTE_OPS = _words(
    "flip insert delete truncate del-line dup-line swap-lines indent dedent token "
    "replace-range crlf utf16"
)


def mutate_bytes(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    for kind, where, amount, payload in ops:
        lines = data.splitlines(keepends=True) or [b""]
        pos = where % (len(data) + 1)
        line = where % len(lines)
        if kind == "flip" and data:
            i = where % len(data)
            data = data[:i] + bytes([data[i] ^ (1 << (amount % 8))]) + data[i + 1 :]
        elif kind == "insert":
            data = data[:pos] + payload + data[pos:]
        elif kind == "delete":
            data = data[:pos] + data[pos + 1 + amount % 16 :]
        elif kind == "truncate":
            data = data[:pos]
        elif kind == "del-line":
            data = b"".join(lines[:line] + lines[line + 1 :])
        elif kind == "dup-line":
            data = b"".join(lines[: line + 1] + [lines[line]] * (1 + amount % 3) + lines[line:])
        elif kind == "swap-lines":
            other = amount % len(lines)
            lines[line], lines[other] = lines[other], lines[line]
            data = b"".join(lines)
        elif kind == "indent":
            lines[line] = b" " * (1 + amount % 4) + lines[line]
            data = b"".join(lines)
        elif kind == "dedent":
            lines[line] = lines[line][1 + amount % 4 :] if lines[line][:1] == b" " else lines[line]
            data = b"".join(lines)
        elif kind == "token":
            data = data[:pos] + _TOKENS[amount % len(_TOKENS)] + data[pos:]
        elif kind == "replace-range":
            data = data[:pos] + payload + data[pos + amount % 32 :]
        elif kind == "crlf":
            data = data.replace(b"\n", b"\r\n" if amount % 2 else b"\r")
        elif kind == "utf16":
            text = data.decode("utf-8", "surrogateescape")
            data = text.encode("utf-16" if amount % 2 else "utf-16-le", "surrogatepass")
    return data


_byte_ops = st.lists(
    st.tuples(
        st.sampled_from(_BYTE_OPS),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
        st.binary(max_size=12),
    ),
    min_size=1,
    max_size=5,
)


@fuzz_settings(3000)
@given(seed=st.sampled_from(sorted(SEED_CONFIGS)), ops=_byte_ops, as_text=st.booleans())
def test_byte_mutated_configs(
    counts: Counter[str], seed: str, ops: list[tuple[str, int, int, bytes]], as_text: bool
) -> None:
    data = mutate_bytes(SEED_CONFIGS[seed].encode("utf-8"), ops)
    # The str entry point gets whatever decodes (with lone surrogates for bad bytes).
    source: str | bytes = data.decode("utf-8", "surrogateescape") if as_text else data
    check_config(source, counts, "byte-mutated")


# ------------------------------------------------------------------------------------------
# Structural mutations: a tiny YAML/JSON writer that can also write what dicts cannot hold
# (duplicate keys, non-string and complex keys, raw text such as 5000 digits).


@dataclass(frozen=True)
class YMap:
    """A mapping as written: ordered pairs, duplicate keys allowed."""

    pairs: tuple[tuple[object, object], ...]


@dataclass(frozen=True)
class Raw:
    """Text written verbatim (huge numbers, deep brackets), valid in YAML flow and JSON."""

    text: str


Tree = object  # YMap | tuple | scalar | Raw
Path_ = tuple[int, ...]

KNOWN_KEYS = _words(
    "version registries defaults lists repository tags format annotations state prune "
    "prevent_destroy manifests image platform platforms attestations os architecture "
    "variant os.version os.features insecure ca_file username_env password_env "
    "parallelism localhost:5000 << x-ext mediaType digest size schemaVersion config "
    "layers changes desired before after action children blobs body errors"
)

INTERESTING_STRINGS = (
    "",
    " ",
    "latest",
    "1.10",
    "yes",
    "no",
    "on",
    "null",
    "~",
    "true",
    "0x1F",
    "0o17",
    "1e400",
    ".inf",
    ".NaN",
    "2024-01-02",
    "2001-12-14t21:59:43.10-05:00",
    "oci",
    "docker",
    "absent",
    "present",
    "create",
    "delete",
    "no-op",
    "kind",
    "list",
    "image",
    "linux/amd64",
    "linux/arm64/v8",
    "unknown/unknown",
    "windows/amd64",
    "LINUX/AMD64",
    "a.io/b:1",
    "localhost:5000/acme/app",
    "localhost:5000/acme/app:latest",
    f"localhost:5000/acme/app@{DIGEST}",
    "docker.io/library/busybox",
    "index.docker.io/x",
    "[::1]:5000/x",
    "[fe80::1%eth0]:5000/x",
    "UPPER/case",
    "a" * 300,
    DIGEST,
    "sha256:" + "AB" * 32,
    "sha512:" + "ab" * 64,
    mt.OCI_INDEX,
    mt.DOCKER_LIST,
    mt.OCI_MANIFEST,
    mt.DOCKER_MANIFEST,
    "aGk=",
    "-x",
    ".x",
    "x\ny",
    "\u2028",
    "\x85",
    "\x9b31m",
    "\u200b",
    "\ufeff",
    "\U0001f600",
    "é",
    "K",  # KELVIN SIGN lower-cases to ASCII 'k'
    "İ",
)

_scalar_payloads = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(INTERESTING_STRINGS),
    st.sampled_from(KNOWN_KEYS),
    st.integers(300, 6000).map(lambda n: Raw("9" * n)),  # past int("...")'s 4300-digit limit
    st.integers(1, 300).map(lambda n: Raw("[" * n + "]" * n)),
    st.integers(1, 300).map(lambda n: Raw('{"k": ' * n + "1" + "}" * n)),
    st.sampled_from([Raw("1e400"), Raw("-1e400"), Raw("NaN"), Raw("Infinity"), Raw("-0")]),
)
_payloads = st.recursive(
    _scalar_payloads,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=5,
)


def _tree(value: object) -> Tree:
    if isinstance(value, dict):
        return YMap(tuple((k, _tree(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_tree(v) for v in value)
    return value


def _yaml_data(text: str) -> object:
    """Plain data of a seed config (merge keys applied, timestamps kept as text)."""
    from ruamel.yaml import YAML

    def plain(value: object) -> object:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return value.isoformat().replace("+00:00", "Z")  # type: ignore[attr-defined]

    return plain(YAML(typ="safe", pure=True).load(text))


def _paths(tree: Tree, path: Path_ = ()) -> list[Path_]:
    out = [path]
    if isinstance(tree, YMap):
        for i, (_, value) in enumerate(tree.pairs):
            out.extend(_paths(value, (*path, i)))
    elif isinstance(tree, tuple):
        for i, value in enumerate(tree):
            out.extend(_paths(value, (*path, i)))
    return out


def _get(tree: Tree, path: Path_) -> Tree:
    for i in path:
        tree = tree.pairs[i][1] if isinstance(tree, YMap) else tree[i]  # type: ignore[index]
    return tree


def _set(tree: Tree, path: Path_, new: Tree) -> Tree:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(tree, YMap):
        pairs = list(tree.pairs)
        key, value = pairs[head]
        pairs[head] = (key, _set(value, rest, new))
        return YMap(tuple(pairs))
    assert isinstance(tree, tuple)
    return (*tree[:head], _set(tree[head], rest, new), *tree[head + 1 :])


def _edit_children(parent: Tree, edit: str, index: int, item: object = None) -> Tree:
    """Delete the child at ``index``, insert ``item`` after it, or give it the key ``item``."""
    children: list[Any] = list(parent.pairs) if isinstance(parent, YMap) else list(parent)  # type: ignore[call-overload]
    if edit == "delete":
        del children[index]
    elif edit == "insert":
        children.insert(index + 1, item)
    else:
        children[index] = (item, children[index][1])
    return YMap(tuple(children)) if isinstance(parent, YMap) else tuple(children)


def _typo(key: str, n: int) -> str:
    if not key:
        return "x"
    i = n % len(key)
    choices = (
        key[:i] + key[i + 1 :],  # dropped letter
        key[:i] + key[i] * 2 + key[i:],  # doubled letter
        key.upper(),
        key + "s",
        " " + key,
        key + " ",
        "x-" + key,
        key.replace("_", "-"),
    )
    return choices[n % len(choices)]


def _swap_type(node: Tree, n: int) -> Tree:
    if isinstance(node, YMap):
        options: list[Tree] = [
            tuple(v for _, v in node.pairs),
            tuple(YMap((pair,)) for pair in node.pairs),
            "mapping",
            None,
        ]
    elif isinstance(node, tuple):
        options = [
            YMap(tuple((str(i), v) for i, v in enumerate(node))),
            YMap(tuple((v, None) for v in node if not isinstance(v, YMap | tuple))),
            node[0] if node else "",
            7,
        ]
    else:
        options = [(node,), YMap(((node if node is not None else "k", node),)), str(node), ()]
    return options[n % len(options)]


_STRUCT_OPS = _words("delete rename duplicate swap replace nest add empty key-type unicode")


def mutate_tree(tree: Tree, ops: list[tuple[str, int, int, object]]) -> Tree:
    for kind, where, n, payload in ops:
        paths = _paths(tree)
        path = paths[where % len(paths)]
        node = _get(tree, path)
        parent_path, index = path[:-1], path[-1] if path else -1
        parent = _get(tree, parent_path) if path else None
        value = _tree(payload)
        if kind == "delete" and parent is not None:
            tree = _set(tree, parent_path, _edit_children(parent, "delete", index))
        elif kind == "rename" and isinstance(parent, YMap):
            key = str(parent.pairs[index][0])
            new_key = _typo(key, n) if n % 3 else KNOWN_KEYS[n % len(KNOWN_KEYS)]
            tree = _set(tree, parent_path, _edit_children(parent, "rekey", index, new_key))
        elif kind == "duplicate" and parent is not None:
            copy: object = node
            if isinstance(parent, YMap):
                copy = (parent.pairs[index][0], value if n % 2 else node)
            tree = _set(tree, parent_path, _edit_children(parent, "insert", index, copy))
        elif kind == "swap":
            tree = _set(tree, path, _swap_type(node, n))
        elif kind == "replace":
            tree = _set(tree, path, value)
        elif kind == "nest":
            wrapped = node
            for level in range(1 + n % 70):
                wrapped = (wrapped,) if level % 2 else YMap((("k", wrapped),))
            tree = _set(tree, path, wrapped)
        elif kind == "add" and isinstance(node, YMap):
            key = payload if isinstance(payload, str) else KNOWN_KEYS[n % len(KNOWN_KEYS)]
            tree = _set(tree, path, YMap((*node.pairs, (key, value))))
        elif kind == "add" and isinstance(node, tuple):
            tree = _set(tree, path, (*node, value))
        elif kind == "empty":
            empty: Tree = (
                YMap(()) if isinstance(node, YMap) else () if isinstance(node, tuple) else ""
            )
            tree = _set(tree, path, empty if n % 2 else None)
        elif kind == "key-type" and isinstance(parent, YMap):
            keys: list[object] = [n, None, True, 1.5, (n,), YMap((("k", n),)), "", "\x00"]
            tree = _set(
                tree, parent_path, _edit_children(parent, "rekey", index, keys[n % len(keys)])
            )
        elif kind == "unicode":
            tree = _set(tree, path, payload if isinstance(payload, str) else str(payload))
        else:
            tree = _set(tree, path, value)
    return tree


_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./@:+-]*(?<!:)")


def _yaml_scalar(value: object, r: random.Random, *, empty_ok: bool = False) -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return r.choice(["null", "~", "Null", *([""] if empty_ok else [])])
    if isinstance(value, bool):
        return r.choice(["true", "True", "TRUE"] if value else ["false", "False", "FALSE"])
    if isinstance(value, int):
        return hex(value) if value >= 0 and r.random() < 0.2 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return r.choice([".nan", ".NaN"])
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and r.random() < 0.6:
        return text
    if text.isprintable() and r.random() < 0.5:
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=r.random() < 0.5)


def _yaml_flow(node: Tree, r: random.Random) -> str:
    if isinstance(node, YMap):
        inner = ", ".join(f"{_yaml_flow(k, r)}: {_yaml_flow(v, r)}" for k, v in node.pairs)
        return "{" + inner + "}"
    if isinstance(node, tuple):
        return "[" + ", ".join(_yaml_flow(v, r) for v in node) + "]"
    return _yaml_scalar(node, r)


def _yaml_block(node: Tree, indent: int, r: random.Random) -> list[str]:
    pad = " " * indent
    if isinstance(node, YMap) and node.pairs:
        lines = []
        for key, value in node.pairs:
            if isinstance(key, YMap | tuple):
                lines.append(f"{pad}? {_yaml_flow(key, r)}")
                head = f"{pad}:"
            else:
                head = f"{pad}{_yaml_scalar(key, r)}:"
            if isinstance(value, YMap | tuple) and value and r.random() < 0.85:
                lines.append(head)
                lines.extend(_yaml_block(value, indent + 2, r))
            else:
                text = (
                    _yaml_flow(value, r)
                    if isinstance(value, YMap | tuple)
                    else _yaml_scalar(value, r, empty_ok=True)
                )
                lines.append(f"{head} {text}" if text else head)
        return lines
    if isinstance(node, tuple) and node:
        lines = []
        for item in node:
            if isinstance(item, YMap | tuple) and item and r.random() < 0.85:
                lines.append(f"{pad}-")
                lines.extend(_yaml_block(item, indent + 2, r))
            else:
                lines.append(f"{pad}- {_yaml_flow(item, r)}")
        return lines
    return [pad + _yaml_flow(node, r)]


def render_json(node: Tree) -> str:
    """JSON with duplicate keys and raw text allowed; non-string keys become their text."""
    if isinstance(node, YMap):
        inner = ", ".join(f"{json.dumps(str(k))}: {render_json(v)}" for k, v in node.pairs)
        return "{" + inner + "}"
    if isinstance(node, tuple):
        return "[" + ", ".join(render_json(v) for v in node) + "]"
    if isinstance(node, Raw):
        return node.text
    return json.dumps(node)


STYLES = ("block", "flow", "json")


def render_config(tree: Tree, style: str, r: random.Random, *, decorate: bool = True) -> str:
    if style == "block":
        text = "\n".join(_yaml_block(tree, 0, r)) + "\n"
    elif style == "flow":
        text = _yaml_flow(tree, r) + "\n"
    else:
        text = render_json(tree) + "\n"
    if not decorate:
        return text
    roll = r.random()
    if roll < 0.05:
        text = "\ufeff" + text
    elif roll < 0.15:
        text = "---\n" + text
    elif roll < 0.18:
        text = "%YAML 1.2\n---\n" + text
    elif roll < 0.21:
        text = "%YAML 1.1\n---\n" + text
    if r.random() < 0.05:
        text += "...\n"
    if r.random() < 0.1:
        text = text.replace("\n", "\r\n")
    return text


SEED_TREES = {name: _tree(_yaml_data(text)) for name, text in SEED_CONFIGS.items()}

_struct_ops = st.lists(
    st.tuples(
        st.sampled_from(_STRUCT_OPS), st.integers(0, 1 << 16), st.integers(0, 1 << 16), _payloads
    ),
    min_size=1,
    max_size=4,
)


@fuzz_settings(2000)
@given(
    seed=st.sampled_from(sorted(SEED_TREES)),
    ops=_struct_ops,
    style=st.sampled_from(STYLES),
    rng=st.integers(0, 2**32 - 1),
)
def test_structurally_mutated_configs(
    counts: Counter[str], seed: str, ops: list[tuple[str, int, int, object]], style: str, rng: int
) -> None:
    tree = mutate_tree(SEED_TREES[seed], ops)
    check_config(render_config(tree, style, random.Random(rng)), counts, "structural")


# ------------------------------------------------------------------------------------------
# Hostile YAML constructs, alone or planted inside a valid config


_VALID_LIST = "  - repository: a.io/b\n    tags: [x]\n    manifests: [{image: a.io/b:1}]\n"

_PLACES = (
    "{f}\n",
    "version: 1\nx-fuzz: {f}\nlists:\n" + _VALID_LIST,
    "version: {f}\nlists:\n" + _VALID_LIST,
    "version: 1\nlists:\n" + _VALID_LIST + "    annotations: {k: {f}}\n",
    "version: 1\nlists:\n  - repository: a.io/b\n    tags: [x, {f}]\n"
    "    manifests: [{image: a.io/b:1}]\n",
    "version: 1\nlists:\n  - repository: a.io/b\n    tags: [x]\n"
    "    manifests: [{image: a.io/b:1, platform: {f}}]\n",
    "version: 1\nlists:\n  - repository: {f}\n    tags: [x]\n    manifests: [{image: a.io/b:1}]\n",
    "registries: {a.io: {f}}\nversion: 1\nlists:\n" + _VALID_LIST,
    "{f}: 1\nversion: 1\nlists:\n" + _VALID_LIST,
    "version: 1\nlists: {f}\n",
    "version: 1\nlists:\n" + _VALID_LIST + "  - {f}\n",
    "x: &a {f}\nversion: 1\nlists:\n  - repository: a.io/b\n    tags: [x]\n"
    "    manifests: [{image: a.io/b:1, platform: *a}]\n",
)

_FIXED_FRAGMENTS = (
    "",
    " ",
    "~",
    "---",
    "...",
    "# only a comment",
    "\ufeff",
    "&r [*r]",
    "&r {k: *r}",
    "&r {<<: *r}",
    "&r {<<: [*r]}",
    "&r [&s [*r, *s]]",
    "*undefined",
    "&a &b x",
    "{<<: 1}",
    "{<<: [1, 2]}",
    "{<<: {k: 1}, k: 2}",
    "{a: 1, a: 2}",
    "{? [a]: 1}",
    "[a, b]: c",
    "!!binary aGk=",
    "!!python/object/apply:os.system [echo]",
    "!!python/name:os.system ''",
    "!custom x",
    "!e!foo x",
    "!<tag:yaml.org,2002:str> x",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!!timestamp 2001-12-14",
    "!!int x",
    "!!float x",
    "!!bool maybe",
    "!!null x",
    "!!str [a]",
    "!!map [a]",
    "!!seq {a: 1}",
    "!!merge x",
    "0x_1F",
    "0b101",
    "0o17",
    "1_000",
    "+12",
    "012",
    "1e3",
    ".NaN",
    "-.inf",
    "2001-12-14t21:59:43.10-05:00",
    "yes",
    "On",
    "=",
    "<<",
    "|\n  literal\n",
    ">-\n  folded\n",
    "'unterminated",
    '"bad \\q escape"',
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\x9b31m"',
    '"\\u2028"',
    '"\\0"',
    "- - - x",
    "\tx",
    "key:\tvalue",
    "{a: [b, {c: [d, {e: f}]}]}",
    "%YAML 1.1\n---\nx",
    "%YAML 9.9\n---\nx",
    "x\n---\ny",
    "[a, b",
    "{a: b",
    "]",
    "}",
    "@x",
    "`x",
)


_CONTROL_CHARS = (
    *"\x00\x01\x08\x0b\x0c\x1b\x7f\x80\x85\x9b",
    *"\ud800\udfff\ufeff\ufffe\uffff\u2028\u2029\U0010ffff",
)


def _deep(depth: int, kind: int) -> str:
    if kind == 0:
        return "[" * depth + "]" * depth
    if kind == 1:
        return "{k: " * depth + "v" + "}" * depth
    if kind == 2:
        return "[" * depth  # unbalanced
    if kind == 3:
        return "[{k: " * depth + "v" + "}]" * depth
    # block nesting, written as a flow value would not be: only valid as a whole document
    return "".join("  " * i + f"k{i}:\n" for i in range(depth))


_fragments = st.one_of(
    st.sampled_from(_FIXED_FRAGMENTS),
    # Around MAX_DEPTH and past it; far deeper flow costs ruamel ~0.4 s per parse, and the
    # loader's own tests already cover 50,000 levels.
    st.builds(_deep, st.sampled_from([1, 2, 10, 63, 64, 65, 66, 100, 300]), st.integers(0, 4)),
    st.builds(
        lambda n, quote: quote + "x" * n + quote,
        st.sampled_from([1_000, 20_000, 100_000]),
        st.sampled_from(["", "'", '"']),
    ),
    st.builds(lambda n: "a.io/b:" + "t" * n, st.integers(100, 5000)),
    st.builds(lambda n: "&" + "a" * n + " x", st.integers(100, 5000)),
    st.builds(lambda n: "[" + ", ".join(["1"] * n) + "]", st.integers(0, 500)),
    st.builds(lambda n: "{" + ", ".join(f"k{i}: {i}" for i in range(n)) + "}", st.integers(0, 300)),
    st.builds(lambda n: "9" * n, st.integers(4000, 20_000)),
    st.builds(
        lambda c, s: s + c + s,
        st.sampled_from(_CONTROL_CHARS),
        st.sampled_from(["", "x", "'", '"']),
    ),
    st.text(max_size=30),
)

# Mostly what the loader can read, so fragments reach the schema; the rest must be refused.
_ENCODINGS = (
    "str",
    "str",
    "utf-8",
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-be",
    "utf-32",
    "latin-1",
)


def _encoded(text: str, encoding: str) -> str | bytes:
    if encoding == "str":
        return text
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


@fuzz_settings(1500)
@given(
    place=st.sampled_from(_PLACES),
    fragment=_fragments,
    encoding=st.sampled_from(_ENCODINGS),
)
def test_hostile_yaml_constructs(
    counts: Counter[str], place: str, fragment: str, encoding: str
) -> None:
    check_config(_encoded(place.replace("{f}", fragment), encoding), counts, "hostile")


def _bomb(width: int, levels: int, merge: bool) -> tuple[str, int]:
    """A "billion laughs" file and the number of values it expands to."""
    if merge:
        text = "m0: &m0 {" + ", ".join(f"k{i}: 1" for i in range(width)) + "}\n"
        for level in range(1, levels + 1):
            refs = ", ".join([f"*m{level - 1}"] * width)
            text += f"m{level}: &m{level} {{<<: [{refs}]}}\n"
        # Merged keys collapse (same names), but every merge source is still expanded.
        size = sum(width**level for level in range(levels + 1))
    else:
        text = "a0: &a0 [" + ", ".join(["lol"] * width) + "]\n"
        for level in range(1, levels + 1):
            text += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]\n"
        size = sum(width**level for level in range(1, levels + 2))
    return text, size


BOMBS = [(9, 9, False), (2, 19, False), (9, 11, True), (3, 3, False)]


@pytest.mark.parametrize(("width", "levels", "merge"), BOMBS)
def test_alias_bombs(counts: Counter[str], width: int, levels: int, merge: bool) -> None:
    # Parametrized, not generated: each bomb over the limit costs about a second to refuse.
    text, size = _bomb(width, levels, merge)
    outcome = check_config(text, counts, "alias-bomb")
    assert isinstance(outcome, ConfigError)
    if size > 2 * MAX_NODES:
        assert [p.message for p in outcome.problems] == [
            f"too many nodes (YAML alias expansion?): more than {MAX_NODES} values once aliases "
            "are expanded, the limit for one file"
        ]


# ------------------------------------------------------------------------------------------
# Arbitrary bytes and text


_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
_yamlish_text = st.text(
    st.sampled_from([*"ab01:-[]{}&*!|>'\"#%@`,? \n\t\r\\~.<=", "\x85", "\u2028", "é"]),
    max_size=80,
)


@fuzz_settings(3500)
@given(
    source=st.one_of(
        st.binary(max_size=300),
        _any_text,
        _yamlish_text,
        _yamlish_text.map(lambda t: t.encode("utf-8")),
    )
)
def test_arbitrary_bytes_and_text_as_config(counts: Counter[str], source: str | bytes) -> None:
    check_config(source, counts, "arbitrary")


# ------------------------------------------------------------------------------------------
# The worst inputs the loader's own limits allow must still be quick


@pytest.mark.timeout(HANG_BOUND_SECONDS * 5 + 60)
@pytest.mark.parametrize("name", sorted(WORST_CASES))
def test_worst_case_within_the_limits_finishes(counts: Counter[str], name: str) -> None:
    # A child process, so a runaway parse is cut off at the bound instead of stalling the run.
    counts["config worst-case"] += 1
    result = load_worst_case(name, HANG_BOUND_SECONDS)
    assert result.outcome != "still running", f"{name}: still running after {HANG_BOUND_SECONDS} s"
    # Within the limits, so refused for what it says, never for its size.
    assert "too large" not in result.outcome and "too many" not in result.outcome


# ------------------------------------------------------------------------------------------
# References, tags and digests


_REGISTRIES = (
    "",
    "localhost",
    "localhost:5000",
    "LOCALHOST",
    "a.io",
    "A.io",
    "a.io:0",
    "a.io:99999999999",
    "a.io:x",
    "-a.io",
    "a-.io",
    "a..io",
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "127.0.0.1:5000",
    "[::1]",
    "[::1]:5000",
    "[::ffff:1.2.3.4]",
    "[fe80::1%eth0]:5000",
    "[zz]",
    "[]",
    "xn--bcher-kva.example",
    "é.io",
)
_path_component = st.one_of(
    st.lists(
        st.text("ab09", min_size=1, max_size=3),
        min_size=1,
        max_size=4,
    ).flatmap(
        lambda words: st.sampled_from([".", "_", "__", "-", "--"]).map(lambda s: s.join(words))
    ),
    st.sampled_from(["library", "x", "a__b", "a___b", "a--b", "a.", "_a", "A", "é", ""]),
    st.text(max_size=6),
)
_tags = st.one_of(
    st.text("aZ09_.-", min_size=1, max_size=12),
    st.text(max_size=10),
    st.sampled_from(["t" * 128, "t" * 129, "_", ".x", "-x"]),
)
_digests = st.one_of(
    st.just(DIGEST),
    st.sampled_from(["sha256:" + "AB" * 32, "sha256:" + "ab" * 31, "sha512:" + "ab" * 64, "x:y"]),
    st.builds(
        lambda a, n: f"{a}:" + "ab" * n,
        st.sampled_from(["sha256", "sha512", "x"]),
        st.integers(0, 40),
    ),
    st.text(max_size=12),
)


@st.composite
def _reference_like(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_REGISTRIES) | st.text(max_size=8))
    components = draw(st.lists(_path_component, min_size=1, max_size=4))
    text = (text + "/" if text and draw(st.booleans()) else "") + "/".join(components)
    if draw(st.booleans()):
        text += ":" + draw(_tags)
    if draw(st.booleans()):
        text += "@" + draw(_digests)
    if draw(st.integers(0, 9)) == 0:
        text = (
            draw(st.sampled_from(["", "http://", " ", "\n"]))
            + text
            + draw(st.sampled_from(["", "\n", " "]))
        )
    return text


_reference_texts = st.one_of(
    _reference_like(),
    st.text(max_size=60),
    st.text(st.sampled_from(list("aZ09.-_:/@[]%")), max_size=40),
    st.just("ab" * 32),
)


@fuzz_settings(1500)
@given(text=_reference_texts)
def test_parse_reference_round_trips_or_refuses(counts: Counter[str], text: str) -> None:
    counts["reference"] += 1
    for parse in (parse_reference, parse_repository):
        try:
            ref = parse(text)
        except ReferenceError as exc:
            assert_readable(str(exc))
            continue
        assert isinstance(ref, Reference)
        assert parse_reference(str(ref)) == ref, (text, str(ref))
        assert str(parse_reference(str(ref))) == str(ref)
        assert ref.tag is None or TAG_ORACLE.fullmatch(ref.tag), ref
        assert ref.digest is None or SHA256_ORACLE.fullmatch(ref.digest), ref
        if parse is parse_repository:
            assert ref.tag is None and ref.digest is None


@fuzz_settings(1000)
@given(text=st.one_of(_tags, _digests, st.text(max_size=140), st.just(DIGEST + "\n")))
def test_validate_tag_and_digest_agree_with_the_grammar(counts: Counter[str], text: str) -> None:
    counts["tag/digest"] += 1
    for validate, oracle in ((validate_tag, TAG_ORACLE), (validate_digest, SHA256_ORACLE)):
        try:
            assert validate(text) == text
            valid = True
        except ReferenceError as exc:
            assert_readable(str(exc))
            valid = False
        assert valid == bool(oracle.fullmatch(text)), (validate.__name__, text)


# ------------------------------------------------------------------------------------------
# Platforms


_PLATFORM_WORDS = (
    "linux",
    "windows",
    "darwin",
    "macos",
    "unknown",
    "amd64",
    "x86_64",
    "arm64",
    "aarch64",
    "arm",
    "armhf",
    "i386",
    "v8",
    "v7",
    "8",
    "LINUX",
    "K",
    "",
    " ",
    "a/b",
)
_platform_texts = st.one_of(
    st.lists(st.sampled_from(_PLATFORM_WORDS) | st.text(max_size=5), max_size=5).map("/".join),
    st.text(max_size=30),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
_field = st.one_of(st.sampled_from(_PLATFORM_WORDS), _json_values)
_platform_objects = st.one_of(
    _json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "os": _field,
            "architecture": _field,
            "variant": _field,
            "os.version": _field,
            "os.features": st.lists(_field, max_size=3) | _field,
            "features": _field,
        },
    ),
)


def _check_platform(platform: Platform) -> None:
    assert isinstance(platform, Platform)
    assert Platform.from_json(platform.to_json()) == platform
    json.dumps(platform.to_json())
    assert platform.normalized().key() == platform.key()
    str(platform)


@fuzz_settings(700)
@given(text=st.one_of(_platform_texts, _json_values))
def test_platform_parse_returns_a_platform_or_refuses(counts: Counter[str], text: Any) -> None:
    counts["platform parse"] += 1
    try:
        platform = Platform.parse(text)
    except PlatformError as exc:
        assert_readable(str(exc))
        return
    _check_platform(platform)
    parts = [platform.os, platform.architecture, platform.variant]
    assert all(PLATFORM_PART_ORACLE.fullmatch(p) for p in parts if p is not None), platform
    assert Platform.parse(str(platform)) == platform


@fuzz_settings(700)
@given(obj=_platform_objects)
def test_platform_from_json_returns_a_platform_or_refuses(counts: Counter[str], obj: Any) -> None:
    counts["platform from_json"] += 1
    try:
        platform = Platform.from_json(obj)
    except PlatformError as exc:
        assert_readable(str(exc))
        return
    _check_platform(platform)


# ------------------------------------------------------------------------------------------
# Manifests


_MANIFEST_SEEDS: dict[str, dict[str, Any]] = {
    "oci-index": {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": DIGEST,
                "size": 423,
                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
                "annotations": {"org.opencontainers.image.ref.name": "x"},
            },
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": DIGEST_B,
                "size": 1500,
                "platform": {
                    "architecture": "amd64",
                    "os": "windows",
                    "os.version": "10.0.17763.1",
                    "os.features": ["win32k"],
                },
                "urls": ["https://example.com/layer"],
            },
        ],
        "annotations": {"dev.mplat.managed-by": "mplat"},
    },
    "docker-list": {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_LIST,
        "manifests": [
            {
                "mediaType": mt.DOCKER_MANIFEST,
                "size": 7143,
                "digest": DIGEST,
                "platform": {"architecture": "ppc64le", "os": "linux"},
            }
        ],
    },
    "oci-image": {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": DIGEST, "size": 10},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": DIGEST_B,
                "size": 0,
            },
            {"mediaType": "x", "digest": "sha512:" + "ab" * 64, "size": 1},
        ],
    },
    "docker-image": {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "digest": DIGEST, "size": 1469},
        "layers": [],
    },
}

_CONTENT_TYPES = (
    None,
    "",
    mt.OCI_INDEX,
    mt.DOCKER_LIST,
    mt.OCI_MANIFEST,
    mt.DOCKER_MANIFEST,
    mt.OCI_INDEX.upper() + "; charset=utf-8",
    "application/json",
    "text/html",
    ";",
    "\x00",
)


def _hostile_json(kind: int, n: int) -> bytes:
    head = '{"schemaVersion": 2, "mediaType": "' + mt.OCI_INDEX + '", '
    entry = '{"mediaType": "x", "digest": "%s", "size": %s}'
    if kind == 0:
        return ("[" * n + "]" * n).encode()
    if kind == 1:
        return (head + '"manifests": ' + "[" * n + "]" * n + "}").encode()
    if kind == 2:
        return (head + '"manifests": [' + entry % (DIGEST, "9" * n) + "]}").encode()
    if kind == 3:
        return (head + '"x": ' + "1" * n + ', "manifests": []}').encode()
    if kind == 4:
        return (head + '"manifests": [' + entry % (DIGEST, "1e" + str(n)) + "]}").encode()
    if kind == 5:
        return (head + '"manifests": [' + entry % (DIGEST + "\\n", "1") + "]}").encode()
    if kind == 6:
        return (head + '"manifests": [' + entry % ("sha512:abc\\n", "1") + "]}").encode()
    return (head + '"manifests": [' + entry % (DIGEST, "NaN") + "]}").encode()


_manifest_bytes = st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda seed, ops: render_json(mutate_tree(_tree(_MANIFEST_SEEDS[seed]), ops)).encode(),
        st.sampled_from(sorted(_MANIFEST_SEEDS)),
        _struct_ops,
    ),
    st.builds(
        lambda seed, ops: mutate_bytes(json.dumps(_MANIFEST_SEEDS[seed]).encode(), ops),
        st.sampled_from(sorted(_MANIFEST_SEEDS)),
        _byte_ops,
    ),
    st.builds(_hostile_json, st.integers(0, 7), st.sampled_from([1, 100, 1000, 5000, 100_000])),
)


def _check_descriptor(d: Descriptor) -> None:
    assert isinstance(d.media_type, str) and d.media_type, d
    assert isinstance(d.digest, str) and DIGEST_ORACLE.fullmatch(d.digest), d.digest
    assert not d.digest.startswith("sha256:") or SHA256_ORACLE.fullmatch(d.digest), d.digest
    assert type(d.size) is int and d.size >= 0, d.size
    assert d.platform is None or isinstance(d.platform, Platform)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in d.annotations.items())
    assert all(isinstance(u, str) for u in d.urls)


@fuzz_settings(2000)
@given(data=_manifest_bytes, content_type=st.sampled_from(_CONTENT_TYPES))
def test_parse_manifest_returns_valid_descriptors_or_refuses(
    counts: Counter[str], data: bytes, content_type: str | None
) -> None:
    counts["manifest"] += 1
    started = time.process_time()
    try:
        manifest = parse_manifest(data, content_type)
    except ManifestError as exc:
        assert_readable(str(exc))
        return
    finally:
        assert time.process_time() - started < PER_CALL_SECONDS
    if isinstance(manifest, Index):
        assert manifest.media_type in mt.INDEX_TYPES
        descriptors: tuple[Descriptor, ...] = manifest.manifests
        assert all(isinstance(v, str) for v in manifest.annotations.values())
    else:
        assert isinstance(manifest, ImageManifest)
        assert manifest.media_type in mt.IMAGE_TYPES
        descriptors = manifest.blobs()
    for descriptor in descriptors:
        _check_descriptor(descriptor)


# ------------------------------------------------------------------------------------------
# Plan files


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-plans")


@pytest.fixture(scope="module")
def plan_seed(plan_dir: Path) -> bytes:
    path = plan_dir / "seed.json"
    save_plan(sample_plan(), path)
    assert load_plan(path) == sample_plan()
    return path.read_bytes()


_plan_mutation = st.one_of(
    st.tuples(st.just("bytes"), _byte_ops),
    st.tuples(st.just("tree"), _struct_ops),
    st.tuples(st.just("arbitrary"), st.binary(max_size=300)),
    st.tuples(
        st.just("hostile"), st.tuples(st.integers(0, 7), st.sampled_from([1, 5000, 100_000]))
    ),
)


@fuzz_settings(1500)
@given(mutation=_plan_mutation)
def test_load_plan_returns_a_usable_plan_or_refuses(
    counts: Counter[str], plan_dir: Path, plan_seed: bytes, mutation: tuple[str, Any]
) -> None:
    counts["plan file"] += 1
    kind, how = mutation
    if kind == "bytes":
        data = mutate_bytes(plan_seed, how)
    elif kind == "tree":
        data = render_json(mutate_tree(_tree(json.loads(plan_seed)), how)).encode()
    elif kind == "arbitrary":
        data = how
    else:
        data = _hostile_json(*how).replace(
            b'"schemaVersion": 2', b'"format": "mplat-plan", "version": 1'
        )
    path = plan_dir / "plan.json"
    path.write_bytes(data)
    started = time.process_time()
    try:
        plan = load_plan(path)
    except PlanFileError as exc:
        assert_readable(str(exc))
        assert str(path) in str(exc)
        return
    finally:
        assert time.process_time() - started < PER_CALL_SECONDS
    assert isinstance(plan, Plan)
    # `mplat apply PLAN` prints the loaded plan before anything else: it must render.
    try:
        render_plan(plan, Style(False))
        json.dumps(plan_to_json(plan))
    except Exception as exc:  # pragma: no cover - reported as the failure
        pytest.fail(f"load_plan accepted a plan that cannot be shown: {exc!r}")


# ------------------------------------------------------------------------------------------
# What the fuzzers found, pinned down one case at a time (each names the input that broke)


MANIFEST_CASES = {
    "5000-digit number": (
        b'{"schemaVersion": 2, "manifests": [], "x": ' + b"1" * 5000 + b"}",
        None,
    ),
    "5000-digit size": (_hostile_json(2, 5000), None),
    "newline in the body's mediaType": (
        b'{"schemaVersion": 2, "mediaType": "a\\nb", "manifests": []}',
        None,
    ),
    "escape sequence in Content-Type": (
        json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode(),
        "\x1b[2J\x9b31m",
    ),
}


@pytest.mark.parametrize(("data", "content_type"), MANIFEST_CASES.values(), ids=MANIFEST_CASES)
def test_manifest_found_by_fuzzing(data: bytes, content_type: str | None) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, content_type)
    assert_readable(str(caught.value))


PLAN_CASES: dict[str, tuple[tuple[str | int, ...], object]] = {
    "infinite size": (("changes", 0, "after", "manifests", 0, "size"), math.inf),
    "platform is a list": (("changes", 0, "after", "manifests", 0, "platform"), ["linux"]),
    "platform is a string": (("changes", 0, "after", "manifests", 0, "platform"), "linux/amd64"),
    "null warning": (("changes", 1, "warnings"), [None, "w"]),
    "list warning": (("changes", 1, "warnings"), [["w"]]),
    "null diff line": (("changes", 1, "diff"), [None]),
    "an error (never saved)": (("errors",), [{"message": 5}]),
}


@pytest.mark.parametrize(("path", "value"), PLAN_CASES.values(), ids=PLAN_CASES)
def test_plan_file_found_by_fuzzing(
    plan_dir: Path, plan_seed: bytes, path: tuple[str | int, ...], value: object
) -> None:
    doc = json.loads(plan_seed)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    plan_path = plan_dir / "edited.json"
    plan_path.write_text(json.dumps(doc))
    try:
        plan = load_plan(plan_path)
    except PlanFileError as exc:
        assert_readable(str(exc))
        return
    # Accepted, so `mplat apply PLAN` is about to print it.
    render_plan(plan, Style(False))
    json.dumps(plan_to_json(plan))
