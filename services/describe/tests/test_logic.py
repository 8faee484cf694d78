"""describe on generated uploads: the facts, the EXIF summary (no position unless asked), the
palette on known colours, near-duplicates through an in-memory index, and the facts reaching the
event and the catalog."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageDraw

from imgpipe.errors import Reason, Rejection
from imgpipe.events import VARIANTS_CREATED, Upload, parse_pipeline_event, variants_created_detail
from imgpipe.imaging.facts import palette
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import parse
from imgpipe.signing import verify
from imgpipe_tools.testing.fakes import FakePublisher, FakeStorage
from imgpipe_tools.testing.memory_catalog import MemoryCatalog
from tests import imagegen as g
from tests.notify_support import EXAMPLE_EVENT_KEY, unsigned

from ..duplicates import Entry, band_widths, bands, check_and_remember, find_duplicate, remember, scope_of
from ..hashes import hamming
from ..logic import Describer, describe, process
from ..settings import Settings


def settings(**changes: object) -> Settings:
    return parse(Settings, changes, service="describe")


# --- the facts ---------------------------------------------------------------------------


def test_facts_of_a_photo() -> None:
    facts = describe(g.jpeg(g.photo((1200, 800))), settings())
    assert (facts["format"], facts["width"], facts["height"], facts["aspect"]) == ("jpeg", 1200, 800, 1.5)
    assert (facts["has_alpha"], facts["animated"], facts["frames"]) == (False, False, 1)
    assert len(facts["phash"]) == 16 and int(facts["phash"], 16) >= 0
    assert len(facts["blurhash"]) == 4 + 2 * 4 * 3
    assert len(facts["palette"]) == 5
    json.dumps(facts)  # plain JSON all the way down


def test_upright_dimensions() -> None:
    facts = describe(g.oriented_jpeg(6, (120, 80)), settings())
    assert (facts["width"], facts["height"]) == (120, 80)


def test_alpha_and_animation() -> None:
    assert describe(g.palette_png(transparent_box=(0, 0, 32, 32)), settings())["has_alpha"] is True
    animated = describe(g.animated_gif(n_frames=6), settings())
    assert (animated["animated"], animated["frames"]) == (True, 6)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(Rejection) as caught:
        process(b"%PDF-1.7 not an image", settings())
    assert caught.value.reason == Reason.UNSUPPORTED_FORMAT


def test_palette_on_known_colours() -> None:
    im = Image.new("RGB", (100, 100), (220, 30, 30))
    d = ImageDraw.Draw(im)
    d.rectangle((50, 0, 79, 99), fill=(30, 160, 60))  # 30 %
    d.rectangle((80, 0, 99, 99), fill=(20, 40, 200))  # 20 %
    found = palette(im, 3)
    expected = [((220, 30, 30), 0.5), ((30, 160, 60), 0.3), ((20, 40, 200), 0.2)]
    for (rgb, share), (want_rgb, want_share) in zip(found, expected, strict=True):
        assert all(abs(a - b) <= 6 for a, b in zip(rgb, want_rgb, strict=True)), (rgb, want_rgb)
        assert abs(share - want_share) <= 0.03


def test_palette_ignores_transparent_pixels() -> None:
    im = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((0, 0, 29, 59), fill=(10, 200, 10, 255))
    ((rgb, share),) = palette(im, 4)
    assert share == 1.0 and rgb[1] > 180


# --- EXIF --------------------------------------------------------------------------------


def camera_exif(gps: bool = True) -> Image.Exif:
    e = g.exif(gps=gps)
    e[ExifTags.Base.Model] = "Model\x00 9"
    sub = e.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.LensModel] = "28-70mm F2.8"
    sub[ExifTags.Base.DateTimeOriginal] = "2026:07:14 18:05:09"
    sub[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    sub[ExifTags.Base.ExposureTime] = 0.004
    sub[ExifTags.Base.FNumber] = 5.6
    sub[ExifTags.Base.ISOSpeedRatings] = 200
    sub[ExifTags.Base.FocalLength] = 35.0
    return e


def test_exif_summary_without_gps_by_default() -> None:
    data = g.jpeg(g.photo((320, 240)), exif=camera_exif(gps=True))
    facts = describe(data, settings())
    assert facts["exif"] == {
        "make": "imgpipe-test-camera",
        "model": "Model 9",
        "lens": "28-70mm F2.8",
        "taken_at": "2026-07-14T18:05:09+02:00",
        "exposure_time": "1/250",
        "exposure_s": 0.004,
        "f_number": 5.6,
        "iso": 200,
        "focal_length_mm": 35.0,
    }
    assert "gps" not in json.dumps(facts)


def test_exif_gps_only_when_the_setting_allows_it() -> None:
    data = g.jpeg(g.photo((320, 240)), exif=camera_exif(gps=True))
    gps = describe(data, settings(include_gps=True))["exif"]["gps"]
    assert gps == {"latitude": pytest.approx(48.858056, abs=1e-5), "longitude": pytest.approx(2.294444, abs=1e-5)}


def test_no_exif_is_an_empty_summary() -> None:
    assert describe(g.png(g.photo((64, 48))), settings())["exif"] == {}


# --- near-duplicates ---------------------------------------------------------------------


class MemoryIndex:
    """The index port in memory: entries by (scope, distance, band); counts the groups read and
    the calls made (each call is one round trip on DynamoDB)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, int, tuple[int, int]], dict[str, Entry]] = {}
        self.reads = 0
        self.calls = 0

    def entries(self, scope: str, distance: int, groups: Sequence[tuple[int, int]]) -> list[list[Entry]]:
        self.reads += len(groups)
        self.calls += 1
        return [list(self.groups.get((scope, distance, band), {}).values()) for band in groups]

    def add(self, scope: str, distance: int, groups: Sequence[tuple[int, int]], entry: Entry) -> None:
        self.calls += 1
        for band in groups:
            self.groups.setdefault((scope, distance, band), {})[entry.key] = entry


