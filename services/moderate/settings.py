"""moderate's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import setting

REKOGNITION = "rekognition"
#: not a moderation model: a rule on the key, for stacks without Rekognition (docs/moderation.md)
STAND_IN = "stand-in"
#: Rekognition's smallest image side, in pixels
MIN_SIDE_PX = 80


@dataclass(frozen=True)
class Settings(Limits):
    #: "rekognition" (deployed) or "stand-in": a key-marker rule for the local stack and tests, which
    #: have no Rekognition; it is not a moderation model and its labels say so
    engine: str = setting(REKOGNITION, choices=(REKOGNITION, STAND_IN))
    #: hold the upload when a label's confidence (0-100) is at or above this
    hold_at_confidence: float = setting(80.0, min=0, max=100)
    #: only these top-level categories hold (e.g. ["Explicit", "Violence"]); empty: any label holds
    hold_labels: tuple[str, ...] = setting(())
    #: labels below this confidence are not asked for (Rekognition's MinConfidence) nor recorded
    min_confidence: float = setting(50.0, min=0, max=100)
    #: the copy sent to Rekognition: its long edge in pixels (JPEG, well under the 5 MB limit)
    long_edge: int = setting(1280, min=MIN_SIDE_PX, max=4096)
    #: the stand-in holds an upload whose key contains this text
    stand_in_marker: str = setting("HOLD-ME")
