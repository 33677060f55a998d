"""Tests for mplat.values.platform: parsing, JSON shapes, containerd normalisation, matching."""

from __future__ import annotations

import json

import pytest

from mplat.values.platform import Platform, PlatformError

P = Platform

# --- parse -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", P("linux", "amd64")),
        ("linux/arm64/v8", P("linux", "arm64", "v8")),
        ("linux/arm/v7", P("linux", "arm", "v7")),
        ("windows/amd64", P("windows", "amd64")),
        ("Linux/AMD64", P("linux", "amd64")),
        ("linux/x86_64", P("linux", "x86_64")),  # kept verbatim, not normalised
        ("linux/arm64/v8.2", P("linux", "arm64", "v8.2")),
        ("linux/x86-64/v1", P("linux", "x86-64", "v1")),
        ("unknown/unknown", P("unknown", "unknown")),
    ],
)
def test_parse_valid(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected os/arch"),
        ("linux", "expected os/arch"),
        ("/amd64", "empty os"),
        ("linux/", "empty architecture"),
        ("linux/arm/", "empty variant"),
        ("linux//v7", "empty architecture"),
        ("linux/arm/v7/extra", "more than 3"),
        ("linux/amd 64", "may only contain"),
        ("linux/amd64\n", "may only contain"),
        ("linux/arm/v7+", "may only contain"),
        ("lin:ux/amd64", "may only contain"),
    ],
)
def test_parse_invalid(text: str, fragment: str) -> None:
    with pytest.raises(PlatformError) as info:
        Platform.parse(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_parse_rejects_non_string() -> None:
    with pytest.raises(PlatformError):
        Platform.parse(42)  # type: ignore[arg-type]


# --- from_json ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"architecture": "amd64", "os": "linux"}, P("linux", "amd64")),
        ({"architecture": "arm64", "os": "linux", "variant": "v8"}, P("linux", "arm64", "v8")),
        (
            {
                "architecture": "amd64",
                "os": "windows",
                "os.version": "10.0.17763.1066",
                "os.features": ["win32k"],
            },
            P("windows", "amd64", None, "10.0.17763.1066", ("win32k",)),
        ),
        # image config blob: extra top-level keys are ignored
        (
            {
                "architecture": "arm",
                "os": "linux",
                "variant": "v7",
                "config": {"Env": ["PATH=/bin"]},
                "rootfs": {"type": "layers", "diff_ids": []},
                "created": "2024-01-01T00:00:00Z",
            },
            P("linux", "arm", "v7"),
        ),
        # Docker-list-only CPU "features" is ignored
        ({"architecture": "amd64", "os": "linux", "features": ["sse4"]}, P("linux", "amd64")),
        # values are kept verbatim, not lower-cased or normalised
        ({"architecture": "X86_64", "os": "Linux"}, P("Linux", "X86_64")),
        # Go omitempty semantics: null / "" mean absent
        (
            {"architecture": "amd64", "os": "linux", "variant": "", "os.version": None},
            P("linux", "amd64"),
        ),
        ({"architecture": "amd64", "os": "linux", "os.features": None}, P("linux", "amd64")),
    ],
)
def test_from_json_valid(obj: object, expected: Platform) -> None:
    assert Platform.from_json(obj) == expected


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (None, "JSON object"),
        ("linux/amd64", "JSON object"),
        ([{"os": "linux", "architecture": "amd64"}], "JSON object"),
        ({"architecture": "amd64"}, "'os'"),
        ({"os": "linux"}, "'architecture'"),
        ({"os": "", "architecture": "amd64"}, "'os'"),
        ({"os": "linux", "architecture": ""}, "'architecture'"),
        ({"os": "linux", "architecture": 64}, "'architecture' must be a string"),
        ({"os": "linux", "architecture": "arm", "variant": 7}, "'variant' must be a string"),
        ({"os": "windows", "architecture": "amd64", "os.version": 10.0}, "'os.version'"),
        ({"os": "windows", "architecture": "amd64", "os.features": "win32k"}, "'os.features'"),
        ({"os": "windows", "architecture": "amd64", "os.features": [1]}, "'os.features'"),
    ],
)
def test_from_json_invalid(obj: object, fragment: str) -> None:
    with pytest.raises(PlatformError) as info:
        Platform.from_json(obj)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# --- to_json -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (P("linux", "amd64"), '{"architecture": "amd64", "os": "linux"}'),
        (P("linux", "arm", "v7"), '{"architecture": "arm", "os": "linux", "variant": "v7"}'),
        (
            P("windows", "amd64", None, "10.0.14393.2068", ("win32k",)),
            '{"architecture": "amd64", "os": "windows", "os.version": "10.0.14393.2068", '
            '"os.features": ["win32k"]}',
        ),
        (
            P("linux", "arm64", "v8", "6.1", ("b", "a")),
            '{"architecture": "arm64", "os": "linux", "os.version": "6.1", '
            '"os.features": ["b", "a"], "variant": "v8"}',
        ),
    ],
)
def test_to_json_key_order(platform: Platform, expected: str) -> None:
    assert json.dumps(platform.to_json()) == expected


