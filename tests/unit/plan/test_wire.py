"""Tests for mplat.plan.wire: the JSON shapes both wire formats share."""

from __future__ import annotations

from mplat.plan.model import ChildCopy, Entry, ImageView, ListView, PlanError
from mplat.plan.wire import child_json, entry_json, error_json, list_json, live_json
from mplat.values import mediatypes as mt
from mplat.values.manifest import Descriptor, Index
from tests.support.builders import CHILD, DA, DB, DC, DD, LIVE, REPO, SUBJECT, entry, ref, view


def test_child_copy_json() -> None:
    assert child_json(CHILD) == {
        "digest": DA,
        "mediaType": mt.OCI_MANIFEST,
        "size": 423,
        "source": "localhost:5000/src",
        "blobs": [
            {"digest": DB, "size": 100, "how": "copy"},
            {"digest": DC, "size": 1000, "how": "mount"},
            {"digest": DD, "size": 5, "how": "copy"},
        ],
    }


def test_child_copy_source_is_written_as_its_normalised_name() -> None:
    assert child_json(ChildCopy(DA, mt.OCI_MANIFEST, 1, ref("busybox")))["source"] == (
        "docker.io/library/busybox"
    )


def test_entry_json_omits_empty_fields() -> None:
    assert entry_json(Entry(mt.OCI_MANIFEST, DA, 1, None)) == {
        "mediaType": mt.OCI_MANIFEST,
        "digest": DA,
        "size": 1,
    }
    full = entry_json(entry(annotations={"k": "v"}))
    assert list(full) == ["mediaType", "digest", "size", "platform", "annotations"]


def test_view_json() -> None:
    assert live_json(ImageView(mt.OCI_MANIFEST, DA)) == {
        "kind": "image",
        "mediaType": mt.OCI_MANIFEST,
        "digest": DA,
    }
    out = live_json(view(entry(), annotations={"a": "b"}))
    assert out == {
        "kind": "list",
        "mediaType": mt.OCI_INDEX,
        "digest": LIVE,
        "manifests": [entry_json(entry())],
        "annotations": {"a": "b"},
    }
    assert "annotations" not in list_json(view(entry(), annotations={}))
    assert live_json(None) is None


def test_plan_error_json() -> None:
    assert error_json(PlanError("boom", ref(REPO), ("a", "b"))) == {
        "repository": REPO,
        "tags": ["a", "b"],
        "message": "boom",
    }
    assert error_json(PlanError("boom")) == {"repository": None, "tags": [], "message": "boom"}
    assert error_json(PlanError("boom", None, (), "why"))["cause"] == "why"


def test_list_view_of_index_keeps_artifact_type_and_subject() -> None:
    subject = Descriptor(mt.OCI_MANIFEST, DD, 99)
    child = Descriptor(mt.OCI_MANIFEST, DA, 5, artifact_type="a/sbom")
    v = ListView.of(Index(mt.OCI_INDEX, (child,), {}, "a/b", subject), LIVE)
    assert v.artifact_type == "a/b"
    assert v.subject == SUBJECT
    assert v.entries[0].artifact_type == "a/sbom"
    assert list_json(v)["artifactType"] == "a/b"
    assert list_json(v)["subject"] == {"mediaType": mt.OCI_MANIFEST, "digest": DD, "size": 99}
    assert list_json(v)["manifests"] == [
        {"mediaType": mt.OCI_MANIFEST, "digest": DA, "size": 5, "artifactType": "a/sbom"}
    ]
