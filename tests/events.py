"""Event fixtures for tests: the JSON files under tests/fixtures/events, re-keyed as needed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def object_created(bucket: str, key: str, etag: str, *, size: int = 1, shape: str = "aws") -> dict[str, Any]:
    """An S3 "Object Created" event as real AWS (``etag``) or moto (``eTag``) shapes it."""
    event = copy.deepcopy(load(f"object_created_{shape}.json"))
    obj = event["detail"]["object"]
    event["detail"]["bucket"]["name"] = bucket
    obj["key"], obj["size"] = key, size
    obj["etag" if shape == "aws" else "eTag"] = etag if shape == "aws" else f'"{etag}"'
    return event
