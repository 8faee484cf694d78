"""moderate: moderation labels on a reduced copy of each upload, and whether to hold it.

The facts (docs/moderation.md, docs/events.md "moderate's facts"): the engine and its model
version, every label at or above ``min_confidence`` with its confidence and parent, the labels
that hold the upload, and ``held``. They ride on moderate's "Variants Created" (``facts``, and
the document ``moderate/<key>/moderation.json``) with the verdict as the event's own ``hold``,
which notify keeps as the round's state: a held upload's email says so and its variants are not
offered until ``imgpipe review approve`` releases it.

:func:`classifier_copy`, :func:`decide` and :func:`facts` are pure. :class:`Moderator` (what the
handler runs) asks a :class:`Classifier` (``engines.py``: Rekognition, or the stand-in) about the
copy; the runtime tells it the upload's key first (``start``), since ``process`` gets only bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from imgpipe.events import Upload
from imgpipe.imaging import EncodeOptions, encode, open_image, resize
from imgpipe.limits import Limits
from imgpipe.runtime import Output

from .settings import MIN_SIDE_PX, STAND_IN, Settings

OUTPUT_NAME = "moderation"
#: Rekognition's limit for an image passed as bytes (the service model's Image.Bytes max)
MAX_IMAGE_BYTES = 5 * 1024 * 1024
#: the copy's longest side when a thin strip must be enlarged to MIN_SIDE_PX on its short side
MAX_SIDE_PX = 4096
#: good enough for a classifier, and a 1280 px copy stays a few hundred KB
COPY_JPEG_QUALITY = 85
#: each try that still exceeds MAX_IMAGE_BYTES shrinks the copy by this
SHRINK = 0.75


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float  # 0-100
    parent: str = ""  # "" for a top-level category
    level: int = 0  # Rekognition's TaxonomyLevel (1 top-level ... 3); 0 unknown


@dataclass(frozen=True)
class Detection:
    labels: tuple[Label, ...]
    engine: str
    model_version: str


class Classifier(Protocol):
    """What moderate asks about an image: Rekognition (``engines.Rekognition``) or the stand-in."""

    def detect(self, image: bytes, min_confidence: float, key: str) -> Detection: ...


@dataclass(frozen=True)
class Copy:
    data: bytes
    width: int
    height: int


def copy_size(size: tuple[int, int], long_edge: int) -> tuple[int, int] | None:
    """The copy's size: at most ``long_edge`` on its long side, at least MIN_SIDE_PX on its short
    side (a small upload is enlarged: the copy is only for the classifier). None when no size fits
    both (a strip thinner than 80:4096)."""
    w, h = size
    scale = min(1.0, long_edge / max(w, h))
    if min(w, h) * scale < MIN_SIDE_PX:
        scale = MIN_SIDE_PX / min(w, h)
    out = max(MIN_SIDE_PX, round(w * scale)), max(MIN_SIDE_PX, round(h * scale))
    return out if max(out) <= MAX_SIDE_PX else None


def classifier_copy(data: bytes, settings: Settings) -> tuple[tuple[int, int], Copy | None]:
    """(the upload's upright size, a JPEG of it within Rekognition's limits or None when none
    fits). Raises :class:`imgpipe.errors.Rejection` for bad input. An animation's first frame."""
    source = open_image(data, Limits.from_settings(settings))
    target = copy_size(source.size, settings.long_edge)
    if target is None:
        return source.size, None
    image = source.decode(min_size=target)
    while True:
        body = encode(resize(image, target), "jpeg", EncodeOptions(jpeg_quality=COPY_JPEG_QUALITY))
        if len(body) <= MAX_IMAGE_BYTES or min(target) <= MIN_SIDE_PX:
            return source.size, Copy(body, *target)
        target = (max(MIN_SIDE_PX, round(target[0] * SHRINK)), max(MIN_SIDE_PX, round(target[1] * SHRINK)))


def _top_level(label: Label, by_name: Mapping[str, Label]) -> str:
    """The label's top-level category, following parents among the labels returned (a parent
    Rekognition did not return is taken as the category)."""
    seen: set[str] = set()
    while label.parent and label.parent not in seen:
        seen.add(label.parent)
        parent = by_name.get(label.parent)
        if parent is None:
            return label.parent
        label = parent
    return label.name


def holding(labels: Iterable[Label], settings: Settings, *, any_category: bool = False) -> list[Label]:
    """The labels that hold the upload: confidence at or above ``hold_at_confidence`` and, when
    ``hold_labels`` names categories, under one of them (``any_category``: the stand-in's marker)."""
    labels = list(labels)
    by_name = {label.name: label for label in labels}
    wanted = {c.casefold() for c in settings.hold_labels}
    return [
        label
        for label in labels
        if label.confidence >= settings.hold_at_confidence
        and (any_category or not wanted or _top_level(label, by_name).casefold() in wanted)
    ]


def facts(detection: Detection | None, size: tuple[int, int], copy: Copy | None, settings: Settings) -> dict[str, Any]:
    """What moderate reports. No detection (no copy fits Rekognition's limits): held, unchecked,
    so a person decides rather than nobody."""
    base: dict[str, Any] = {
        "width": size[0],
        "height": size[1],
        "hold_at_confidence": settings.hold_at_confidence,
        "hold_labels": list(settings.hold_labels),
    }
    if detection is None or copy is None:
        why = f"no copy of a {size[0]}x{size[1]} image fits Rekognition's limits (sides {MIN_SIDE_PX}-{MAX_SIDE_PX})"
        return {**base, "engine": settings.engine, "held": True, "unchecked": why, "labels": [], "held_by": []}
    held_by = holding(detection.labels, settings, any_category=detection.engine == STAND_IN)
    return {
        **base,
        "engine": detection.engine,
        "model_version": detection.model_version,
        "checked": {"width": copy.width, "height": copy.height, "bytes": len(copy.data)},
        "labels": [
            {"name": x.name, "confidence": round(x.confidence, 2), "parent": x.parent, "level": x.level}
            for x in detection.labels
        ],
        "held_by": sorted({x.name for x in held_by}),
        "held": bool(held_by),
    }


def output(found: dict[str, Any]) -> Output:
    body = json.dumps(found, sort_keys=True, separators=(",", ":")).encode()
    return Output(
        OUTPUT_NAME, "json", body, int(found["width"]), int(found["height"]), facts=found, hold=found["held"] is True
    )


@dataclass
class Moderator:
    """The handler's process: the copy, the classifier, the decision."""

    classifier: Classifier
    key: str = ""

    def start(self, upload: Upload) -> None:
        self.key = upload.key

    def process(self, data: bytes, settings: Settings) -> list[Output]:
        size, copy = classifier_copy(data, settings)
        detection = None if copy is None else self.classifier.detect(copy.data, settings.min_confidence, self.key)
        return [output(facts(detection, size, copy, settings))]
