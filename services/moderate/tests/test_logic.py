"""moderate on generated uploads: the copy sent to the classifier (size, format, limits), the
threshold and category rules, the stand-in (never a model, holds only what its key marks), and
the facts reaching the event through the runtime."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.errors import Rejection
from imgpipe.events import VARIANTS_CREATED, Upload, parse_pipeline_event, variants_created_detail
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import SettingsError, parse
from imgpipe.signing import verify
from imgpipe_tools.testing.fakes import FakePublisher, FakeStorage
from tests import imagegen as g
from tests.notify_support import EXAMPLE_EVENT_KEY, unsigned

from ..engines import STAND_IN_VERSION, StandIn
from ..logic import MAX_IMAGE_BYTES, Detection, Label, Moderator, classifier_copy, copy_size, facts, holding
from ..settings import MIN_SIDE_PX, Settings

FOLDER = Path(__file__).resolve().parents[1]


def settings(**changes: object) -> Settings:
    return parse(Settings, changes, service="moderate")


class Recording:
    """A classifier that answers what it is given and keeps what it was asked."""

    def __init__(self, *labels: Label) -> None:
        self.labels = labels
        self.calls: list[tuple[bytes, float, str]] = []

    def detect(self, image: bytes, min_confidence: float, key: str) -> Detection:
        self.calls.append((image, min_confidence, key))
        return Detection(self.labels, "rekognition", "7.0")


def test_it_is_off_by_default_and_needs_rekognition_only() -> None:
    manifest = tomllib.loads((FOLDER / "manifest.toml").read_text())
    assert manifest["enabled_by_default"] is False
    assert manifest["needs"] == ["moderation"]


# --- the copy --------------------------------------------------------------------------------


def test_the_copy_is_a_jpeg_at_most_long_edge_and_keeps_the_aspect() -> None:
    size, copy = classifier_copy(g.jpeg(g.photo((4000, 3000))), settings())
    assert size == (4000, 3000)
    assert copy is not None and (copy.width, copy.height) == (1280, 960)
    with Image.open(io.BytesIO(copy.data)) as im:
        assert im.format == "JPEG" and im.size == (1280, 960)
    assert len(copy.data) <= MAX_IMAGE_BYTES


def test_a_small_upload_is_enlarged_to_rekognitions_minimum_side() -> None:
    _, copy = classifier_copy(g.png(g.photo((40, 30))), settings())
    assert copy is not None and min(copy.width, copy.height) == MIN_SIDE_PX
    assert (copy.width, copy.height) == (107, 80)


def test_a_strip_no_copy_can_fit_is_held_unchecked() -> None:
    assert copy_size((10_000, 20), 1280) is None
    classifier = Recording()
    [out] = Moderator(classifier).process(g.png(g.solid((5000, 10), (9, 9, 9))), settings())
    assert classifier.calls == []  # nothing sent
    assert out.facts is not None and out.facts["held"] is True
    assert "limits" in out.facts["unchecked"]


def test_copy_sizes_respect_both_limits() -> None:
    for size in [(1, 1), (80, 80), (79, 5000), (6000, 4000), (300, 200), (4096, 80)]:
        got = copy_size(size, 1280)
        if got is not None:
            assert min(got) >= MIN_SIDE_PX and max(got) <= 4096, (size, got)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(Rejection):
        classifier_copy(b"not an image at all", settings())


# --- the decision ----------------------------------------------------------------------------

EXPLICIT = Label("Explicit Nudity", 91.0, "", 1)
CHILD = Label("Graphic Male Nudity", 85.5, "Explicit Nudity", 2)
VIOLENCE = Label("Violence", 79.99, "", 1)
WEAPON = Label("Weapons", 95.0, "Violence", 2)


def test_held_at_or_above_the_threshold_not_below() -> None:
    assert holding([VIOLENCE], settings(hold_at_confidence=80)) == []
    assert holding([VIOLENCE], settings(hold_at_confidence=79.99)) == [VIOLENCE]
    assert holding([EXPLICIT, VIOLENCE], settings()) == [EXPLICIT]


def test_hold_labels_limit_the_categories_by_top_level_parent() -> None:
    s = settings(hold_labels=["violence"])
    assert holding([EXPLICIT, CHILD, WEAPON], s) == [WEAPON]  # Weapons' top level is Violence
    assert holding([EXPLICIT, CHILD], s) == []
    # a parent Rekognition did not return is the category
    assert holding([Label("Weapons", 99, "Violence", 2)], s) != []


def test_facts_record_every_label_and_why_it_is_held() -> None:
    copy = classifier_copy(g.jpeg(g.photo((800, 600))), settings())[1]
    assert copy is not None
    found = facts(Detection((EXPLICIT, CHILD, VIOLENCE), "rekognition", "7.0"), (800, 600), copy, settings())
    assert found["held"] is True and found["held_by"] == ["Explicit Nudity", "Graphic Male Nudity"]
    assert [x["name"] for x in found["labels"]] == ["Explicit Nudity", "Graphic Male Nudity", "Violence"]
    assert found["labels"][1] == {
        "name": "Graphic Male Nudity",
        "confidence": 85.5,
        "parent": "Explicit Nudity",
        "level": 2,
    }
    assert found["model_version"] == "7.0" and found["hold_at_confidence"] == 80.0
    assert found["checked"]["width"] == 800 and found["checked"]["bytes"] == len(copy.data)
    clean = facts(Detection((), "rekognition", "7.0"), (800, 600), copy, settings())
    assert clean["held"] is False and clean["labels"] == [] and clean["held_by"] == []


# --- the stand-in ----------------------------------------------------------------------------


def test_the_stand_in_holds_only_marked_keys_and_says_it_is_no_model() -> None:
    stand_in = StandIn("HOLD-ME")
    marked = stand_in.detect(b"", 50, "photos/HOLD-ME-cat.jpg")
    plain = stand_in.detect(b"", 50, "photos/cat.jpg")
    assert plain.labels == () and plain.model_version == STAND_IN_VERSION
    [label] = marked.labels
    assert "not a moderation model" in label.name and marked.engine == "stand-in"
    for detection in (marked, plain):
        assert "not a moderation model" in detection.model_version


def test_the_stand_in_holds_whatever_hold_labels_says() -> None:
    s = settings(engine="stand-in", hold_labels=["Violence"])
    moderator = Moderator(StandIn(s.stand_in_marker))
    moderator.start(Upload("up", "HOLD-ME.png", "e1"))
    [out] = moderator.process(g.png(g.photo((120, 90))), s)
    assert out.facts is not None and out.facts["held"] is True
    assert out.facts["engine"] == "stand-in"


def test_engine_is_one_of_two() -> None:
    with pytest.raises(SettingsError):
        settings(engine="model")
    with pytest.raises(SettingsError):
        settings(hold_at_confidence=101)


# --- through the runtime ---------------------------------------------------------------------


def test_the_facts_ride_on_the_event_as_a_json_output() -> None:
    storage, publisher = FakeStorage(), FakePublisher()
    etag = storage.add("up", "a/HOLD-ME.jpg", g.jpeg(g.photo((640, 480))), "image/jpeg")
    s = settings(engine="stand-in")
    moderator = Moderator(StandIn(s.stand_in_marker))
    processor = UploadProcessor(
        processor="moderate",
        process=moderator.process,
        storage=storage,
        publisher=publisher,
        variants_bucket="var",
        settings={"engine": "stand-in"},
        settings_type=Settings,
        on_upload=moderator.start,
    )
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": "2026-12-02T00:00:00Z",
        "detail": {"bucket": {"name": "up"}, "object": {"key": "a/HOLD-ME.jpg", "etag": etag, "size": 1}},
    }
    result = processor.handle(event)
    assert result.status == "processed" and result.variants == ("moderate/a/HOLD-ME.jpg/moderation.json",)
    written = json.loads(storage.objects[("var", "moderate/a/HOLD-ME.jpg/moderation.json")].data)
    assert written["held"] is True
    [(source, event_)] = publisher.sent
    assert source == "imgpipe.moderate"
    parsed = parse_pipeline_event(
        {"source": source, "detail-type": VARIANTS_CREATED, "detail": variants_created_detail(event_)}  # type: ignore[arg-type]
    )
    assert parsed.facts is not None and parsed.facts["held"] is True  # type: ignore[union-attr]
    assert parsed.hold is True  # type: ignore[union-attr]
    assert not parsed.variants[0].public  # type: ignore[union-attr]


def test_documented_event_parses_and_names_every_fact() -> None:
    """docs/events.md shows tests/fixtures/events/moderate/variants_created.json (a test of
    services/notify/tests/test_docs.py holds them equal): it must be what the code sends."""
    from imgpipe.events import to_entry

    path = FOLDER.parents[1] / "tests" / "fixtures" / "events" / "moderate" / "variants_created.json"
    event = json.loads(path.read_text(encoding="utf-8"))
    assert to_entry(parse_pipeline_event(event)) == (event["detail-type"], unsigned(event["detail"]))
    assert verify(EXAMPLE_EVENT_KEY, event)
    s = settings(engine="stand-in")
    moderator = Moderator(StandIn(s.stand_in_marker))
    moderator.start(Upload("imgpipe-uploads", event["detail"]["key"], "e"))
    [out] = moderator.process(g.jpeg(g.photo((600, 400))), s)
    shown = event["detail"]["facts"]
    assert event["detail"]["hold"] is True and out.hold is True
    assert out.facts is not None and set(shown) == set(out.facts)
    assert {k: v for k, v in shown.items() if k != "checked"} == {k: v for k, v in out.facts.items() if k != "checked"}
