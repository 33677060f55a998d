"""Safe change management (issue 5): deletion, prevent_destroy, prune, saved plans, --target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import get_manifest, head_manifest, push_index, seed_image


def two_images(registry: RegistryServer, repo: str) -> None:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    seed_image(registry.url, repo, "arm64", os="linux", architecture="arm64")


def lists_yaml(addr: str, repo: str, *blocks: str) -> str:
    return "version: 1\nlists:\n" + "".join(blocks)


def present(addr: str, repo: str, tags: str, extra: str = "") -> str:
    return f"""\
  - repository: {addr}/{repo}
    tags: {tags}
{extra}    manifests:
      - image: {addr}/{repo}:amd64
      - image: {addr}/{repo}:arm64
"""


def absent(addr: str, repo: str, tags: str, extra: str = "") -> str:
    return f"""\
  - repository: {addr}/{repo}
    tags: {tags}
    state: absent
{extra}"""


def snapshot(registry: RegistryServer, repo: str, tags: list[str]) -> dict[str, Any]:
    return {t: head_manifest(registry.url, repo, t) for t in tags}


def test_absent_tag_sharing_a_digest_leaves_the_other_tag(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[keep, gone]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    before = snapshot(registry, repo, ["keep", "amd64", "arm64"])

    cfg.write_text(
        lists_yaml(addr, repo, present(addr, repo, "[keep]"), absent(addr, repo, "[gone]"))
    )
    plan = run_cli("plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 2
    assert f"# {addr}/{repo}:gone will be deleted" in plan.out
    assert "Plan: 0 to create, 0 to update, 1 to delete." in plan.out

    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "untagged" in applied.err  # 2.8 refuses DELETE by tag, the digest is shared
    assert head_manifest(registry.url, repo, "gone") is None
    assert snapshot(registry, repo, ["keep", "amd64", "arm64"]) == before
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_absent_sole_tag_deleted_by_digest_children_kept(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[only]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    index = json.loads(get_manifest(registry.url, repo, "only")[0])  # type: ignore[index]
    sources = snapshot(registry, repo, ["amd64", "arm64"])

    cfg.write_text(lists_yaml(addr, repo, absent(addr, repo, "[only]")))
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0
    assert "by digest" in applied.err
    assert head_manifest(registry.url, repo, "only") is None
    for entry in index["manifests"]:
        assert get_manifest(registry.url, repo, entry["digest"]) is not None
    assert snapshot(registry, repo, ["amd64", "arm64"]) == sources


def test_absent_tag_holding_a_source_image_is_only_untagged(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    image = seed_image(registry.url, repo, "old", os="linux", architecture="amd64")
    cfg = write_config(tmp_path, lists_yaml(addr, repo, absent(addr, repo, "[old]")))
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0
    assert head_manifest(registry.url, repo, "old") is None
    # The image itself stays reachable by digest: other lists may use it as a child.
    assert get_manifest(registry.url, repo, image.digest) is not None


def test_prevent_destroy_blocks_the_whole_plan(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[guarded]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    guarded = head_manifest(registry.url, repo, "guarded")
    cfg.write_text(
        lists_yaml(
            addr,
            repo,
            absent(addr, repo, "[guarded]", "    prevent_destroy: true\n"),
            present(addr, repo, "[new]"),
        )
    )
    plan = run_cli("plan", "-f", str(cfg))
    assert plan.code == 1
    assert "prevent_destroy" in plan.err
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 1
    assert "nothing was applied" in applied.err
    assert head_manifest(registry.url, repo, "guarded") == guarded
    assert head_manifest(registry.url, repo, "new") is None


def test_prune_deletes_only_owned_lists(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[v1, v2, v3]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    # Things mplat did not write: someone else's list and a single-platform image.
    amd = seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    push_index(registry.url, repo, "foreign", [(amd, {"architecture": "amd64", "os": "linux"})])
    untouched = snapshot(registry, repo, ["v1", "foreign", "amd64", "arm64"])

    cfg.write_text(lists_yaml(addr, repo, present(addr, repo, "[v1]", "    prune: true\n")))
    plan = run_cli("plan", "-f", str(cfg), "--json")
    deletes = sorted(c["tag"] for c in json.loads(plan.out)["changes"] if c["action"] == "delete")
    assert deletes == ["v2", "v3"]
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    assert head_manifest(registry.url, repo, "v2") is None
    assert head_manifest(registry.url, repo, "v3") is None
    assert snapshot(registry, repo, ["v1", "foreign", "amd64", "arm64"]) == untouched
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_registry_refusing_deletion_is_reported(make_registry: Any, tmp_path: Path) -> None:
    server = make_registry(delete_enabled=False)
    addr, repo = server.address, "acme/app"
    two_images(server, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[gone]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    before = head_manifest(server.url, repo, "gone")
    cfg.write_text(
        lists_yaml(addr, repo, absent(addr, repo, "[gone]"), present(addr, repo, "[other]"))
    )
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 1
    assert "UNSUPPORTED" in applied.out
    assert "does not allow deleting" in applied.out
    assert "Traceback" not in applied.out + applied.err
    assert head_manifest(server.url, repo, "other") is not None  # the rest was applied
    # The untag trick must not leave the tag on a throw-away manifest when it cannot finish.
    assert head_manifest(server.url, repo, "gone") == before


def test_saved_plan_applies_exactly_and_refuses_when_stale(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[a, b]")))
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "-f", str(cfg), "--out", str(saved)).code == 0
    doc = json.loads(saved.read_text())
    assert doc["format"] == "mplat-plan" and doc["version"] == 1
    assert {c["tag"]: c["live_digest"] for c in doc["changes"]} == {"a": None, "b": None}

    # Another writer moves tag b after the plan was reviewed.
    amd = seed_image(registry.url, repo, "b", os="linux", architecture="amd64", salt="intruder")
    stale = run_cli("apply", str(saved), "-f", str(cfg))
    assert stale.code == 1
    assert "stale" in stale.err and f"{addr}/{repo}:b" in stale.err
    assert head_manifest(registry.url, repo, "a") is None  # nothing written
    assert head_manifest(registry.url, repo, "b")[0] == amd.digest  # type: ignore[index]

    fresh = tmp_path / "fresh.json"
    assert run_cli("plan", "-f", str(cfg), "--out", str(fresh)).code == 0
    applied = run_cli("apply", str(fresh), "-f", str(cfg))  # no prompt, no --auto-approve
    assert applied.code == 0, applied.err
    planned = json.loads(fresh.read_text())["changes"][0]["desired"]["digest"]
    assert head_manifest(registry.url, repo, "a")[0] == planned  # type: ignore[index]
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_target_limits_plan_and_apply(registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[x, y]")))
    target = f"{addr}/{repo}:y"
    plan = run_cli("plan", "-f", str(cfg), "--target", target)
    # x is still named in y's ownership marker (dev.mplat.tags), but has no change of its own.
    assert "1 to create" in plan.out and f"{addr}/{repo}:x will" not in plan.out
    assert run_cli("apply", "-f", str(cfg), "--auto-approve", "--target", target).code == 0
    assert head_manifest(registry.url, repo, "y") is not None
    assert head_manifest(registry.url, repo, "x") is None
    bad = run_cli("plan", "-f", str(cfg), "--target", "not a ref")
    assert bad.code == 1 and "--target" in bad.err
