"""Placeholder until the imaging core lands (issue 3)."""

from collections.abc import Mapping
from typing import Any

from imgpipe.runtime import Output


def process(data: bytes, settings: Mapping[str, Any]) -> list[Output]:
    raise NotImplementedError
