"""moderate's line in `imgpipe status`: the verdict."""

from __future__ import annotations

from ..summary import summary


def test_held_names_the_labels_that_held_it() -> None:
    assert summary({"held": True, "held_by": ["Explicit"], "labels": []}) == "held for review by Explicit"


def test_not_held() -> None:
    assert summary({"held": False}) == "not held"
