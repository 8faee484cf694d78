"""One request end to end on in-memory ports: what is refused before the upload is read, what
is rendered, what is stored and redirected."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import pytest
from PIL import Image

from imgpipe.catalog import COMPLETED, DELETED, PARTIAL, PROCESSING, REJECTED, Round, VariantRecord
from imgpipe.outputs import OutputsView
from imgpipe.ports import ObjectInfo
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec
from imgpipe.transforms import Transform, preset_path, url_path
from services.transform.service import TransformService
from services.transform.settings import Preset, Settings

KEY = "users/sub-1/AAAAAAAAAAAAAAAAAAAAAA/photo one.jpg"
SECRET = b"k" * 32
OLD_SECRET = b"o" * 32


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (900, 600), (10, 120, 30)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class FakeUploads:
    objects: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def head(self, key: str) -> ObjectInfo | None:
        found = self.objects.get(key)
        return None if found is None else ObjectInfo(key, len(found[1]), found[0])

    def get(self, key: str, etag: str) -> bytes:
        self.reads.append(key)
        stored_etag, data = self.objects[key]
        assert stored_etag == etag
        return data


@dataclass
class FakeCatalog:
    rounds: dict[tuple[str, str], Round] = field(default_factory=dict)

    def load(self, key: str, etag: str) -> Round | None:
        return self.rounds.get((key, etag))


@dataclass
class FakeRenderings:
    stored: dict[str, bytes] = field(default_factory=dict)

    def exists(self, key: str) -> bool:
        return key in self.stored

    def put(self, key: str, data: bytes, content_type: str, cache_control: str) -> None:
        self.stored[key] = data

    def link(self, key: str, expires_s: int) -> str:
        return f"https://bucket.example/{key}?expires={expires_s}"


def build(status: str = COMPLETED, keys: tuple[bytes, ...] = (SECRET,), **settings: int) -> TransformService:
    uploads = FakeUploads({KEY: ("etag-1", photo())})
    catalog = FakeCatalog({(KEY, "etag-1"): Round("uploads", KEY, "etag-1", status=status)})
    return TransformService(replace(Settings(), **settings), uploads, catalog, FakeRenderings(), lambda: keys)


def signed(transform: Transform, secret: bytes = SECRET, etag: str = "etag-1") -> str:
    return url_path(secret, KEY, etag, transform)


CARD = Transform(320, 200, "cover", "webp")


def test_a_signed_url_renders_exactly_that_long_cacheable() -> None:
    service = build()
    answer = service.answer("GET", signed(CARD), None)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "image/webp"
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    assert "Vary" not in answer.headers
    assert Image.open(io.BytesIO(answer.body)).size == (320, 200)


def test_auto_varies_on_accept() -> None:
    answer = build().answer("GET", signed(Transform(320, None, "inside", "auto")), "image/webp,*/*")
    assert answer.headers["Content-Type"] == "image/webp" and answer.headers["Vary"] == "Accept"


def _tamper(path: str) -> str:
    sig = path.split("/")[2]
    return path.replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:], 1)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(_tamper(signed(CARD)), id="tampered signature"),
        pytest.param(signed(CARD).replace("w320_h200", "w640_h400"), id="re-sized"),
        pytest.param(signed(CARD).replace(".webp", ".png"), id="another format"),
        pytest.param(signed(CARD).replace("photo%20one", "photo%20two"), id="another key"),
        pytest.param(f"/t/w320_h200_cover.webp/{KEY}", id="unsigned"),
        pytest.param(signed(CARD, secret=b"x" * 32), id="another secret"),
        pytest.param(signed(CARD, etag="etag-0"), id="an earlier upload of the key"),
        pytest.param(signed(Transform(320, 200, "cover", "webp", 80)).replace("_q80", "_q080"), id="not canonical"),
        pytest.param(signed(Transform(5000, None, "inside", "webp")), id="beyond max_dimension"),
    ],
)
def test_every_url_not_signed_for_exactly_this_is_403_before_the_upload_is_read(path: str) -> None:
    service = build()
    answer = service.answer("GET", path, None)
    assert answer.status == 403
    assert service.uploads.reads == []  # type: ignore[attr-defined]


def test_widths_allow_list_refuses_other_widths() -> None:
    service = build()
    service.settings = replace(service.settings, widths=(320, 640))
    assert service.answer("GET", signed(CARD), None).status == 200
    assert service.answer("GET", signed(Transform(400, None)), None).status == 403


@pytest.mark.parametrize("status", [PROCESSING, REJECTED, DELETED])
def test_unfinished_rejected_or_deleted_rounds_are_never_rendered(status: str) -> None:
    service = build(status)
    assert service.answer("GET", signed(CARD), None).status == 404
    assert service.uploads.reads == []  # type: ignore[attr-defined]


def test_a_held_round_is_never_rendered() -> None:
    service = build()
    held = Round("uploads", KEY, "etag-1", status=COMPLETED, holds=("moderate",))
    service.catalog.rounds[(KEY, "etag-1")] = held  # type: ignore[attr-defined]
    assert service.answer("GET", signed(CARD), None).status == 404
    assert service.uploads.reads == []  # type: ignore[attr-defined]


def test_a_deleted_upload_is_refused() -> None:
    service = build()
    service.uploads.objects.clear()  # type: ignore[attr-defined]
    assert service.answer("GET", signed(CARD), None).status == 403


def test_during_a_rotation_both_keys_verify_and_after_it_only_the_new() -> None:
    old_url = signed(CARD, secret=OLD_SECRET)
    assert build(keys=(SECRET, OLD_SECRET)).answer("GET", old_url, None).status == 200
    assert build(keys=(SECRET,)).answer("GET", old_url, None).status == 403


def test_a_rendering_too_large_to_return_is_stored_and_redirected_once() -> None:
    service = build(max_inline_bytes=100)
    first = service.answer("GET", signed(CARD), None)
    assert first.status == 307 and first.body == b""
    (stored,) = service.renderings.stored  # type: ignore[attr-defined]
    assert stored.startswith(f"transform/{KEY}/etag-1/") and first.headers["Location"].endswith("expires=3600")
    assert int(first.headers["Cache-Control"].rsplit("=", 1)[1]) < 3600
    again = service.answer("GET", signed(CARD), None)
    assert again.status == 307 and service.uploads.reads == [KEY]  # type: ignore[attr-defined]


def test_only_get_and_head() -> None:
    assert build().answer("POST", signed(CARD), None).status == 405
    head = build().answer("HEAD", signed(CARD), None)
    assert head.status == 200 and head.body == b""


# --- presets: named transforms, unsigned, for uploads the CDN already shows -----------------

DEFAULTS = discover(DEFAULT_ROOT, services=None)
#: the default services: resize's clean widths are the srcset and served
CLEAN = OutputsView.parse(outputs_spec(DEFAULTS))
#: watermark's widths are the srcset: no clean picture is served
WATERMARKED = OutputsView.parse(outputs_spec([*DEFAULTS, *discover(DEFAULT_ROOT, services="watermark")]))
PRESETS = {"card": Preset(320, 200, "cover", "webp"), "wide": Preset(600, None, "inside", "jpeg", 70)}


def variant(processor: str, role: str = "responsive", fmt: str = "jpeg") -> VariantRecord:
    return VariantRecord(processor, "variants", f"{processor}/{KEY}/x.{fmt}", fmt, 10, 10, 1, role=role)


def presets(
    *variants: VariantRecord, status: str = COMPLETED, outputs: OutputsView = CLEAN, **round_fields: object
) -> TransformService:
    service = build()
    service.settings = replace(service.settings, presets=PRESETS)
    service.outputs = outputs
    service.marked = outputs.marked
    shown = variants or (variant("resize"),)
    found = Round("uploads", KEY, "etag-1", status=status, variants=shown, **round_fields)  # type: ignore[arg-type]
    service.catalog.rounds[(KEY, "etag-1")] = found  # type: ignore[attr-defined]
    service.keys = lambda: pytest.fail("a preset is not signed: no key is read")  # type: ignore[method-assign]
    return service


@pytest.mark.parametrize("status", [COMPLETED, PARTIAL])
def test_a_preset_renders_exactly_its_transform_unsigned_and_long_cacheable(status: str) -> None:
    answer = presets(status=status).answer("GET", preset_path("card", KEY), None)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "image/webp"
    assert answer.headers["Cache-Control"] == "public, max-age=86400"
    assert Image.open(io.BytesIO(answer.body)).size == (320, 200)
    wide = presets().answer("GET", preset_path("wide", KEY), None)
    assert wide.headers["Content-Type"] == "image/jpeg" and Image.open(io.BytesIO(wide.body)).size == (600, 400)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(preset_path("banner", KEY), id="unknown preset"),
        pytest.param(preset_path("CARD", KEY), id="another spelling"),
        pytest.param(f"/t/p/card/{KEY}".replace("/sub-1/", "/../"), id="dot-dot in the key"),
        pytest.param("/t/p/card/", id="no key"),
        pytest.param(f"/t/p//{KEY}", id="no preset"),
        pytest.param(preset_path("card", "users/sub-1/BBBBBBBBBBBBBBBBBBBBBB/none.jpg"), id="no such upload"),
    ],
)
def test_a_preset_path_naming_nothing_is_404_before_anything_is_read(path: str) -> None:
    service = presets()
    answer = service.answer("GET", path, None)
    assert answer.status == 404 and answer.headers["Cache-Control"] == "public, max-age=60"
    assert service.uploads.reads == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("service", "why"),
    [
        (presets(status=PROCESSING), "still processing"),
        (presets(status=REJECTED), "rejected"),
        (presets(status=DELETED), "deleted"),
        (presets(holds=("moderate",)), "held for review"),
        (presets(holds=("moderate",), review=REJECTED), "rejected by a reviewer"),
        (presets(variant("describe", "facts", "json")), "only facts, no image"),
        (presets(variant("thumbnail", "sidecar", "json")), "only an internal file"),
        (presets(variant("resize"), outputs=OutputsView({}, None)), "a responsive set that is not the srcset"),
        (presets(variant("watermark")), "a responsive set another one is the srcset instead of"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_preset_of_an_upload_the_cdn_does_not_show_is_404_unread(service: TransformService, why: str) -> None:
    answer = service.answer("GET", preset_path("card", KEY), None)
    assert answer.status == 404, why
    assert service.uploads.reads == []  # type: ignore[attr-defined]


def test_a_preset_needs_one_served_public_image_of_the_round() -> None:
    shown = presets(variant("describe", "facts", "json"), variant("thumbnail", "preview"))
    assert shown.answer("GET", preset_path("card", KEY), None).status == 200


def test_with_a_mark_on_a_preset_is_refused_as_every_transform_is() -> None:
    service = presets(outputs=WATERMARKED)
    answer = service.answer("GET", preset_path("card", KEY), None)
    assert answer.status == 403 and b"watermarked only" in answer.body
    assert service.uploads.reads == []  # type: ignore[attr-defined]


def test_a_preset_is_the_same_rendering_as_its_signed_transform() -> None:
    service = presets()
    service.keys = lambda: (SECRET,)  # type: ignore[method-assign]
    signed_answer = service.answer("GET", signed(PRESETS["card"].transform), None)
    assert service.answer("GET", preset_path("card", KEY), None).body == signed_answer.body


def test_a_large_preset_rendering_is_stored_once_beside_the_signed_ones() -> None:
    service = presets()
    service.settings = replace(service.settings, max_inline_bytes=100)
    assert service.answer("GET", preset_path("card", KEY), None).status == 307
    assert list(service.renderings.stored) == [f"transform/{KEY}/etag-1/w320_h200_cover.webp"]  # type: ignore[attr-defined]
    assert service.answer("GET", preset_path("card", KEY), None).status == 307
    assert service.uploads.reads == [KEY]  # type: ignore[attr-defined]
