"""What the CDN path (/v/*) serves and what the API tells, on the local stack with watermark and
moderate on, uploads through the API: the srcset is one declared responsive set, facts and
backfill's files answer 404 (and so does an image no producer tagged), and a held upload's answer
carries the verdict, not the labels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from imgpipe.outputs import RELEASE_TAG, VISIBILITY_TAG
from imgpipe_tools.cli import main
from imgpipe_tools.local import LocalStack
from imgpipe_tools.resources import ENV_STATE_FILE, write_state
from tests.e2e.conftest import StartStack
from tests.e2e.test_api import User, jpeg, put_upload, wait_done
from tests.e2e.test_webhooks import Receiver, _secret, serve


@pytest.fixture
def stack(start_local_stack: StartStack) -> Iterator[LocalStack]:
    with start_local_stack(services="+watermark,+moderate", settings={"moderate": {"engine": "stand-in"}}) as s:
        assert s.frontdoor is not None
        yield s


def _v(stack: LocalStack, key: str) -> int:
    assert stack.frontdoor is not None
    return requests.get(f"{stack.frontdoor.url}/v/{key}", timeout=30).status_code


def test_the_srcset_is_one_declared_set_and_every_variant_says_its_role(stack: LocalStack) -> None:
    user = User(stack, "probe@example.com")
    upload = put_upload(user, "square.jpg", jpeg((1600, 1600), seed=7), "image/jpeg")
    view = wait_done(user, upload)
    assert view["status"] == "completed", view

    # watermark on (its srcset setting defaults to true): its widths, and no clean one mixed in
    entries = [e.rsplit(" ", 1) for e in view["srcset"].split(", ")]
    services = {url.split("/v/", 1)[1].split("/", 1)[0] for url, _ in entries}
    assert services == {"watermark"}, view["srcset"]
    widths = [w for _, w in entries]
    assert len(widths) == len(set(widths)), view["srcset"]
    assert "/v/resize/" not in view["picture"] and "/v/convert/" not in view["picture"]
    # every variant says what it is, and each one offered is servable
    assert {v["role"] for v in view["variants"]} == {"responsive", "preview"}
    # the round reads completed only once its outputs are servable (notify releases them before
    # it writes the status): every link offered works at once, and the 404s below are the
    # withheld prefixes', not a tag not yet removed
    offered = [v["url"].split("/v/", 1)[1].split("?")[0] for v in view["variants"]]
    assert all(_v(stack, k) == 200 for k in offered), offered
    # the list counts what the page offers, never the withheld clean pictures
    listed = user.call("GET", "/api/uploads").json()["uploads"]
    assert [u["variants"] for u in listed if u["id"] == upload] == [len(view["variants"])], listed
    # the clean widths and the clean full-size picture exist but are not served, even from URLs
    # built by hand from the key and the documented names (docs/processors.md)
    key = view["key"]
    s3 = stack.client("s3")
    for clean in (f"resize/{key}/320w.jpg", f"convert/{key}/full.webp"):
        tags = s3.get_object_tagging(Bucket=stack.variants_bucket, Key=clean)["TagSet"]
        assert not any(t["Key"] == RELEASE_TAG for t in tags), tags  # released like the rest
        assert _v(stack, clean) == 404, clean
    # nor rendered on demand: a transform renders the clean upload, so the API signs none and
    # the transform path refuses whatever URL it is given, saying why
    refused = user.call("POST", f"/api/uploads/{upload}/transforms", {"width": 320})
    assert refused.status_code == 404 and "watermarked only" in refused.json()["error"]["message"], refused.text
    assert stack.frontdoor is not None
    by_hand = requests.get(f"{stack.frontdoor.url}/t/x/w320.webp/{key}", timeout=30)
    assert by_hand.status_code == 403 and "watermarked only" in by_hand.text, by_hand.text


def test_facts_backfill_files_and_unknown_prefixes_answer_404(stack: LocalStack) -> None:
    user = User(stack, "facts@example.com")
    view = wait_done(user, put_upload(user, "facts.jpg", jpeg((800, 600), seed=8), "image/jpeg"))
    key = view["key"]

    # facts are data, not images: written, kept in the catalog, never served
    s3 = stack.client("s3")
    facts = f"describe/{key}/description.json"
    s3.head_object(Bucket=stack.variants_bucket, Key=facts)
    assert _v(stack, facts) == 404
    assert _v(stack, f"moderate/{key}/moderation.json") == 404
    # backfill's files and any prefix no public producer declares
    s3.put_object(Bucket=stack.variants_bucket, Key="_backfill/backfill-20261205T010203Z/summary.json", Body=b"{}")
    assert _v(stack, "_backfill/backfill-20261205T010203Z/summary.json") == 404
    s3.put_object(Bucket=stack.variants_bucket, Key=f"elsewhere/{key}/x.jpg", Body=b"x")
    assert _v(stack, f"elsewhere/{key}/x.jpg") == 404
    # what is served is the object's own tag's to say, not its prefix: an image written untagged
    # under a producer whose images are served is not (fail-safe), and one tagged by its producer is
    s3.put_object(Bucket=stack.variants_bucket, Key=f"thumbnail/{key}/by-hand.webp", Body=b"x")
    assert _v(stack, f"thumbnail/{key}/by-hand.webp") == 404
    tags = s3.get_object_tagging(Bucket=stack.variants_bucket, Key=f"thumbnail/{key}/300x300.webp")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {VISIBILITY_TAG: "preview"}, tags
    assert _v(stack, f"thumbnail/{key}/300x300.webp") == 200
    assert _v(stack, f"resize/../describe/{key}/description.json") == 404


def test_a_held_uploads_answer_is_the_verdict_in_plain_words(stack: LocalStack) -> None:
    user = User(stack, "held@example.com")
    held = put_upload(user, "HOLD-ME cat.jpg", jpeg((900, 600), seed=3), "image/jpeg")
    view = wait_done(user, held)
    assert view["status"] == "held", view
    assert view["held_reason"] and view["variants"] == [] and view["srcset"] is None
    text = json.dumps(view)
    assert not any(w in text for w in ("labels", "confidence", "hold_at_confidence", "held_by", "not a moderation"))


def test_a_held_uploads_outputs_are_unservable_even_from_urls_built_by_hand(stack: LocalStack) -> None:
    user = User(stack, "builder@example.com")
    upload_id = put_upload(user, "HOLD-ME built.jpg", jpeg((900, 600), seed=4), "image/jpeg")
    view = wait_done(user, upload_id)
    assert view["status"] == "held", view
    # held shows once moderate reports; the other producers may still be writing
    assert stack.wait_until(
        lambda: all(p["state"] == "done" for p in user.call("GET", f"/api/uploads/{upload_id}").json()["processors"]),
        timeout=60,
    )
    key = view["key"]
    # the documented names (docs/processors.md): each object exists, and none is servable
    built = [f"resize/{key}/320w.jpg", f"thumbnail/{key}/300x300.webp", f"convert/{key}/full.webp"]
    s3 = stack.client("s3")
    for variant in built:
        s3.head_object(Bucket=stack.variants_bucket, Key=variant)
        assert _v(stack, variant) == 404, variant


def test_a_held_upload_sends_upload_held_then_upload_completed_once_approved(
    start_local_stack: StartStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver = Receiver()
    settings = {"moderate": {"engine": "stand-in"}, "webhook": {}}
    with serve(receiver) as url:
        settings["webhook"] = {"url": url}
        with start_local_stack(services="+moderate,+webhook", settings=settings) as stack:
            receiver.secret = _secret(stack)
            monkeypatch.setenv(ENV_STATE_FILE, str(tmp_path / "state.json"))
            write_state(stack.deployment)
            user = User(stack, "hook@example.com")
            view = wait_done(user, put_upload(user, "HOLD-ME hook.jpg", jpeg((900, 600), seed=9), "image/jpeg"))
            assert view["status"] == "held", view
            assert stack.wait_until(lambda: len(receiver.verified) >= 1, timeout=30)
            [held] = receiver.verified
            assert held.payload["type"] == "upload.held" and held.payload["data"]["variants"] == []
            assert held.payload["data"]["status"] == "held"

            assert main(["review", "approve", view["key"], "--local"]) == 0
            assert stack.wait_until(lambda: len(receiver.verified) >= 2, timeout=30)
            completed = receiver.verified[1]
            assert completed.payload["type"] == "upload.completed", completed.payload
            assert completed.webhook_id != held.webhook_id
            images = [v["key"] for v in completed.payload["data"]["variants"] if v["role"] != "facts"]
            assert images and all(_v(stack, k) == 200 for k in images)
            assert receiver.unverified == 0
    capsys.readouterr()
