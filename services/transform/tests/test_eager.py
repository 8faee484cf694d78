"""A transform equal to a served eager output is answered with that output's URL, never rendered;
anything short of equal (another size, fit, format, quality, a picture the CDN does not serve, a
possibly animated upload as WebP) is rendered as before."""

from __future__ import annotations

from dataclasses import replace

import pytest

from imgpipe.catalog import COMPLETED, Round, VariantRecord
from imgpipe.events import VariantInfo
from imgpipe.outputs import OutputsView, Role
from imgpipe.ports import ObjectInfo
from imgpipe.transforms import Transform, url_path
from services.transform.eager import eager_equal
from services.transform.service import TransformService
from services.transform.settings import Settings

from .test_service import KEY, SECRET, FakeCatalog, FakeRenderings, FakeUploads, photo


def _out(processor: str, name: str, fmt: str, size: tuple[int, int], role: Role) -> VariantRecord:
    key = f"{processor}/{KEY}/{name}.{fmt}"
    return VariantRecord(processor, "variants", key, fmt, *size, 1000, role=role.value)


RESIZE_640 = _out("resize", "640w", "jpeg", (640, 427), Role.RESPONSIVE)
THUMB_300 = _out("thumbnail", "300x300", "webp", (300, 300), Role.PREVIEW)
CONVERT_AVIF = _out("convert", "full", "avif", (2560, 1707), Role.FULL)
GRAY_640 = _out("grayscale", "640w", "jpeg", (640, 427), Role.DERIVED)
OUTPUTS = (RESIZE_640, THUMB_300, CONVERT_AVIF, GRAY_640)


def _every(_: VariantInfo) -> bool:
    return True


@pytest.mark.parametrize(
    ("transform", "fmt", "expected"),
    [
        pytest.param(Transform(640, None, "inside", "jpeg"), "jpeg", RESIZE_640, id="a width of the set"),
        pytest.param(Transform(640, 500, "inside", "jpeg"), "jpeg", RESIZE_640, id="inside a taller box"),
        pytest.param(Transform(None, 427, "inside", "jpeg"), "jpeg", RESIZE_640, id="by its height"),
        pytest.param(Transform(640, 427, "cover", "jpeg"), "jpeg", RESIZE_640, id="cover of its own shape"),
        pytest.param(Transform(300, 300, "cover", "webp"), "webp", THUMB_300, id="the preview's crop"),
        pytest.param(Transform(2560, None, "inside", "avif"), "avif", CONVERT_AVIF, id="full size"),
        pytest.param(Transform(2560, None, "inside", "auto"), "avif", CONVERT_AVIF, id="auto negotiated to it"),
        pytest.param(Transform(640, 400, "inside", "jpeg"), "jpeg", None, id="a box its height exceeds"),
        pytest.param(Transform(641, None, "inside", "jpeg"), "jpeg", None, id="another width"),
        pytest.param(Transform(640, None, "inside", "webp"), "webp", None, id="another format"),
        pytest.param(Transform(640, None, "inside", "jpeg", 82), "jpeg", None, id="a quality named"),
        pytest.param(Transform(640, None, "inside", "auto"), "jpeg", None, id="auto to jpeg: maybe png"),
        pytest.param(Transform(300, 300, "contain", "webp"), "webp", None, id="contain is not the crop"),
        pytest.param(Transform(300, 300, "inside", "webp"), "webp", None, id="inside is not the crop"),
        pytest.param(Transform(640, 300, "cover", "jpeg"), "jpeg", None, id="a crop of a whole picture"),
    ],
)
def test_equal_means_same_format_size_and_picture(transform: Transform, fmt: str, expected: object) -> None:
    assert eager_equal(transform, fmt, OUTPUTS, _every, "image/jpeg") is expected


def test_only_served_outputs_and_never_derived_pictures() -> None:
    card = Transform(640, None, "inside", "jpeg")
    # the clean widths when the marked set is the srcset, say
    assert eager_equal(card, "jpeg", OUTPUTS, lambda v: v.processor != "resize", "image/jpeg") is None
    assert eager_equal(card, "jpeg", (GRAY_640,), _every, "image/jpeg") is None


@pytest.mark.parametrize("content_type", ["image/gif", "image/webp", "image/png", None])
def test_webp_of_an_upload_that_may_be_animated_is_rendered(content_type: str | None) -> None:
    # a transform keeps an animation as WebP; thumbnail's WebP is the first frame
    assert eager_equal(Transform(300, 300, "cover", "webp"), "webp", OUTPUTS, _every, content_type) is None


#: resize's set is the srcset and no mark is deployed: every eager output here is served
CLEAN = OutputsView({}, "resize")


def _service(outputs: OutputsView = CLEAN) -> TransformService:
    uploads = FakeUploads({KEY: ("etag-1", photo())})
    uploads.head = lambda key: ObjectInfo(key, 1, "etag-1", content_type="image/jpeg")  # type: ignore[method-assign]
    found = Round("uploads", KEY, "etag-1", status=COMPLETED, variants=OUTPUTS)
    return TransformService(
        replace(Settings()),
        uploads,
        FakeCatalog({(KEY, "etag-1"): found}),
        FakeRenderings(),
        lambda: (SECRET,),
        outputs=outputs,
    )


def test_the_service_answers_an_equal_transform_with_the_outputs_url_without_reading_the_upload() -> None:
    service = _service()
    for method in ("GET", "HEAD"):
        answer = service.answer(method, url_path(SECRET, KEY, "etag-1", Transform(640, None, "inside", "jpeg")), None)
        assert answer.status == 307
        assert (
            answer.headers["Location"]
            == "/v/resize/users/sub-1/AAAAAAAAAAAAAAAAAAAAAA/photo%20one.jpg/640w.jpeg?v=etag-1"
        )
        assert answer.headers["Cache-Control"] == "public, max-age=86400" and not answer.body
    auto = service.answer("GET", url_path(SECRET, KEY, "etag-1", Transform(2560, None, "inside", "auto")), "image/avif")
    assert auto.status == 307 and auto.headers["Location"].startswith("/v/convert/")
    assert auto.headers["Vary"] == "Accept"
    assert service.uploads.reads == []  # type: ignore[attr-defined]


def test_the_service_renders_what_is_not_served_or_not_equal() -> None:
    # watermark's set is the srcset, and its mark withholds the clean full size: neither resize's
    # widths nor convert's pictures are served
    service = _service(OutputsView({}, "watermark", marked=True))
    answer = service.answer("GET", url_path(SECRET, KEY, "etag-1", Transform(640, None, "inside", "jpeg")), None)
    assert answer.status == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert service.uploads.reads == [KEY]  # type: ignore[attr-defined]
