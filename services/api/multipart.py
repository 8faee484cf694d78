"""A multipart upload, pure: how a file is cut into parts (S3's rules), what the sign and
complete requests may ask for, and the answers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request
from .fields import constraint, is_json_int, json_object

MIB = 1024 * 1024
#: S3's multipart rules: every part but the last is at least 5 MiB; at most 10,000 parts
MIN_PART_BYTES = 5 * MIB
MAX_PARTS = 10_000


@dataclass(frozen=True)
class SignParts:
    """``POST /api/uploads/{id}/parts``: the part numbers to sign (1-based)."""

    part_numbers: list[int] = field(
        metadata=constraint(minItems=1, maxItems=10_000, items={"type": "integer", "minimum": 1})
    )


@dataclass(frozen=True)
class CompletedPart:
    part_number: int = field(metadata=constraint(minimum=1))
    etag: str = field(metadata=constraint())


@dataclass(frozen=True)
class CompleteUpload:
    """``POST /api/uploads/{id}/complete``: every part, as S3 answered each upload."""

    parts: list[CompletedPart] = field(metadata=constraint(minItems=1, maxItems=10_000))


def parse_sign_parts(body: Any, part_count: int) -> SignParts:
    raw = json_object(body)
    numbers = raw.get("part_numbers")
    if not isinstance(numbers, list) or not numbers or not all(is_json_int(n) for n in numbers):
        raise bad_request("part_numbers", "'part_numbers' is required: a non-empty list of part numbers.")
    if len(numbers) > part_count or any(not 1 <= n <= part_count for n in numbers):
        raise bad_request("part_numbers", f"This upload has parts 1 to {part_count}.")
    return SignParts(sorted({int(n) for n in numbers}))


def parse_complete(body: Any, part_count: int) -> CompleteUpload:
    raw = json_object(body)
    parts = raw.get("parts")
    message = f"'parts' is required: parts 1 to {part_count}, each {{'part_number', 'etag'}}."
    if not isinstance(parts, list) or len(parts) != part_count:
        raise bad_request("parts", message)
    parsed = []
    for part in parts:
        if (
            not isinstance(part, dict)
            or not is_json_int(part.get("part_number"))
            or not isinstance(part.get("etag"), str)
        ):
            raise bad_request("parts", message)
        parsed.append(CompletedPart(int(part["part_number"]), part["etag"]))
    if sorted(p.part_number for p in parsed) != list(range(1, part_count + 1)):
        raise bad_request("parts", message)
    return CompleteUpload(sorted(parsed, key=lambda p: p.part_number))


@dataclass(frozen=True)
class PartPlan:
    """How a file of ``size`` bytes is cut: every part ``part_size`` bytes but the last. Each part's
    signed URL pins its exact Content-Length, so the parts add up to the declared size (at most
    ``max_bytes``): no part count or part size the client picks can go beyond it."""

    size: int
    part_size: int

    @classmethod
    def for_size(cls, size: int) -> PartPlan:
        # the smallest part S3 allows, unless the file needs bigger ones to fit in 10,000 parts
        return cls(size, max(MIN_PART_BYTES, math.ceil(size / MAX_PARTS)))

    @property
    def part_count(self) -> int:
        return math.ceil(self.size / self.part_size)

    def length(self, part_number: int) -> int:
        if not 1 <= part_number <= self.part_count:
            raise ValueError(f"part {part_number} is not in 1..{self.part_count}")
        return min(self.part_size, self.size - (part_number - 1) * self.part_size)


@dataclass(frozen=True)
class MultipartTicket:
    id: str
    key: str
    upload_id: str
    part_size: int
    part_count: int


@dataclass(frozen=True)
class SignedPart:
    part_number: int
    url: str
    content_length: int


@dataclass(frozen=True)
class SignedParts:
    parts: list[SignedPart]
    expires: str


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    size: int
    etag: str


@dataclass(frozen=True)
class PartList:
    parts: list[UploadedPart]
