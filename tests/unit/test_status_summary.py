"""`imgpipe status`'s readable line for describe's facts (imgpipe_tools.cli.description_summary)."""

from __future__ import annotations

from imgpipe_tools.cli import description_summary

FACTS = {"width": 640, "height": 480, "format": "jpeg", "palette": [{"color": "#102030"}, {"color": "#a0b0c0"}]}


def _round(**processors: dict) -> dict:
    return {"etag": "3858f62230ac3c915f300c664312c63f", "processors": processors}


def test_a_described_upload_gets_one_line_with_size_palette_and_duplicate() -> None:
    first = _round(describe={"description": {**FACTS, "duplicate_of": None}}, resize={"variants": []})
    expected = "describe (3858f622): 640x480 jpeg, palette #102030 #a0b0c0, duplicate_of: none"
    assert description_summary(first) == [expected]
    copy = _round(describe={"description": {**FACTS, "duplicate_of": "photos/a.jpg", "duplicate_distance": 3}})
    [line] = description_summary(copy)
    assert line.endswith("near-duplicate of photos/a.jpg (3 of 64 bits differ)")


def test_an_upload_without_facts_gets_no_line() -> None:
    assert description_summary(_round(resize={"variants": []}, describe={"state": "rejected"})) == []


def test_moderations_verdict_is_its_own_line() -> None:
    held = _round(moderate={"description": {"held": True, "held_by": ["Explicit"], "labels": []}})
    assert description_summary(held) == ["moderate (3858f622): held for review by Explicit"]
    assert description_summary(_round(moderate={"description": {"held": False}})) == ["moderate (3858f622): not held"]
