"""moderate on the local stack (docs/moderation.md), with its stand-in engine (moto has no
Rekognition; the stand-in holds keys containing HOLD-ME and is no moderation model): a held
upload's email says so with no link, the API and ``imgpipe status --local`` offer no variant
until ``imgpipe review approve --local`` releases it; ``review reject`` deletes its variants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from imgpipe.registry import discover
from imgpipe_tools.cli import main
from imgpipe_tools.local import LocalStack
from imgpipe_tools.resources import ENV_STATE_FILE, write_state
from tests.e2e.conftest import StartStack
from tests.e2e.test_api import User, jpeg, put_upload, wait_done

PRODUCERS = sorted(m.name for m in discover(services="+moderate") if m.produces_variants)


@pytest.fixture
def stack(start_local_stack: StartStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    with start_local_stack(services="+moderate", settings={"moderate": {"engine": "stand-in"}}) as s:
        assert s.frontdoor is not None
        monkeypatch.setenv(ENV_STATE_FILE, str(tmp_path / "state.json"))
        write_state(s.deployment)
        yield s


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main([*argv, "--local"]) == 0
    return json.loads(capsys.readouterr().out)


def images(view: dict[str, Any]) -> list[str]:
    return [v["name"] for v in view["variants"]]


def test_a_held_upload_is_withheld_until_approved_and_a_rejected_one_loses_its_variants(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "moderate" in PRODUCERS
    user = User(stack, "mod@example.com")
    held = put_upload(user, "HOLD-ME cat.jpg", jpeg((900, 600), seed=3), "image/jpeg")
    plain = put_upload(user, "cat.jpg", jpeg((900, 600), seed=4), "image/jpeg")
    other = put_upload(user, "HOLD-ME dog.jpg", jpeg((900, 600), seed=5), "image/jpeg")

    plain_view = wait_done(user, plain)
    assert plain_view["status"] == "completed" and images(plain_view) and plain_view["srcset"]
    # moderation's facts are the reviewer's: the uploader's answer never carries them
    assert "moderate" not in plain_view["description"] and plain_view["held_reason"] is None

    view = wait_done(user, held)
    key = view["key"]
    assert view["status"] == "held", view
    assert view["variants"] == [] and view["srcset"] is None and view["picture"] is None
    # the verdict in plain words; no label, confidence or threshold (the reviewer's CLI has them)
    assert view["held_reason"] and "moderate" not in view["description"]
    assert not any(
        word in json.dumps(view) for word in ("labels", "confidence", "hold_at_confidence", "not a moderation model")
    )
    assert sorted(p["name"] for p in view["processors"]) == PRODUCERS
    assert all(p["state"] == "done" for p in view["processors"])

    status = cli(capsys, "status", key)
    assert status["status"] == "held" and status["held_by"] == ["moderate"]
    assert all(p["variants"] == [] for p in status["processors"].values())

    assert stack.wait_until(lambda: any(e.attributes.get("key") == key for e in stack.emails), timeout=30)
    [email] = [e for e in stack.emails if e.attributes.get("key") == key]
    assert "is held for review" in email.subject
    assert "held for review" in email.body and "http" not in email.body and "1280w" not in email.body

    approved = cli(capsys, "review", "approve", key)
    assert approved["decision"] == "approved" and approved["variants_deleted"] == 0
    released = user.call("GET", f"/api/uploads/{held}").json()
    assert released["status"] == "completed" and images(released) and released["srcset"]
    status = cli(capsys, "status", key)
    assert status["review"]["decision"] == "approved" and status["processors"]["resize"]["variants"]

    other_key = wait_done(user, other)["key"]
    made = _made_from(stack, other_key)
    assert {k.split("/", 1)[0] for k in made} == set(PRODUCERS)
    rejected = cli(capsys, "review", "reject", other_key)
    assert rejected["variants_deleted"] == len(made)
    assert _made_from(stack, other_key) == []
    gone = user.call("GET", f"/api/uploads/{other}").json()
    assert gone["status"] == "rejected" and gone["variants"] == []
    assert main(["review", "approve", other_key, "--local"]) == 2  # its variants are gone
    assert main(["review", "approve", key.replace("HOLD-ME-cat", "cat"), "--local"]) == 2  # never held
    assert stack.dlq_depths() == {m.name: 0 for m in stack.manifests}


def _made_from(stack: LocalStack, key: str) -> list[str]:
    s3 = stack.client("s3")
    keys = []
    for producer in PRODUCERS:
        prefix = f"{producer}/{key}/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=stack.variants_bucket, Prefix=prefix)
        keys += [o["Key"] for page in pages for o in page.get("Contents", []) if "/" not in o["Key"][len(prefix) :]]
    return sorted(keys)