def test_bands_cover_64_bits_and_one_always_matches_within_the_distance() -> None:
    rng = random.Random(4)
    for distance in range(0, 16):
        assert sum(band_widths(distance)) == 64 and len(band_widths(distance)) == distance + 1
        for _ in range(200):
            a = rng.getrandbits(64)
            flips = rng.sample(range(64), rng.randint(0, distance))
            b = a
            for bit in flips:
                b ^= 1 << bit
            assert set(bands(a, distance)) & set(bands(b, distance)), (distance, flips)


def test_scope_is_the_owner_or_the_top_level_prefix() -> None:
    assert scope_of("users/u-1/abc/cat.jpg") == "users/u-1/"
    assert scope_of("photos/2024/cat.jpg") == "photos/"
    assert scope_of("cat.jpg") == "/"


def test_lookup_reads_one_group_per_band_and_checks_full_distance() -> None:
    index, t0 = MemoryIndex(), datetime(2026, 1, 1, tzinfo=UTC)
    base = 0x0123_4567_89AB_CDEF
    remember(index, "photos/a.jpg", base, 6, t0.isoformat())
    index.reads = index.calls = 0
    # 7 bits off, all in different bands: shares bands with a.jpg, but too far
    far = base
    for bit in (1, 10, 19, 28, 37, 46, 55):
        far ^= 1 << bit
    assert hamming(base, far) == 7
    assert find_duplicate(index, "photos/b.jpg", far, 6) is None
    assert (index.reads, index.calls) == (7, 1)
    near = base ^ 0b101  # 2 bits
    match = find_duplicate(index, "photos/c.jpg", near, 6)
    assert match is not None and (match.key, match.distance) == ("photos/a.jpg", 2)


def test_an_upload_is_looked_up_and_indexed_in_one_read_and_one_write_and_a_replay_keeps_its_time() -> None:
    index = MemoryIndex()
    base = 0x0123_4567_89AB_CDEF
    assert check_and_remember(index, "photos/a.jpg", base, 6, "2026-01-01T00:00:00+00:00") is None
    assert (index.reads, index.calls) == (7, 2)  # 7 groups read in one call, 7 entries in one write
    # a replay finds its own entries, matches nothing, and keeps the first time it was indexed
    assert check_and_remember(index, "photos/a.jpg", base, 6, "2026-03-01T00:00:00+00:00") is None
    ats = {e.at for group in index.groups.values() for e in group.values()}
    assert ats == {"2026-01-01T00:00:00+00:00"} and len(index.groups) == 7
    match = check_and_remember(index, "photos/b.jpg", base ^ 1, 6, "2026-02-01T00:00:00+00:00")
    assert match is not None and (match.key, match.distance) == ("photos/a.jpg", 1)
    # a's replay after b came: b was indexed later than a's first time, so it is not a's original
    assert check_and_remember(index, "photos/a.jpg", base, 6, "2026-04-01T00:00:00+00:00") is None


def run(describer: Describer, key: str, data: bytes, s: Settings) -> dict:
    describer.start(Upload("uploads", key, "etag"))
    (out,) = describer.process(data, s)
    assert out.facts is not None
    return dict(out.facts)