@pytest.mark.parametrize(
    "platform",
    [
        P("linux", "arm64", "v8"),
        P("windows", "amd64", None, "10.0.17763.1066", ("win32k",)),
        P("Linux", "X86_64"),
    ],
)
def test_json_round_trip(platform: Platform) -> None:
    assert Platform.from_json(json.loads(json.dumps(platform.to_json()))) == platform


# --- normalized --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (P("Linux", "AMD64"), P("linux", "amd64")),
        (P("macos", "arm64"), P("darwin", "arm64")),
        (P("MacOS", "arm64"), P("darwin", "arm64")),
        (P("linux", "x86_64"), P("linux", "amd64")),
        (P("linux", "x86-64"), P("linux", "amd64")),
        (P("linux", "amd64", "v1"), P("linux", "amd64")),
        (P("linux", "x86_64", "v1"), P("linux", "amd64")),
        (P("linux", "amd64", "v2"), P("linux", "amd64", "v2")),
        (P("linux", "amd64", "v3"), P("linux", "amd64", "v3")),
        (P("linux", "x86-64", "V4"), P("linux", "amd64", "v4")),
        (P("linux", "i386"), P("linux", "386")),
        (P("linux", "i386", "v6"), P("linux", "386")),
        (P("linux", "aarch64"), P("linux", "arm64")),
        (P("linux", "arm64", "8"), P("linux", "arm64")),
        (P("linux", "arm64", "v8"), P("linux", "arm64")),
        (P("linux", "arm64", "v8.0"), P("linux", "arm64")),
        (P("linux", "aarch64", "v8"), P("linux", "arm64")),
        (P("linux", "arm64", "9"), P("linux", "arm64", "v9")),
        (P("linux", "arm64", "9.0"), P("linux", "arm64", "v9")),
        (P("linux", "arm64", "v9.0"), P("linux", "arm64", "v9")),
        (P("linux", "arm64", "v8.2"), P("linux", "arm64", "v8.2")),
        (P("linux", "armhf"), P("linux", "arm", "v7")),
        (P("linux", "armhf", "v5"), P("linux", "arm", "v7")),
        (P("linux", "armel"), P("linux", "arm", "v6")),
        (P("linux", "arm"), P("linux", "arm", "v7")),
        (P("linux", "arm", "7"), P("linux", "arm", "v7")),
        (P("linux", "arm", "5"), P("linux", "arm", "v5")),
        (P("linux", "arm", "6"), P("linux", "arm", "v6")),
        (P("linux", "arm", "8"), P("linux", "arm", "v8")),
        (P("linux", "arm", "v6"), P("linux", "arm", "v6")),
        (P("linux", "ppc64le", "power9"), P("linux", "ppc64le", "power9")),
        (P("linux", "386", "v6"), P("linux", "386", "v6")),  # only i386 clears the variant
        (
            P("windows", "amd64", None, "10.0.17763.1066", ("win32k", "a", "win32k")),
            P("windows", "amd64", None, "10.0.17763.1066", ("a", "win32k")),
        ),
    ],
)
def test_normalized(platform: Platform, expected: Platform) -> None:
    assert platform.normalized() == expected


def test_normalized_is_idempotent_and_leaves_original_alone() -> None:
    original = P("linux", "armhf")
    once = original.normalized()
    assert once.normalized() == once
    assert original == P("linux", "armhf")


