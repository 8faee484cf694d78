"""On-demand transforms end to end on the local stack, as a client outside the repository would
use them: sign through the API with a real token, fetch /t/ from the front door (the same code the
distribution sends /t/* to), and see every refusal the URL contract promises."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import requests
from PIL import Image

from imgpipe.transforms import preset_path
from imgpipe_tools.local import LocalStack
from tests.e2e.conftest import StartStack
from tests.e2e.test_api import User, jpeg, put_upload, wait_done


@pytest.fixture
def stack(start_local_stack: StartStack) -> Iterator[LocalStack]:
    with start_local_stack(settings={"transform": {"max_dimension": 2000}}) as s:
        assert s.frontdoor is not None
        yield s


def test_a_signed_transform_is_exact_cacheable_and_refused_when_changed(stack: LocalStack) -> None:
    alice, bob = User(stack, "alice@example.com"), User(stack, "bob@example.com")
    upload_id = put_upload(alice, "Card Photo.jpg", jpeg((1600, 1200), seed=3), "image/jpeg")
    path = f"/api/uploads/{upload_id}/transforms"
    wanted = {"width": 640, "height": 360, "fit": "cover", "format": "webp", "quality": 75}

    # signing: 409 while processing, then the owner's URL; 404 for anyone else; 400 out of bounds
    first = alice.call("POST", path, wanted)
    assert first.status_code in (200, 409), first.text
    assert wait_done(alice, upload_id)["status"] == "completed"
    signed = alice.call("POST", path, wanted)
    assert signed.status_code == 200, signed.text
    url = signed.json()["url"]
    assert url.startswith(f"{alice.base}/t/")
    assert bob.call("POST", path, wanted).status_code == 404
    over = alice.call("POST", path, {**wanted, "width": 2001})
    assert over.status_code == 400 and over.json()["error"]["field"] == "width"

    got = requests.get(url, timeout=60)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/webp"
    assert got.headers["Cache-Control"] == "public, max-age=86400"
    assert Image.open(io.BytesIO(got.content)).size == (640, 360)

    sig = url.split("/t/", 1)[1].split("/", 1)[0]
    tampered = url.replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:])
    resized = url.replace("w640_h360", "w641_h360")
    unsigned = url.replace(f"/t/{sig}/", "/t/")
    for bad in (tampered, resized, unsigned):
        assert requests.get(bad, timeout=30).status_code == 403, bad

    auto = alice.call("POST", path, {"width": 300}).json()["url"]
    negotiated = requests.get(auto, headers={"Accept": "image/avif,image/webp,*/*"}, timeout=60)
    assert negotiated.headers["Content-Type"] == "image/avif" and negotiated.headers["Vary"] == "Accept"

    # equal to an eager output (resize's 640 px JPEG): its own URL, not a second rendering
    eager = alice.call("POST", path, {"width": 640, "fit": "inside", "format": "jpeg"}).json()["url"]
    moved = requests.get(eager, allow_redirects=False, timeout=60)
    assert moved.status_code == 307 and moved.headers["Location"].startswith("/v/resize/"), moved.headers
    variant = requests.get(f"{alice.base}{moved.headers['Location']}", timeout=30)
    assert variant.status_code == 200 and Image.open(io.BytesIO(variant.content)).size == (640, 480)
    urls = [v.get("url", "") for v in wait_done(alice, upload_id)["variants"]]
    assert any(u.endswith(moved.headers["Location"]) for u in urls), "the redirect names a variant the API lists"

    # a deleted upload's transforms stop (the CDN keeps a rendering at most cache_ttl_s)
    assert alice.call("DELETE", f"/api/uploads/{upload_id}").status_code == 200
    assert requests.get(url, timeout=30).status_code == 403


CARD = {"width": 320, "height": 200, "fit": "cover", "format": "webp"}


@pytest.fixture
def preset_stack(start_local_stack: StartStack) -> Iterator[LocalStack]:
    settings = {"transform": {"presets": {"card": CARD}}, "moderate": {"engine": "stand-in"}}
    with start_local_stack(services="+moderate", settings=settings) as s:
        assert s.frontdoor is not None
        yield s


def test_a_preset_serves_public_uploads_unsigned_and_nothing_else(preset_stack: LocalStack) -> None:
    assert preset_stack.frontdoor is not None
    door = preset_stack.frontdoor.url
    alice = User(preset_stack, "presets@example.com")
    shown = put_upload(alice, "Beach Day.jpg", jpeg((1600, 1200), seed=5), "image/jpeg")
    held = put_upload(alice, "HOLD-ME beach.jpg", jpeg((900, 600), seed=6), "image/jpeg")

    view = wait_done(alice, shown)
    assert view["status"] == "completed", view
    card = f"{door}{preset_path('card', view['key'])}"
    # anyone, with no token and no signature
    got = requests.get(card, timeout=60)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/webp", got.text
    assert got.headers["Cache-Control"] == "public, max-age=86400"
    assert Image.open(io.BytesIO(got.content)).size == (320, 200)
    assert requests.get(f"{door}{preset_path('banner', view['key'])}", timeout=30).status_code == 404

    # held for review: its variants are not served, nor is any preset of it
    held_view = wait_done(alice, held)
    assert held_view["status"] == "held", held_view
    refused = requests.get(f"{door}{preset_path('card', held_view['key'])}", timeout=30)
    assert refused.status_code == 404 and refused.headers["Cache-Control"] == "public, max-age=60"

    # deleted: gone from presets too (the CDN keeps a rendering at most cache_ttl_s)
    assert alice.call("DELETE", f"/api/uploads/{shown}").status_code == 200
    assert requests.get(card, timeout=30).status_code == 404
