"""Reading the config file: missing, unreadable, not a regular file, too large, not UTF-8."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mplat.config import read
from mplat.config.loader import load_config, load_config_text
from mplat.config.model import (
    ConfigError,
    Location,
)
from mplat.config.read import MAX_FILE_BYTES
from tests.support.configs import (
    VALID_HEAD,
    Problem,
    problems_of,
    write,
)


def test_text_and_bytes_input_and_a_byte_order_mark() -> None:
    text = VALID_HEAD + "    manifests: [{image: 'localhost:5000/acme/app:1'}]\n"
    from_text = load_config_text(text, "inline.yaml")
    from_bytes = load_config_text(b"\xef\xbb\xbf" + text.encode(), "inline.yaml")
    assert from_text == from_bytes
    assert from_text.path == "inline.yaml"
    assert from_bytes.lists[0].location == Location("inline.yaml", 3, 5)


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


# ------------------------------------------------------------------------------------------
# The stage on its own


def test_read_file_and_source_text_are_the_first_stage(tmp_path: Path) -> None:
    path = write(tmp_path, VALID_HEAD)
    data = read.read_file(str(path))
    assert data == VALID_HEAD.encode()
    assert read.source_text(b"\xef\xbb\xbf" + data, str(path)) == VALID_HEAD
    assert read.source_text("\ufeff" + VALID_HEAD, str(path)) == VALID_HEAD
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        read.source_text(b"\xff", "x.yaml")


def test_config_files_expand_directories_sorted_and_once(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    (conf / "nested").mkdir(parents=True)
    for name in ("b.yml", "a.yaml", ".hidden.yaml", "notes.txt", "nested/c.yaml"):
        (conf / name).write_text("version: 1\n")
    (conf / "dir.yaml").mkdir()  # a directory named like a file is not a file
    single = tmp_path / "single.yaml"
    single.write_text("version: 1\n")
    assert read.config_files([str(single), str(conf), str(conf / "a.yaml")]) == [
        str(single),
        str(conf / "a.yaml"),
        str(conf / "b.yml"),
    ]
    # Missing paths pass through: reading them reports "no such file" at their name.
    assert read.config_files([str(tmp_path / "gone.yaml")]) == [str(tmp_path / "gone.yaml")]


def test_config_files_refuse_a_directory_without_yaml(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ConfigError) as caught:
        read.config_files([str(tmp_path)])
    assert str(caught.value) == f"{tmp_path}: is a directory with no *.yaml or *.yml files in it"
