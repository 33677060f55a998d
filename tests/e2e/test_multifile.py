"""Several config files as one config (``-f`` repeated, ``-f DIR``) on a real registry."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.registry import RegistryServer
from tests.support.seed import head_manifest, seed_image


def two_images(registry: RegistryServer, repo: str) -> None:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    seed_image(registry.url, repo, "arm64", os="linux", architecture="arm64")


def item(addr: str, repo: str, tags: str, extra: str = "") -> str:
    return f"""\
  - repository: {addr}/{repo}
    tags: {tags}
{extra}    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:arm64
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_directory_is_one_config_and_prune_sees_every_file(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    conf = tmp_path / "conf.d"
    # One repository split across two files (two teams), both files asking for prune.
    write(conf, "10-team-a.yaml", "version: 1\nlists:\n" + item(addr, repo, "[a1, a2]"))
    write(conf, "20-team-b.yml", "lists:\n" + item(addr, repo, "[b1]", "    prune: true\n"))
    write(conf, "README.md", "not a config")  # only *.yaml / *.yml are read
    write(conf, ".hidden.yaml", "this: [is not read")
    write(conf / "nested", "x.yaml", "neither: [is this")

    plan = run_cli("plan", "-f", str(conf), "--detailed-exitcode")
    assert plan.code == 2, plan.err
    assert "Plan: 3 to create, 0 to update, 0 to delete." in plan.out
    assert run_cli("apply", "-f", str(conf), "--auto-approve").code == 0

    # No file deletes the other file's tags; a tag no file declares any more is pruned.
    again = run_cli("plan", "-f", str(conf), "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    write(conf, "10-team-a.yaml", "version: 1\nlists:\n" + item(addr, repo, "[a1]"))
    pruned = run_cli("plan", "-f", str(conf), "--json")
    changes = json.loads(pruned.out)["changes"]
    assert [(c["action"], c["tag"]) for c in changes if c["action"] != "no-op"] == [
        ("delete", "a2")
    ]
    assert run_cli("apply", "-f", str(conf), "--auto-approve").code == 0
    assert head_manifest(registry.url, repo, "a2") is None
    assert all(head_manifest(registry.url, repo, t) is not None for t in ("a1", "b1"))


def test_repeated_file_flags_share_registries_and_variables(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    settings = write(
        tmp_path,
        "settings.yaml",
        f'version: 1\nregistries:\n  "{addr}": {{insecure: true}}\n'
        f"variables:\n  base: {addr}/{repo}\n",
    )
    lists = write(
        tmp_path,
        "lists.yaml",
        "lists:\n  - repository: ${base}\n    tags: ['${tag}']\n    manifests:\n"
        "      - image: ${base}:amd64\n      - image: ${base}:arm64\n"
        "variables:\n  tag: v1\n",
    )
    flags = ("-f", str(settings), "-f", str(lists))
    checked = run_cli("validate", *flags)
    assert checked.code == 0, checked.err
    assert checked.out.strip() == f"{settings}, {lists}: valid (1 lists, 1 tags)."
    applied = run_cli("apply", *flags, "--var", "tag=v2", "--auto-approve")
    assert applied.code == 0, applied.err
    assert head_manifest(registry.url, repo, "v2") is not None
    assert run_cli("plan", *flags, "--var", "tag=v2", "--detailed-exitcode").code == 0
    # The same file named twice (itself and through its directory) is read once.
    twice = run_cli("validate", *flags, "-f", str(tmp_path))
    assert twice.code == 0, twice.err


def error_of(*args: str) -> str:
    run = run_cli("validate", *args)
    assert run.code == 1, run.out + run.err
    assert "Traceback" not in run.err
    return run.err


def test_the_same_tag_in_two_files_names_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "version: 1\nlists:\n" + item("r.io", "acme/app", "[v1]"))
    second = write(
        tmp_path,
        "b.yaml",
        "version: 1\nlists:\n"
        + item("r.io", "acme/other", "[x]")
        + item("r.io", "acme/app", "[v0, v1]"),
    )
    err = error_of("-f", str(tmp_path))
    assert (
        f"{second}:9:16: lists[1].tags[1]: r.io/acme/app:v1 is declared twice; first at "
        f"{first}:4:12 (lists[0].tags[0])"
    ) in err


def test_conflicting_settings_name_both_files(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "a.yaml",
        'version: 1\nregistries:\n  "r.io": {insecure: true}\n'
        "defaults: {format: docker}\nvariables: {v: one}\nlists: []\n",
    )
    second = write(
        tmp_path,
        "b.yaml",
        'version: 1\nregistries:\n  "r.io": {insecure: false}\n'
        "defaults: {format: oci}\nvariables: {v: two}\nlists: []\n",
    )
    err = error_of("-f", str(first), "-f", str(second))
    tail = "a setting must have one value across files"
    assert (
        f'{second}:3:22: registries["r.io"].insecure: false conflicts with true at '
        f"{first}:3:22; {tail}" in err
    )
    assert (
        f'{second}:4:20: defaults.format: "oci" conflicts with "docker" at {first}:4:20; {tail}'
        in err
    )
    assert f'{second}:5:16: variables.v: "two" conflicts with "one" at {first}:5:16; {tail}' in err


def test_bad_paths_and_unknown_var_are_one_error_each(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no yaml here")
    assert f"{empty}: is a directory with no *.yaml or *.yml files in it" in error_of(
        "-f", str(empty)
    )
    good = write(tmp_path, "a.yaml", "version: 1\nvariables: {v: x}\nlists: []\n")
    missing = tmp_path / "missing.yaml"
    assert f"{missing}: no such file" in error_of("-f", str(good), "-f", str(missing))
    other = write(tmp_path, "b.yaml", "variables: {w: y}\n")
    err = error_of("-f", str(good), "-f", str(other), "--var", "nope=1")
    assert '--var "nope": no variable of that name is declared (declared: v, w)' in err


def test_a_for_each_error_in_a_later_file_names_its_own_item(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "version: 1\nlists:\n" + item("r.io", "acme/one", "[v1]"))
    second = write(
        tmp_path,
        "b.yaml",
        "lists:\n  - for_each: {arch: [amd64, arm64]}\n    repository: r.io/acme/${arch}\n"
        "    tags: ['${nope}']\n",
    )
    err = error_of("-f", str(tmp_path))
    assert f"{second}:4:12: lists[0].tags[0] (for_each arch=amd64): unknown variable" in err
