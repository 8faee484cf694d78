"""One request end to end on in-memory ports: what is refused before the upload is read, what
is rendered, what is stored and redirected."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import pytest
from PIL import Image

from imgpipe.catalog import COMPLETED, DELETED, PROCESSING, REJECTED, Round
from imgpipe.ports import ObjectInfo
from imgpipe.transforms import Transform, url_path
from services.transform.service import TransformService
from services.transform.settings import Settings

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
