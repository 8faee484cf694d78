"""Events and expectations for notify's tests (services/notify/tests) and for the producers' tests
that check what notify is sent.

Every event is built from the JSON fixtures in tests/fixtures/events/notify/ and the shared
event contract (imgpipe.events), so the tests exercise exactly what EventBridge delivers.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgpipe.events import ImageRejected, Upload, VariantInfo, VariantsCreated, to_entry
from imgpipe.keys import variant_key
from imgpipe.manifest import parse_manifest
from imgpipe.registry import expected_producers_spec

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "events" / "notify"
UPLOADS, VARIANTS = "imgpipe-uploads", "imgpipe-variants"
#: the event key docs/events.md's pipeline events are signed with (imgpipe/signing.py)
EXAMPLE_EVENT_KEY = b"the example stack's event key"


def unsigned(detail: dict[str, Any]) -> dict[str, Any]:
    """A documented detail as the code builds it, before the runtime's publisher signs it."""
    return {k: v for k, v in detail.items() if k != "signature"}


#: the three producers of these tests and how many variants each makes (7 in all)
PRODUCERS = {"convert": 2, "resize": 3, "thumbnail": 2}
_FORMATS = {"convert": "avif", "resize": "webp", "thumbnail": "jpeg"}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def producers_spec(only_prefix: dict[str, str] | None = None) -> str:
    """The expected-producers JSON for PRODUCERS, generated from manifests like infra does.
    ``only_prefix`` narrows a producer to one key prefix."""
    manifests = []
    for name in sorted(PRODUCERS):
        trigger: dict[str, Any] = {"source": "uploads"}
        if only_prefix and name in only_prefix:
            trigger["prefixes"] = [only_prefix[name]]
        raw = {
            "name": name,
            "produces_variants": True,
            "outputs": {"role": "responsive"},
            "memory_mb": 512,
            "timeout_s": 30,
            "triggers": [trigger],
        }
        manifests.append(parse_manifest(Path("services") / name, raw))
    manifests.append(
        parse_manifest(
            Path("services/notify"),
            {"name": "notify", "memory_mb": 256, "timeout_s": 30, "triggers": [{"source": "pipeline"}]},
        )
    )
    return expected_producers_spec(manifests)


def etag_of(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def upload_event(upload: Upload, *, size: int = 2345678, shape: str = "aws", key: str | None = None) -> dict[str, Any]:
    """S3 "Object Created" as real AWS (``etag``) or moto (``eTag``) writes it."""
    event = fixture(f"object_created_{shape}")
    obj = event["detail"]["object"]
    event["detail"]["bucket"]["name"] = upload.bucket
    obj["key"] = upload.key if key is None else key
    obj["size"] = size
    obj["etag" if shape == "aws" else "eTag"] = upload.etag
    return event


def _envelope(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(fixture("variants_created"))
    event.update({"source": source, "detail-type": detail_type, "detail": detail})
    return event


def variant_events(upload: Upload, processor: str, count: int | None = None) -> list[dict[str, Any]]:
    """``processor``'s one "Variants Created" listing its variants, as the runtime emits it (a list,
    as every producer's events are)."""
    count = PRODUCERS[processor] if count is None else count
    fmt = _FORMATS[processor]
    infos = []
    for i in range(count):
        width = 320 * (i + 1)
        vkey = variant_key(processor, upload.key, f"{width}w", "jpg" if fmt == "jpeg" else fmt)
        infos.append(VariantInfo(processor, VARIANTS, vkey, fmt, width, width * 3 // 4, 1000 * (i + 1)))
    detail_type, detail = to_entry(VariantsCreated(upload, processor, tuple(infos), "0123456789abcdef"))
    return [_envelope(f"imgpipe.{processor}", detail_type, detail)]


def rejected_event(upload: Upload, processor: str, reason: str, message: str = "") -> dict[str, Any]:
    message = message or f"{processor} cannot use {upload.uri}: {reason}"
    detail_type, detail = to_entry(ImageRejected(upload, processor, reason, message))
    return _envelope(f"imgpipe.{processor}", detail_type, detail)


def all_variant_keys(upload: Upload) -> list[str]:
    return sorted(v["key"] for p in PRODUCERS for e in variant_events(upload, p) for v in e["detail"]["variants"])


@dataclass(frozen=True)
class Sent:
    """One published email, as the tests see it (fakes and moto both map to this)."""

    subject: str
    body: str
    attributes: dict[str, Any]


def json_blocks(markdown: str) -> list[str]:
    """The bodies of the ```json blocks of a Markdown text, in order."""
    return re.findall(r"^```json\n(.*?)^```$", markdown, flags=re.S | re.M)


def documented_filter_policies() -> list[dict[str, Any]]:
    """The filter policies docs/notify.md shows, so its examples are the tested ones."""
    text = (ROOT / "docs" / "notify.md").read_text(encoding="utf-8")
    section = text.split("## Filtering emails", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in json_blocks(section)]
