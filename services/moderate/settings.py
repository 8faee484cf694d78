"""moderate's settings: defaults are the values manifest.toml states (a test holds them equal)."""

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
    engine: str = setting(REKOGNITION, choices=(REKOGNITION, STAND_IN))
    hold_at_confidence: float = setting(80.0, min=0, max=100)
    hold_labels: tuple[str, ...] = setting(())
    min_confidence: float = setting(50.0, min=0, max=100)
    long_edge: int = setting(1280, min=MIN_SIDE_PX, max=4096)
    stand_in_marker: str = setting("HOLD-ME")
