"""Stage 1 of loading: the config file's bytes, and its text.

Kept apart from YAML so that every way a *file* can be wrong (missing, a FIFO, a device,
too large, not UTF-8) is worded here once, and so that several files can be read the same
way before their documents are merged.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from mplat.config.model import ConfigError
from mplat.files import read_fd_capped

__all__ = [
    "MAX_FILE_BYTES",
    "SPLIT_HINT",
    "check_size",
    "config_files",
    "decode",
    "read_file",
    "source_text",
]

YAML_SUFFIXES = (".yaml", ".yml")

MAX_FILE_BYTES = 6 * 1024 * 1024
"""A config of 10,000 one-tag lists of 3 entries with platforms is 3-4.5 MB, so this leaves
room; parsing costs up to ~1.2 s per MiB of hostile YAML (pure-Python ruamel), so it also
bounds the time a hostile file can take."""

SPLIT_HINT = "split the lists into several files (see Limits in the README)"
"""What every per-file limit message advises."""


def check_size(size: int, filename: str) -> None:
    """Refuse ``size`` bytes if over MAX_FILE_BYTES."""
    if size > MAX_FILE_BYTES:
        raise ConfigError.at(
            filename,
            0,
            0,
            f"the file is too large: {size} bytes, over the limit of {MAX_FILE_BYTES} bytes "
            f"(6 MiB) for one file; {SPLIT_HINT}",
        )


def config_files(paths: Sequence[str]) -> list[str]:
    """The files ``-f`` names: a directory stands for its ``*.yaml``/``*.yml`` files.

    As Terraform reads a directory: every file directly in it, sorted by name, not
    recursive, hidden files skipped. A file named twice (``-f a.yaml -f .``) is read once,
    or its lists would be declared twice.
    """
    out: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError as exc:
                raise ConfigError.at(
                    path, 0, 0, f"cannot list the directory: {_os_reason(exc)}"
                ) from None
            found = [
                os.path.join(path, name)
                for name in names
                if name.endswith(YAML_SUFFIXES)
                and not name.startswith(".")
                and os.path.isfile(os.path.join(path, name))
            ]
            if not found:
                raise ConfigError.at(
                    path, 0, 0, "is a directory with no *.yaml or *.yml files in it"
                )
        else:
            found = [path]
        for name in found:
            key = os.path.realpath(name)
            if key not in seen:
                seen.add(key)
                out.append(name)
    return out


def read_file(filename: str) -> bytes:
    """Read at most MAX_FILE_BYTES + 1 bytes, refusing anything that could block or never end."""
    # O_NONBLOCK: opening a FIFO without a writer must not hang; it is cleared again below.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(filename, flags)
    except FileNotFoundError:
        raise ConfigError.at(filename, 0, 0, "no such file") from None
    except IsADirectoryError:
        raise ConfigError.at(filename, 0, 0, "is a directory, expected a YAML file") from None
    except PermissionError:
        raise ConfigError.at(filename, 0, 0, "cannot read the file: permission denied") from None
    except (OSError, ValueError) as exc:  # ValueError: NUL byte in the path
        raise ConfigError.at(filename, 0, 0, f"cannot read the file: {_os_reason(exc)}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError.at(filename, 0, 0, "is a directory, expected a YAML file")
        if stat.S_ISFIFO(st.st_mode):
            os.set_blocking(fd, True)  # a pipe (e.g. <(generate-config)) is read to its end
        elif not stat.S_ISREG(st.st_mode):
            raise ConfigError.at(filename, 0, 0, "is not a regular file, expected a YAML file")
        else:
            check_size(st.st_size, filename)
        data = read_fd_capped(fd, MAX_FILE_BYTES)
    except OSError as exc:
        raise ConfigError.at(filename, 0, 0, f"cannot read the file: {_os_reason(exc)}") from None
    finally:
        os.close(fd)
    check_size(len(data), filename)
    return data


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc)


def decode(data: bytes, filename: str) -> str:
    """UTF-8 text of ``data``; a bad byte is reported at its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        # Everything before the bad byte decoded fine, so columns count characters like editors.
        column = len(data[line_start : exc.start].decode("utf-8")) + 1
        hint = ""
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = " (the file looks like UTF-16; save it as UTF-8)"
        message = f"the file is not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded"
        raise ConfigError.at(filename, line, column, message + hint) from None


def source_text(text: str | bytes, filename: str) -> str:
    """The text YAML is parsed from: size-checked, decoded, without a byte order mark."""
    if isinstance(text, bytes):
        check_size(len(text), filename)
        text = decode(text, filename)
    elif len(text) > MAX_FILE_BYTES:
        check_size(len(text.encode("utf-8", "surrogatepass")), filename)
    return text.removeprefix("\ufeff")  # a BOM is not a column editors count
