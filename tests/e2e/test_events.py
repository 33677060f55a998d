"""``--json-stream`` against the real registry (issue 13): every line is one JSON event, and
each is written as it happens, checked by looking at the registry the moment a line is written.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mplat.cli.main import main
from tests.support import secrets
from tests.support.cli import run_cli, write_config
from tests.support.registry import RegistryServer
from tests.support.seed import head_manifest, seed_image

Doc = dict[str, Any]


def events(out: str) -> list[Doc]:
    """stdout as events: every line parses on its own, and carries version, type and time."""
    docs = [json.loads(line) for line in out.splitlines()]
    for d in docs:
        assert d["format_version"] == "1"
        assert list(d)[:3] == ["format_version", "type", "timestamp"]
        assert d["timestamp"].endswith("Z")
    stamps = [d["timestamp"] for d in docs]
    assert stamps == sorted(stamps)  # written in the order they happened
    return docs


def of(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["type"] == kind]


def lists_yaml(addr: str, repo: str, *blocks: str) -> str:
    return "version: 1\nlists:\n" + "".join(blocks)


def present(addr: str, repo: str, tags: str, source: str = "amd64") -> str:
    return f"""\
  - repository: {addr}/{repo}
    tags: {tags}
    manifests:
      - image: {addr}/{repo}:{source}
      - image: {addr}/{repo}:arm64
"""


def absent(addr: str, repo: str, tags: str) -> str:
    return f"""\
  - repository: {addr}/{repo}
    tags: {tags}
    state: absent
