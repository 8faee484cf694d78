"""watermark and describe end to end on the local stack: one stack with
watermark switched on (it is off by default) and describe on (by default).

- an upload gets watermarked variants, told apart from resize's un-marked copy of the same width
  by the pixels in the mark's corner (the bytes differ anyway), and its description in the catalog;
- the same photo re-encoded (another quality, smaller) under another key of the same scope is
  reported ``duplicate_of`` the first; a different photo, or the same one in another scope, is not;
- through the upload API with a real token, the status route shows the description, duplicate
  included (the API's keys are ``users/<sub>/...``: one user's uploads are one scope).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from imgpipe.catalog import DynamoCatalog
from imgpipe_tools.cli import main
from imgpipe_tools.local import LocalStack
from imgpipe_tools.resources import ENV_STATE_FILE, write_state
from services.describe.hashes import hamming
from tests.e2e.test_api import User, put_upload, wait_done
from tests.imagegen import photo

pytestmark = pytest.mark.slow

TIMEOUT = 90
SIZE = (640, 480)
#: the variant both resize and watermark make of a 640-pixel-wide source (never enlarged)
WIDTH_VARIANT = "640w.jpg"
#: the mark's corner (southeast by default) and the opposite one, as fractions of the output
MARK_CORNER = (0.72, 0.72, 1.0, 1.0)
FAR_CORNER = (0.0, 0.0, 0.28, 0.28)


def jpeg(image: Image.Image, quality: int = 90, size: tuple[int, int] = SIZE) -> bytes:
    out = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality)
    return out.getvalue()


# one image for both encodings: photo()'s grain (Image.effect_noise) differs from call to call
PICTURE = photo(SIZE, seed=11)
ORIGINAL = jpeg(PICTURE)
#: the same photo as someone would re-share it: smaller and at a lower quality
REENCODED = jpeg(PICTURE, quality=45, size=(480, 360))
OTHER = jpeg(photo(SIZE, seed=12))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    outbox: Path = tmp_path_factory.mktemp("new-processors") / "outbox"
    with LocalStack.start(services="+watermark", outbox=outbox, retry_delay_s=0.05) as s:
        assert {"watermark", "describe"} <= {m.name for m in s.manifests}
        yield s


def catalog_round(stack: LocalStack, key: str) -> dict[str, Any]:
    catalog = DynamoCatalog(stack.deployment.catalog_table, dynamodb=stack.client("dynamodb"))
    found = catalog.latest(stack.uploads_bucket, key)
    assert found is not None, key
    return found


def description_of(stack: LocalStack, key: str) -> dict[str, Any]:
    return catalog_round(stack, key)["processors"]["describe"]["description"]


def variant(stack: LocalStack, key: str) -> Image.Image:
    body = stack.client("s3").get_object(Bucket=stack.variants_bucket, Key=key)["Body"].read()
    return Image.open(io.BytesIO(body)).convert("L")


def corner_difference(a: Image.Image, b: Image.Image, box: tuple[float, float, float, float]) -> float:
    """Mean luma difference of the two images in ``box`` (fractions of the size)."""
    w, h = a.size
    pixels = (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
    return ImageStat.Stat(ImageChops.difference(a.crop(pixels), b.crop(pixels))).mean[0]


def upload(stack: LocalStack, key: str, data: bytes) -> Any:
    [report] = stack.wait([stack.put(key, data)], timeout=TIMEOUT)
    assert report.status == "completed", report
    return report


def test_an_upload_gets_watermarked_variants_and_its_description(stack: LocalStack) -> None:
    key = "photos/harbour.jpg"
    report = upload(stack, key, ORIGINAL)

    marked_keys = sorted(v.key for v in report.variants if v.processor == "watermark")
    assert marked_keys == [f"watermark/{key}/{WIDTH_VARIANT}"]
    marked = variant(stack, marked_keys[0])
    plain = variant(stack, f"resize/{key}/{WIDTH_VARIANT}")
    assert marked.size == plain.size == SIZE
    # the same resize underneath: only the mark's corner differs more than JPEG noise
    far, corner = corner_difference(marked, plain, FAR_CORNER), corner_difference(marked, plain, MARK_CORNER)
    assert far < 2, far
    assert corner > 8 and corner > 5 * far, (corner, far)

    facts = description_of(stack, key)
    assert (facts["width"], facts["height"], facts["format"]) == (640, 480, "jpeg")
    assert facts["aspect"] == pytest.approx(640 / 480, abs=1e-3)
    assert facts["has_alpha"] is False and facts["animated"] is False
    assert isinstance(facts["thumbhash"], str) and len(facts["thumbhash"]) >= 20
    assert isinstance(facts["blurhash"], str) and len(facts["blurhash"]) == 4 + 2 * 4 * 3  # 4x3 components
    assert 1 <= len(facts["palette"]) <= 5
    assert all(p["color"].startswith("#") and len(p["color"]) == 7 for p in facts["palette"])
    assert sum(p["fraction"] for p in facts["palette"]) == pytest.approx(1, abs=0.02)
    assert len(facts["phash"]) == 16 and int(facts["phash"], 16) >= 0
    assert facts["duplicate_of"] is None  # the first of its kind
    # the facts document the catalog points at says the same
    doc = stack.client("s3").get_object(Bucket=stack.variants_bucket, Key=f"describe/{key}/description.json")
    assert doc["ContentType"] == "application/json"


def test_a_reencoded_copy_is_a_duplicate_of_the_first_a_different_photo_is_not(stack: LocalStack) -> None:
    first = "trips/coast.jpg"
    upload(stack, first, ORIGINAL)
    upload(stack, "trips/coast-shared.jpg", REENCODED)
    upload(stack, "trips/forest.jpg", OTHER)
    upload(stack, "elsewhere/coast.jpg", REENCODED)  # another top-level prefix: another scope

    original = description_of(stack, first)
    copy = description_of(stack, "trips/coast-shared.jpg")
    assert (copy["width"], copy["height"]) == (480, 360)
    assert copy["duplicate_of"] == first
    assert copy["duplicate_distance"] == hamming(int(copy["phash"], 16), int(original["phash"], 16)) <= 6

    different = description_of(stack, "trips/forest.jpg")
    assert different["duplicate_of"] is None
    assert hamming(int(different["phash"], 16), int(original["phash"], 16)) > 6
    assert description_of(stack, "elsewhere/coast.jpg")["duplicate_of"] is None


def test_imgpipe_status_prints_the_facts_and_a_readable_line(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    upload(stack, "cli/lake.jpg", ORIGINAL)
    upload(stack, "cli/lake-small.jpg", REENCODED)
    # what `imgpipe local up` leaves for --local
    monkeypatch.setenv(ENV_STATE_FILE, str(write_state(stack.deployment, tmp_path / "local.json")))
    capsys.readouterr()

    assert main(["status", "cli/lake-small.jpg", "--local"]) == 0
    out, err = capsys.readouterr()
    facts = json.loads(out)["processors"]["describe"]["description"]  # stdout stays one JSON document
    assert facts["duplicate_of"] == "cli/lake.jpg"
    [line] = err.splitlines()
    colours = " ".join(c["color"] for c in facts["palette"])
    assert line.startswith("describe (")
    bits = facts["duplicate_distance"]
    assert line.endswith(f"480x360 jpeg, palette {colours}, near-duplicate of cli/lake.jpg ({bits} of 64 bits differ)")


def test_the_status_api_shows_the_description_and_the_duplicate(stack: LocalStack) -> None:
    if stack.frontdoor is None:
        pytest.fail("the default deployment has the upload API: the front door should be up")
    user = User(stack, "describe@example.com")
    first_id = put_upload(user, "Beach.jpg", ORIGINAL, "image/jpeg")
    first = wait_done(user, first_id)
    second = wait_done(user, put_upload(user, "beach (small).jpg", REENCODED, "image/jpeg"))
    third = wait_done(user, put_upload(user, "forest.jpg", OTHER, "image/jpeg"))

    for view in (first, second, third):
        assert view["status"] == "completed", view
        # watermark's widths are the srcset: resize's clean ones are neither served nor offered
        offered = {v["processor"] for v in view["variants"]}
        assert "watermark" in offered and "resize" not in offered
        assert all(v["format"] != "json" for v in view["variants"])  # facts are not a picture
        facts = view["description"]["describe"]
        assert {"thumbhash", "blurhash", "palette", "phash", "width", "height"} <= set(facts)
    assert first["key"].startswith(f"users/{user.sub}/")
    assert first["description"]["describe"]["duplicate_of"] is None
    assert second["description"]["describe"]["duplicate_of"] == first["key"]
    assert third["description"]["describe"]["duplicate_of"] is None
