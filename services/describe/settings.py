"""describe's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import setting


@dataclass(frozen=True)
class Settings(Limits):
    #: the position in the photo's EXIF is private: only reported when a deployment asks
    include_gps: bool = setting(False)
    palette_size: int = setting(5, min=1, max=16)
    blurhash_x: int = setting(4, min=1, max=9)
    blurhash_y: int = setting(3, min=1, max=9)
    find_duplicates: bool = setting(True)
    #: at most this many of the perceptual hash's 64 bits differ between near-duplicates; the index
    #: has one band per bit plus one, so changing it starts a new index
    duplicate_distance: int = setting(6, min=0, max=15)
    #: how long an index entry lives (as the catalog's rounds: notify's catalog_ttl_days)
    index_ttl_days: int = setting(90, min=1, max=3650)