"""


def two_images(registry: RegistryServer, repo: str) -> None:
    seed_image(registry.url, repo, "amd64", os="linux", architecture="amd64")
    seed_image(registry.url, repo, "arm64", os="linux", architecture="arm64")


class Watched(io.StringIO):
    """stdout that calls ``on_line`` with each line the moment mplat writes it."""

    def __init__(self, on_line: Callable[[Doc], None]) -> None:
        super().__init__()
        self.on_line = on_line
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self.on_line(json.loads(line))
        return super().write(text)


def run_watched(on_line: Callable[[Doc], None], *args: str) -> tuple[int, str, str]:
    out, err = Watched(on_line), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    secrets.OUTPUTS.extend((out.getvalue(), err.getvalue()))
    return code, out.getvalue(), err.getvalue()


def test_plan_streams_each_change_and_error_then_a_summary(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(
        tmp_path,
        lists_yaml(
            addr,
            repo,
            present(addr, repo, "[a, b]"),
            absent(addr, repo, "[never]"),
            present(addr, repo, "[broken]", source="missing"),
        ),
    )
    ran = run_cli("plan", "-f", str(cfg), "--json-stream", "--show-no-op")
    assert ran.code == 1, ran.err  # a list failed to plan
    docs = events(ran.out)
    planned = {d["change"]["tag"]: d["change"] for d in of(docs, "planned_change")}
    assert {t: c["action"] for t, c in planned.items()} == {
        "a": "create",
        "b": "create",
        "never": "no-op",
    }
    assert planned["a"]["repository"] == f"{addr}/{repo}"
    assert planned["a"]["after"]["kind"] == "list"
    (error,) = of(docs, "errored")
    assert (error["phase"], error["tags"]) == ("plan", ["broken"])
    assert f"{addr}/{repo}:missing" in error["message"]
    summary = docs[-1]
    assert (summary["type"], summary["phase"], summary["errors"]) == ("summary", "plan", 1)
    assert summary["changes"] == {"create": 2, "update": 0, "repair": 0, "delete": 0, "no_op": 1}
    assert summary["elapsed_seconds"] >= 0
    # The same change as plan --json describes it.
    whole = json.loads(run_cli("plan", "-f", str(cfg), "--json").out)
    assert [c for c in whole["changes"] if c["tag"] == "a"] == [planned["a"]]
    # As in plan --json, tags in sync are counted, and listed only with --show-no-op.
    plain = events(run_cli("plan", "-f", str(cfg), "--json-stream").out)
    assert sorted(d["change"]["tag"] for d in of(plain, "planned_change")) == ["a", "b"]
    assert plain[-1]["changes"]["no_op"] == 1


def test_apply_start_comes_before_the_write_and_apply_complete_after_it(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[old]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    cfg.write_text(
        lists_yaml(addr, repo, present(addr, repo, "[new1, new2]"), absent(addr, repo, "[old]"))
    )
    desired: dict[str, str] = {}
    seen: list[tuple[str, str, str | None]] = []

    def now(tag: str) -> str | None:
        found = head_manifest(registry.url, repo, tag)
        return found[0] if found else None

    def on_line(doc: Doc) -> None:  # runs while mplat waits: the registry as it is right then
        if doc["type"] == "planned_change" and doc["change"]["after"]:
            desired[doc["change"]["tag"]] = doc["change"]["after"]["digest"]
        if doc["type"] in ("apply_start", "apply_complete"):
            tag = doc["address"].rpartition(":")[2]
            seen.append((doc["type"], tag, now(tag)))

    code, out, err = run_watched(
        on_line, "apply", "-f", str(cfg), "--auto-approve", "--json-stream"
    )
    assert code == 0, err
    at = {(k, t): d for k, t, d in seen}  # what each tag held at each event
    assert at[("apply_start", "old")] is not None  # still there when its deletion starts
    assert sorted(seen) == sorted(
        [
            ("apply_start", "new1", None),  # nothing written yet when it is announced
            ("apply_start", "new2", None),
            ("apply_complete", "new1", desired["new1"]),  # written when it is reported
            ("apply_complete", "new2", desired["new2"]),
            ("apply_start", "old", at[("apply_start", "old")]),
            ("apply_complete", "old", None),  # deleted when it is reported
        ]
    )
    order = [(kind, tag) for kind, tag, _ in seen]
    for tag in ("new1", "new2", "old"):
        assert order.index(("apply_start", tag)) < order.index(("apply_complete", tag))
    docs = events(out)
    kinds = [d["type"] for d in docs]
    assert kinds.index("summary") < kinds.index("apply_start")  # the plan's summary, first
    done = of(docs, "apply_complete")
    assert all(d["elapsed_seconds"] >= 0 and d["unchanged"] is False for d in done)
    summary = docs[-1]
    assert summary == {
        **summary,
        "type": "summary",
        "phase": "apply",
        "applied": True,
        "interrupted": False,
        "created": 2,
        "updated": 0,
        "repaired": 0,
        "deleted": 1,
        "unchanged": 0,
        "failed": 0,
        "errors": 0,
    }
    assert "Apply complete: 3 done, 0 failed (2 created, 0 updated, 0 repaired, 1 deleted)" in err
    assert "will be created" in err  # the plan for people, on stderr


def test_a_tag_that_fails_to_apply_is_errored_and_counted(
    make_registry: Any, tmp_path: Path
) -> None:
    server = make_registry(delete_enabled=False)
    addr, repo = server.address, "acme/app"
    two_images(server, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[gone]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    cfg.write_text(lists_yaml(addr, repo, absent(addr, repo, "[gone]")))
    ran = run_cli("apply", "-f", str(cfg), "--auto-approve", "--json-stream")
    assert ran.code == 1
    docs = events(ran.out)
    (failed,) = [d for d in of(docs, "errored") if d["phase"] == "apply"]
    assert (failed["address"], failed["action"]) == (f"{addr}/{repo}:gone", "delete")
    assert "UNSUPPORTED" in failed["message"]
    assert (failed["interrupted"], failed["unknown"]) == (False, False)
    assert (docs[-1]["failed"], docs[-1]["deleted"]) == (1, 0)


def test_a_saved_plan_is_streamed_as_planned_then_applied(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[a]")))
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "-f", str(cfg), "--out", str(saved)).code == 0
    ran = run_cli("apply", str(saved), "-f", str(cfg), "--json-stream")
    assert ran.code == 0, ran.err
    docs = events(ran.out)
    assert [d["type"] for d in docs] == [
        "planned_change",
        "summary",
        "apply_start",
        "apply_complete",
        "summary",
    ]
    assert docs[1]["elapsed_seconds"] is None  # planned by another run
    assert docs[-1]["created"] == 1


def test_nothing_to_do_still_ends_with_an_apply_summary(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr = registry.address
    two_images(registry, repo)
    cfg = write_config(tmp_path, lists_yaml(addr, repo, present(addr, repo, "[a]")))
    assert run_cli("apply", "-f", str(cfg), "--auto-approve").code == 0
    ran = run_cli("apply", "-f", str(cfg), "--auto-approve", "--json-stream")
    assert ran.code == 0, ran.err
    docs = events(ran.out)
    assert [d["type"] for d in docs] == ["summary", "summary"]  # the tag in sync is counted
    assert docs[0]["changes"]["no_op"] == 1
    assert (docs[-1]["applied"], docs[-1]["elapsed_seconds"]) == (False, None)


def test_a_run_that_fails_early_says_so_in_one_errored_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    ran = run_cli("apply", "-f", str(missing), "--auto-approve", "--json-stream")
    assert ran.code == 1
    (doc,) = events(ran.out)
    assert (doc["type"], doc["phase"]) == ("errored", "run")
    assert "nowhere.yaml" in doc["message"]
    assert ran.err.startswith("Error: ")


def test_json_and_json_stream_cannot_be_combined(tmp_path: Path) -> None:
    ran = run_cli("plan", "--json", "--json-stream")
    assert (ran.code, ran.out) == (1, "")
    assert "not allowed with argument --json" in ran.err
