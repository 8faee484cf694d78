"""`imgpipe status`'s readable lines (imgpipe_tools.cli.description_summary): each service's facts
in its own words, from its folder's summary.py, found by discovery (the words are tested in the
services' folders)."""

from __future__ import annotations

from pathlib import Path

from imgpipe.registry import services_root
from imgpipe_tools.cli import description_summary
from tests.service_copy import copy_services

FACTS = {"width": 640, "height": 480, "format": "jpeg", "palette": [{"color": "#102030"}, {"color": "#a0b0c0"}]}


def _round(**processors: dict) -> dict:
    return {"etag": "3858f62230ac3c915f300c664312c63f", "processors": processors}


def test_each_service_that_stated_facts_gets_its_own_line() -> None:
    described = _round(
        describe={"description": {**FACTS, "duplicate_of": None}},
        moderate={"description": {"held": False}},
        resize={"variants": []},
    )
    assert description_summary(described) == [
        "describe (3858f622): 640x480 jpeg, palette #102030 #a0b0c0, duplicate_of: none",
        "moderate (3858f622): not held",
    ]


def test_an_upload_without_facts_gets_no_line() -> None:
    assert description_summary(_round(resize={"variants": []}, describe={"state": "rejected"})) == []


def test_a_service_without_summary_gets_its_plain_values(tmp_path: Path) -> None:
    """A new facts service (here describe without its summary.py) needs no edit in the CLI."""
    root = copy_services(services_root(), tmp_path / "services")
    (root / "describe" / "summary.py").unlink()
    line = description_summary(_round(describe={"description": {**FACTS, "duplicate_of": None}}), root)
    assert line == ["describe (3858f622): width 640, height 480, format jpeg"]


def test_a_service_with_a_summary_is_heard_in_a_copied_root(tmp_path: Path) -> None:
    root = copy_services(services_root(), tmp_path / "services")
    (root / "moderate" / "summary.py").write_text("def summary(facts):\n    return 'in its own words'\n")
    held = _round(moderate={"description": {"held": True, "held_by": ["Explicit"]}})
    assert description_summary(held, root) == ["moderate (3858f622): in its own words"]