# --- matches -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "entry", "expected"),
    [
        (P("linux", "arm64"), P("linux", "arm64", "v8"), True),
        (P("linux", "arm64", "v8"), P("linux", "arm64"), True),
        (P("linux", "arm64"), P("linux", "aarch64"), True),
        (P("linux", "arm"), P("linux", "arm", "v7"), True),
        (P("linux", "arm", "v7"), P("linux", "armhf"), True),
        (P("linux", "arm"), P("linux", "arm", "v6"), False),
        (P("linux", "amd64"), P("linux", "x86_64"), True),
        (P("linux", "amd64"), P("linux", "amd64", "v1"), True),
        (P("linux", "amd64"), P("linux", "amd64", "v2"), False),
        (P("linux", "arm64"), P("linux", "arm64", "v8.2"), False),
        (P("linux", "amd64"), P("windows", "amd64"), False),
        (P("linux", "amd64"), P("linux", "386"), False),
        (P("darwin", "arm64"), P("macos", "arm64"), True),
        # os.version: unset on self accepts any; set on self must be equal on other
        (P("windows", "amd64"), P("windows", "amd64", None, "10.0.17763.1066"), True),
        (
            P("windows", "amd64", None, "10.0.17763.1066"),
            P("windows", "amd64", None, "10.0.17763.1066"),
            True,
        ),
        (
            P("windows", "amd64", None, "10.0.17763.1066"),
            P("windows", "amd64", None, "10.0.14393.2068"),
            False,
        ),
        (P("windows", "amd64", None, "10.0.17763.1066"), P("windows", "amd64"), False),
        # os.features do not take part in matching
        (P("windows", "amd64"), P("windows", "amd64", None, None, ("win32k",)), True),
    ],
)
def test_matches(wanted: Platform, entry: Platform, expected: bool) -> None:
    assert wanted.matches(entry) is expected


# --- key ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (P("linux", "arm64"), P("linux", "arm64", "v8"), True),
        (P("linux", "arm"), P("linux", "arm", "v7"), True),
        (P("linux", "x86_64"), P("linux", "amd64"), True),
        (
            P("windows", "amd64", None, "10.0.17763.1066"),
            P("windows", "amd64", None, "10.0.14393.2068"),
            False,
        ),
        (P("windows", "amd64", None, "10.0.17763.1066"), P("windows", "amd64"), False),
        (
            P("windows", "amd64", None, "1", ("b", "a", "a")),
            P("windows", "amd64", None, "1", ("a", "b")),
            True,
        ),
        (P("windows", "amd64", None, "1", ("win32k",)), P("windows", "amd64", None, "1"), False),
        (P("linux", "amd64"), P("linux", "amd64", "v3"), False),
    ],
)
def test_key(a: Platform, b: Platform, same: bool) -> None:
    assert (a.key() == b.key()) is same


def test_key_shape() -> None:
    assert P("linux", "aarch64", "v8").key() == ("linux", "arm64", "", "", ())
    assert P("Windows", "AMD64", None, "10.0.1", ("win32k",)).key() == (
        "windows",
        "amd64",
        "",
        "10.0.1",
        ("win32k",),
    )


# --- is_unknown, str ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (P("unknown", "unknown"), True),
        (P("linux", "unknown"), False),
        (P("unknown", "amd64"), False),
        (P("linux", "amd64"), False),
    ],
)
def test_is_unknown(platform: Platform, expected: bool) -> None:
    assert platform.is_unknown() is expected


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (P("linux", "amd64"), "linux/amd64"),
        (P("linux", "arm64", "v8"), "linux/arm64/v8"),
        (P("linux", "x86_64"), "linux/x86_64"),  # as written, not normalised
        (P("windows", "amd64", None, "10.0.14393.2068"), "windows/amd64 10.0.14393.2068"),
        (P("linux", "arm", "v7", "5.10"), "linux/arm/v7 5.10"),
    ],
)
def test_str(platform: Platform, expected: str) -> None:
    assert str(platform) == expected


@pytest.mark.parametrize("text", ["linux/amd64", "linux/arm64/v8", "windows/arm/v7"])
def test_str_round_trips_parse(text: str) -> None:
    assert str(Platform.parse(text)) == text


# --- construction invariants -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"os": "", "architecture": "amd64"},
        {"os": "linux", "architecture": ""},
        {"os": "linux", "architecture": "arm", "variant": ""},
        {"os": "windows", "architecture": "amd64", "os_version": ""},
        {"os": "windows", "architecture": "amd64", "os_features": ["win32k"]},
    ],
)
def test_constructor_rejects_unrepresentable_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(PlatformError):
        Platform(**kwargs)  # type: ignore[arg-type]


def test_platform_is_hashable_value() -> None:
    assert len({P("linux", "amd64"), P("linux", "amd64"), P("linux", "arm64")}) == 2
