"""A transform and the processors are one imaging path: ``fit=cover`` is thumbnail's
content-aware crop, pixel for pixel, and the caps refuse the same uploads for the same reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from imgpipe.errors import Reason, Rejection
from imgpipe.transforms import Transform
from services.thumbnail.logic import process as thumbnail
from services.thumbnail.settings import Settings as ThumbnailSettings
from services.transform.logic import render
from services.transform.settings import Settings
from services.transform.tests.test_logic import jpeg

SETTINGS = Settings()


def test_cover_is_thumbnails_content_aware_crop() -> None:
    data = jpeg((1600, 900))
    thumb = thumbnail(data, ThumbnailSettings(size=(300, 300), formats=("png",)))[0]
    ours = render(data, Transform(300, 300, "cover", "png"), SETTINGS)
    assert ours.data == thumb.data
    # and the crop is placed by content, not centred (else the comparison proves little)
    centred = thumbnail(data, ThumbnailSettings(size=(300, 300), formats=("png",), crop="center"))[0]
    assert ours.data != centred.data


def test_the_caps_refuse_what_a_processor_refuses() -> None:
    capped = replace(SETTINGS, max_pixels=1_000_000)
    with pytest.raises(Rejection) as caught:
        render(jpeg((1200, 900)), Transform(100, None, "inside", "webp"), capped)
    assert caught.value.reason == Reason.TOO_MANY_PIXELS
    # the same refusal a processor gives for the same cap
    with pytest.raises(Rejection) as by_thumbnail:
        thumbnail(jpeg((1200, 900)), ThumbnailSettings(max_pixels=1_000_000))
    assert by_thumbnail.value.reason == caught.value.reason
