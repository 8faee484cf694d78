"""notify processor (being built: see issue 4)."""

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise NotImplementedError("notify is being built")
