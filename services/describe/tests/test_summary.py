"""describe's line in `imgpipe status`."""

from __future__ import annotations

from ..summary import summary

FACTS = {"width": 640, "height": 480, "format": "jpeg", "palette": [{"color": "#102030"}, {"color": "#a0b0c0"}]}


def test_size_palette_and_no_duplicate() -> None:
    assert summary({**FACTS, "duplicate_of": None}) == "640x480 jpeg, palette #102030 #a0b0c0, duplicate_of: none"


def test_a_near_duplicate_names_the_other_upload_and_the_distance() -> None:
    line = summary({**FACTS, "duplicate_of": "photos/a.jpg", "duplicate_distance": 3})
    assert line.endswith("near-duplicate of photos/a.jpg (3 of 64 bits differ)")