def test_reencoded_copy_is_a_duplicate_of_the_first_upload() -> None:
    index, s = MemoryIndex(), settings()
    moments = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(100))
    describer = Describer(index, clock=lambda: next(moments))
    photo = g.photo((1600, 1200), seed=11)
    first = run(describer, "photos/first.jpg", g.jpeg(photo, quality=92), s)
    assert first["duplicate_of"] is None
    copy = run(describer, "photos/copy.webp", g.webp(photo.resize((800, 600)), quality=60), s)
    assert copy["duplicate_of"] == "photos/first.jpg"
    assert copy["duplicate_distance"] <= 6
    # another photo, the same photo under another prefix or owner: not duplicates
    assert run(describer, "photos/other.jpg", g.jpeg(g.photo((1600, 1200), seed=12)), s)["duplicate_of"] is None
    assert run(describer, "travel/first.jpg", g.jpeg(photo), s)["duplicate_of"] is None
    assert run(describer, "users/u1/x/a.jpg", g.jpeg(photo), s)["duplicate_of"] is None
    assert run(describer, "users/u2/y/a.jpg", g.jpeg(photo), s)["duplicate_of"] is None
    assert run(describer, "users/u1/z/b.png", g.png(photo), s)["duplicate_of"] == "users/u1/x/a.jpg"
    # the original processed again (a replay, new settings) does not become a copy of its copy
    assert run(describer, "photos/first.jpg", g.jpeg(photo, quality=92), s)["duplicate_of"] is None
    # and the lookup can be switched off
    assert run(describer, "photos/third.jpg", g.jpeg(photo), settings(find_duplicates=False))["duplicate_of"] is None


# --- the facts on the event and in the catalog -------------------------------------------


def test_facts_ride_on_the_event_and_land_in_the_catalog() -> None:
    storage, publisher = FakeStorage(), FakePublisher()
    etag = storage.add("uploads", "photos/cat.jpg", g.jpeg(g.photo((640, 480)), exif=camera_exif()))
    describer = Describer(MemoryIndex())
    runtime = UploadProcessor(
        processor="describe",
        process=describer.process,
        storage=storage,
        publisher=publisher,
        variants_bucket="variants",
        settings={},
        settings_type=Settings,
        on_upload=describer.start,
    )
    created = {
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": "uploads"}, "object": {"key": "photos/cat.jpg", "etag": etag, "size": 1}},
    }
    result = runtime.handle(created)
    assert result.variants == ("describe/photos/cat.jpg/description.json",)
    stored = storage.objects[("variants", "describe/photos/cat.jpg/description.json")]
    assert stored.content_type == "application/json"
    ((_, event),) = publisher.sent
    detail = variants_created_detail(event)
    assert detail["facts"]["width"] == 640 and "gps" not in detail["facts"]["exif"]
    assert "description" not in detail and "hold" not in detail
    parsed = parse_pipeline_event({"detail-type": VARIANTS_CREATED, "detail": json.loads(json.dumps(detail))})
    assert parsed.facts == json.loads(stored.data)

    catalog = MemoryCatalog()
    catalog.record_variants(parsed, expected=["describe"], now=datetime.now(UTC))
    status = catalog.latest("uploads", "photos/cat.jpg")
    assert status is not None
    assert status["processors"]["describe"]["state"] == "done"
    assert status["processors"]["describe"]["description"] == parsed.facts

    # a replay finds the done record and announces the same facts again
    publisher.sent.clear()
    assert runtime.handle(created).status == "skipped"
    ((_, replayed),) = publisher.sent
    assert replayed.facts == parsed.facts


def test_documented_event_parses_and_names_every_fact() -> None:
    """docs/events.md shows tests/fixtures/events/describe/variants_created.json (a test of
    services/notify/tests/test_docs.py holds them equal): it must be what the code sends."""
    from imgpipe.events import to_entry

    path = Path(__file__).parents[3] / "tests" / "fixtures" / "events" / "describe" / "variants_created.json"
    event = json.loads(path.read_text(encoding="utf-8"))
    parsed = parse_pipeline_event(event)
    assert to_entry(parsed) == (event["detail-type"], unsigned(event["detail"]))
    assert verify(EXAMPLE_EVENT_KEY, event)
    facts = describe(g.jpeg(g.photo((64, 48))), settings())
    assert set(event["detail"]["facts"]) == {*facts, "duplicate_of", "duplicate_distance"}


def test_exif_of_a_png_is_read_from_its_header() -> None:
    assert describe(g.png(g.photo((64, 48)), exif=camera_exif()), settings())["exif"]["lens"] == "28-70mm F2.8"


def test_a_deleted_original_is_not_named() -> None:
    index, s = MemoryIndex(), settings()
    moments = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(10))
    present = {"photos/a.jpg", "photos/b.jpg", "photos/c.jpg"}
    describer = Describer(index, clock=lambda: next(moments), exists=present.__contains__)
    photo = g.photo((800, 600), seed=21)
    run(describer, "photos/a.jpg", g.jpeg(photo), s)
    run(describer, "photos/b.jpg", g.png(photo), s)
    present.discard("photos/a.jpg")  # deleted: its index entries stay until their TTL
    assert run(describer, "photos/c.jpg", g.webp(photo), s)["duplicate_of"] == "photos/b.jpg"
    present -= {"photos/b.jpg", "photos/c.jpg"}
    assert run(describer, "photos/d.jpg", g.webp(photo), s)["duplicate_of"] is None
