"""The classifiers moderate asks: Amazon Rekognition, and a stand-in for stacks without it.

The stand-in is **not a moderation model**: it looks at nothing but the upload's key, and holds
an upload whose key contains ``stand_in_marker`` (``HOLD-ME``). The local stack runs it (moto has
no DetectModerationLabels) so that holding, the email, status and review can be tried end to end;
its engine, model version and label say what it is.
"""

from __future__ import annotations

from typing import Any

from .logic import Detection, Label
from .settings import STAND_IN

STAND_IN_VERSION = "stand-in: not a moderation model"


class Rekognition:
    """``DetectModerationLabels`` on the image's bytes (the Rekognition client from the shared
    factory, so it honours the stack's endpoint and retries)."""

    engine = "rekognition"

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        from imgpipe.adapters import client

        return self._client or client("rekognition")

    def detect(self, image: bytes, min_confidence: float, key: str) -> Detection:
        # Throttling and server errors raise after botocore's retries: Lambda retries, then the
        # DLQ, and notify waits, so nothing is published unchecked.
        response = self.client.detect_moderation_labels(Image={"Bytes": image}, MinConfidence=min_confidence)
        labels = tuple(
            Label(
                name=str(x["Name"]),
                confidence=float(x.get("Confidence", 0.0)),
                parent=str(x.get("ParentName") or ""),
                level=int(x.get("TaxonomyLevel") or 0),
            )
            for x in response.get("ModerationLabels", [])
        )
        return Detection(labels, self.engine, str(response.get("ModerationModelVersion", "")))


class StandIn:
    """Holds what its key marks, looks at no pixel (see the module's docstring)."""

    engine = STAND_IN

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def detect(self, image: bytes, min_confidence: float, key: str) -> Detection:
        labels: tuple[Label, ...] = ()
        if self.marker and self.marker in key:
            labels = (Label(f"{STAND_IN_VERSION} (the key contains {self.marker})", 100.0),)
        return Detection(labels, self.engine, STAND_IN_VERSION)
