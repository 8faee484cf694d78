"""describe's settings: defaults are the values manifest.toml states (a test holds them equal)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import setting


@dataclass(frozen=True)
class Settings(Limits):
    include_gps: bool = setting(False)
    palette_size: int = setting(5, min=1, max=16)
    blurhash_x: int = setting(4, min=1, max=9)
    blurhash_y: int = setting(3, min=1, max=9)
    find_duplicates: bool = setting(True)
    duplicate_distance: int = setting(6, min=0, max=15)
    index_ttl_days: int = setting(90, min=1, max=3650)
