"""The upload API's pure rules: request checks and their status codes, keys, names, the PUT's
signed headers (read from what boto3 really signs, since no emulator checks signatures), the
multipart plan, the quota's day, and what the status route shows."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from imgpipe.catalog import Round, VariantRecord
from imgpipe.catalog.model import RejectionRecord
from imgpipe.outputs import OutputsView
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec

from ..callers import caller_from_claims
from ..errors import ApiError
from ..keys import declared_size, is_upload_id, multipart_upload_id, new_upload_id, upload_key
from ..listing import parse_limit, summary_view
from ..multipart import MAX_PARTS, MIB, MIN_PART_BYTES, PartPlan, parse_complete, parse_sign_parts
from ..quota import quota_day, quota_exceeded, seconds_to_next_day
from ..status import responsive_snippets, status_view, variant_url
from ..uploads import ACCEPTED_TYPES, PutSpec, parse_new_upload, sanitize_filename

MAX = 50 * MIB
SUB = "4f1c2a9e-1111-4222-8333-944455556666"


def _refused(body: object, max_bytes: int = MAX) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_new_upload(body, max_bytes)
    return caught.value


# --- requests ----------------------------------------------------------------------------------
def test_a_good_request_is_normalised() -> None:
    got = parse_new_upload({"filename": "Cat.JPG", "type": "image/jpeg", "size": 1234.0}, MAX)
    assert (got.filename, got.type, got.size) == ("Cat.JPG", "image/jpeg", 1234)
    assert isinstance(got.size, int)
    # the type is one of the document's enum exactly, as browsers send it: no second spelling
    assert _refused({"filename": "Cat.JPG", "type": " Image/JPEG ", "size": 1}).status == 415


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ("x", "body"),
        ({"type": "image/png", "size": 1}, "filename"),
        ({"filename": "", "type": "image/png", "size": 1}, "filename"),
        ({"filename": "a" * 256, "type": "image/png", "size": 1}, "filename"),
        ({"filename": "a.png", "size": 1}, "type"),
        ({"filename": "a.png", "type": 7, "size": 1}, "type"),
        ({"filename": "a.png", "type": "image/png"}, "size"),
        ({"filename": "a.png", "type": "image/png", "size": 0}, "size"),
        ({"filename": "a.png", "type": "image/png", "size": True}, "size"),
        ({"filename": "a.png", "type": "image/png", "size": 1.5}, "size"),
        ({"filename": "a.png", "type": "image/png", "size": "12"}, "size"),
        ({"filename": "a.png", "type": "image/png", "size": 1.5}, "size"),
    ],
)
def test_a_malformed_request_is_400_naming_the_field(body: object, field: str) -> None:
    error = _refused(body)
    assert (error.status, error.field) == (400, field)
    assert error.body()["error"]["field"] == field


@pytest.mark.parametrize("content_type", ["image/svg+xml", "application/pdf", "text/html", "video/mp4", "image/*"])
def test_a_type_the_processors_do_not_accept_is_415(content_type: str) -> None:
    error = _refused({"filename": "a.png", "type": content_type, "size": 10})
    assert (error.status, error.code, error.field) == (415, "unsupported_type", "type")


def test_every_image_type_of_the_brief_is_accepted() -> None:
    assert set(ACCEPTED_TYPES) == {f"image/{t}" for t in ("jpeg", "png", "webp", "gif", "avif", "heic", "tiff", "bmp")}


def test_a_declared_size_over_the_cap_is_413_and_the_cap_itself_passes() -> None:
    assert parse_new_upload({"filename": "a.png", "type": "image/png", "size": MAX}, MAX).size == MAX
    error = _refused({"filename": "a.png", "type": "image/png", "size": MAX + 1})
    assert (error.status, error.code, error.field) == (413, "too_large", "size")


def test_shape_is_checked_before_type_and_type_before_size() -> None:
    assert _refused({"filename": "", "type": "text/plain", "size": MAX + 1}).status == 400
    assert _refused({"filename": "a", "type": "text/plain", "size": MAX + 1}).status == 415


def test_sign_parts_and_complete_are_held_to_the_plan() -> None:
    assert parse_sign_parts({"part_numbers": [3, 1, 3]}, 3).part_numbers == [1, 3]
    for bad in ({}, {"part_numbers": []}, {"part_numbers": [0]}, {"part_numbers": [4]}, {"part_numbers": ["1"]}):
        with pytest.raises(ApiError) as caught:
            parse_sign_parts(bad, 3)
        assert (caught.value.status, caught.value.field) == (400, "part_numbers")
    parts = [{"part_number": 2, "etag": '"b"'}, {"part_number": 1, "etag": '"a"'}]
    assert [p.part_number for p in parse_complete({"parts": parts}, 2).parts] == [1, 2]
    for bad_parts in (
        [],
        parts[:1],
        [parts[0], parts[0]],
        [{"part_number": 1}],
        [*parts, {"part_number": 3, "etag": "c"}],
    ):
        with pytest.raises(ApiError) as caught:
            parse_complete({"parts": bad_parts}, 2)
        assert (caught.value.status, caught.value.field) == (400, "parts")


def test_limit_is_bounded_by_the_page_size() -> None:
    assert parse_limit(None, 20) == 20
    assert parse_limit("5", 20) == 5
    assert parse_limit("21", 20) == parse_limit("100000", 20) == 20  # a page holds at most page_size
    for bad in ("0", "-1", "x", "", "100001", "²", "١", " 5", "5 "):
        with pytest.raises(ApiError):
            parse_limit(bad, 20)


# --- the caller --------------------------------------------------------------------------------
def test_the_caller_is_the_sub_claim_and_nothing_else_is_trusted() -> None:
    assert caller_from_claims({"sub": SUB, "email": "a@b.c"}).sub == SUB
    for claims in (None, {}, {"sub": ""}, {"sub": "../other"}, {"sub": "a/b"}, {"sub": 5}, {"username": SUB}):
        with pytest.raises(ApiError) as caught:
            caller_from_claims(claims)  # type: ignore[arg-type]
        assert caught.value.status == 401


# --- keys and names ----------------------------------------------------------------------------
def test_upload_ids_are_random_and_only_well_formed_ones_are_looked_up() -> None:
    ids = {new_upload_id() for _ in range(200)}
    assert len(ids) == 200 and all(is_upload_id(i) and len(i) == 22 for i in ids)
    assert declared_size(new_upload_id()) is None
    multipart = multipart_upload_id(123_456_789)
    assert is_upload_id(multipart) and declared_size(multipart) == 123_456_789
    for bad in ("", "x", "../../etc", "a" * 21, "a" * 23, "a" * 22 + "-0", "a" * 22 + "-01", "a" * 22 + "/x"):
        assert not is_upload_id(bad)


def test_the_key_is_the_users_prefix_the_id_and_the_sanitized_name() -> None:
    assert upload_key(SUB, "I" * 22, "cat.jpg") == f"users/{SUB}/{'I' * 22}/cat.jpg"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("cat.jpg", "image/jpeg", "cat.jpg"),
        ("Cat Photo (1).JPEG", "image/jpeg", "Cat-Photo-1.jpeg"),
        ("../../etc/passwd", "image/png", "passwd.png"),
        ("C:\\Users\\me\\shot.png", "image/png", "shot.png"),
        ("photo.png", "image/jpeg", "photo.png.jpg"),
        ("noext", "image/webp", "noext.webp"),
        ("Éte\u0301 à Zürich.heic", "image/heic", "Ete-a-Zurich.heic"),
        ("写真.gif", "image/gif", "upload.gif"),
        (".hidden.png", "image/png", "hidden.png"),
        ("a" * 300 + ".tiff", "image/tiff", "a" * 95 + ".tiff"),
        ("x.avif", "image/avif", "x.avif"),
        ("x.bmp", "image/bmp", "x.bmp"),
    ],
)
def test_file_names_are_sanitized(name: str, content_type: str, expected: str) -> None:
    assert sanitize_filename(name, content_type) == expected


def test_a_sanitized_name_is_always_safe() -> None:
    for name in ["a/b", "..", "...png", "\x00.png", "a b\tc.png", "%2e%2e.png", "<script>.png", "   .png"]:
        safe = sanitize_filename(name, "image/png")
        assert safe.endswith(".png") and "/" not in safe and not safe.startswith(".")
        assert all(c.isalnum() or c in "._-" for c in safe) and len(safe) <= 100


# --- the presigned PUT, as S3 will check it ----------------------------------------------------
def test_the_signed_put_pins_key_type_exact_size_expiry_and_a_single_write() -> None:
    from ..adapters import S3Uploads

    s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    key = upload_key(SUB, new_upload_id(), "cat.jpg")
    spec = PutSpec("image/jpeg", 48211)
    url = S3Uploads("uploads-bucket", s3).presign_put(key, spec, 300)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == f"/uploads-bucket/{key}" or parts.path == f"/{key}"
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    # Each signed header: S3 refuses the PUT unless the client sends it with the signed value.
    # content-length: exactly the declared size; if-none-match: the key must still be empty.
    assert sorted(query["X-Amz-SignedHeaders"][0].split(";")) == [
        "content-length",
        "content-type",
        "host",
        "if-none-match",
    ]
    # what the client is told to send is what was signed
    assert spec.headers == {"Content-Type": "image/jpeg", "If-None-Match": "*"}


# --- multipart ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, MIN_PART_BYTES - 1, MIN_PART_BYTES, MIN_PART_BYTES + 1, MAX, 5 * 1024**3])
def test_the_parts_add_up_to_exactly_the_declared_size(size: int) -> None:
    plan = PartPlan.for_size(size)
    assert plan.part_size >= MIN_PART_BYTES and 1 <= plan.part_count <= MAX_PARTS
    lengths = [plan.length(n) for n in range(1, plan.part_count + 1)]
    assert sum(lengths) == size
    assert all(n == plan.part_size for n in lengths[:-1]) and 0 < lengths[-1] <= plan.part_size
    for outside in (0, plan.part_count + 1):
        with pytest.raises(ValueError):
            plan.length(outside)


def test_a_part_url_pins_its_content_length() -> None:
    s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    url = s3.generate_presigned_url(
        "upload_part",
        Params={"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 2, "ContentLength": 123},
        ExpiresIn=60,
    )
    assert "content-length" in parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")


# --- quota -------------------------------------------------------------------------------------
def test_the_quota_day_is_utc_and_the_retry_hint_points_at_its_end() -> None:
    late = datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC)
    assert quota_day(late) == "2026-12-01"
    assert seconds_to_next_day(late) == 30
    error = quota_exceeded(200, late)
    assert (error.status, error.headers["Retry-After"]) == (429, "30")


# --- the status view ---------------------------------------------------------------------------
#: the shipped services' declared roles (their manifests), as the API is told them
OUTPUTS = OutputsView.parse(outputs_spec(discover(DEFAULT_ROOT)))
WATERMARKED = OutputsView.parse(outputs_spec(discover(DEFAULT_ROOT), {"watermark": {"srcset": True}}))
#: the default deployment: no watermark, so resize's set is the srcset
CLEAN = OutputsView.parse(outputs_spec(discover(DEFAULT_ROOT, services=None)))


def _variant(processor: str, name: str, fmt: str, width: int, height: int, count: int) -> VariantRecord:
    key = f"{processor}/users/{SUB}/{'I' * 22}/cat.jpg/{name}"
    [manifest] = [m for m in discover(DEFAULT_ROOT) if m.name == processor]
    assert manifest.outputs is not None
    role = manifest.outputs.role.value
    return VariantRecord(processor, "variants", key, fmt, width, height, 1000 + width, count, role=role)


def test_the_status_view_shows_states_plain_reasons_variants_and_snippets() -> None:
    key = f"users/{SUB}/{'I' * 22}/cat.jpg"
    found = Round(
        bucket="uploads",
        key=key,
        etag="abc123",
        status="partial",
        expected=("convert", "resize", "thumbnail"),
        variants=(
            _variant("resize", "320w.jpg", "jpeg", 320, 213, 2),
            _variant("resize", "600w.jpg", "jpeg", 600, 400, 2),
            _variant("convert", "full.webp", "webp", 600, 400, 1),
        ),
        rejections=(RejectionRecord("thumbnail", "too_many_pixels", "internal detail"),),
        size=5000,
        uploaded_at="2026-12-01T10:00:00.000000Z",
    )
    view = status_view("I" * 22, key, found, delivery_url="https://cdn.example/", outputs=CLEAN)
    assert view.status == "partial" and view.filename == "cat.jpg" and view.size == 5000
    states = {p.name: (p.state, p.reason) for p in view.processors}
    assert states == {
        "convert": ("done", None),
        "resize": ("done", None),
        "thumbnail": ("rejected", "too_many_pixels"),
    }
    [thumb] = [p for p in view.processors if p.name == "thumbnail"]
    assert thumb.message == "This image has more pixels than we accept."  # plain words, not the internal message
    urls = {v.name: v.url for v in view.variants}
    assert urls["320w.jpg"] == f"https://cdn.example/v/resize/users/{SUB}/{'I' * 22}/cat.jpg/320w.jpg?v=abc123"
    assert view.srcset == f"{urls['320w.jpg']} 320w, {urls['600w.jpg']} 600w"
    assert view.picture is not None
    # convert's one-size WebP is not a width of the responsive set: no <source> of it
    assert "<source" not in view.picture and f'src="{urls["600w.jpg"]}"' in view.picture
    assert {v.name: v.role for v in view.variants} == {
        "320w.jpg": "responsive",
        "600w.jpg": "responsive",
        "full.webp": "full",
    }


def test_the_srcset_is_one_declared_set_never_a_watermarked_and_a_clean_one_mixed() -> None:
    key = f"users/{SUB}/{'I' * 22}/cat.jpg"
    found = Round(
        bucket="uploads",
        key=key,
        etag="abc123",
        status="completed",
        expected=("convert", "resize", "watermark"),
        variants=(
            _variant("resize", "320w.jpg", "jpeg", 320, 320, 3),
            _variant("resize", "640w.jpg", "jpeg", 640, 640, 3),
            _variant("resize", "1280w.jpg", "jpeg", 1280, 1280, 3),
            _variant("watermark", "1280w.jpg", "jpeg", 1280, 1280, 1),
            _variant("convert", "full.jpg", "jpeg", 1600, 1600, 1),
        ),
    )

    def widths_and_services(outputs: OutputsView) -> list[tuple[str, str]]:
        view = status_view("I" * 22, key, found, delivery_url="https://cdn.example", outputs=outputs)
        assert view.srcset is not None
        return [(url.split("/v/")[1].split("/")[0], w) for url, w in (e.split(" ") for e in view.srcset.split(", "))]

    assert widths_and_services(WATERMARKED) == [("watermark", "1280w")]
    # and the clean pictures the CDN withholds are not offered as links either
    marked = status_view("I" * 22, key, found, delivery_url="https://cdn.example", outputs=WATERMARKED)
    assert {v.processor for v in marked.variants} == {"watermark"}
    # the list's count is what the upload's page offers, never the withheld clean pictures
    assert summary_view(found, WATERMARKED).variants == len(marked.variants)
    clean = OutputsView.parse(outputs_spec(discover(DEFAULT_ROOT), {"watermark": {"srcset": False}}))
    assert widths_and_services(clean) == [("resize", "320w"), ("resize", "640w"), ("resize", "1280w")]


def test_describes_facts_are_the_description_not_a_variant() -> None:
    key = f"users/{SUB}/{'I' * 22}/cat.jpg"
    facts = {"thumbhash": "1QcSHQRnh493V4dIh4eXh1h4kJUI", "duplicate_of": None}
    found = Round(
        bucket="uploads",
        key=key,
        etag="abc123",
        status="completed",
        expected=("describe", "resize"),
        variants=(
            _variant("resize", "320w.jpg", "jpeg", 320, 213, 1),
            _variant("describe", "description.json", "json", 640, 427, 1),
        ),
        descriptions={"describe": facts},
    )
    # every service deployed, resize's set the srcset (so served and offered)
    outputs = OutputsView.parse(outputs_spec(discover(DEFAULT_ROOT), {"watermark": {"srcset": False}}))
    view = status_view("I" * 22, key, found, delivery_url="https://cdn.example/", outputs=outputs)
    assert [v.name for v in view.variants] == ["320w.jpg"]
    assert view.description == {"describe": facts}
    assert summary_view(found, outputs).variants == 1


def test_an_upload_nobody_reported_yet_is_processing_and_one_being_sent_is_uploading() -> None:
    key = f"users/{SUB}/{'I' * 22}/cat.jpg"
    assert status_view("I" * 22, key, None, delivery_url="").status == "processing"
    assert status_view("I" * 22, key, None, delivery_url="", uploading=True).status == "uploading"


def test_snippets_leave_out_variants_of_another_shape_and_escape_urls() -> None:
    def view(name: str, fmt: str, w: int, h: int) -> object:
        from ..status import VariantView

        return VariantView("p", name, fmt, f"https://cdn/v/{name}?v=a&b", w, h, 1)

    srcset, picture = responsive_snippets([view("a", "jpeg", 600, 400), view("t", "jpeg", 300, 300)])  # type: ignore[list-item]
    assert srcset == "https://cdn/v/a?v=a&b 600w"
    assert picture is not None and "&amp;" in picture and "/t?" not in picture
    assert responsive_snippets([]) == (None, None)


def test_variant_urls_change_with_the_uploads_content() -> None:
    assert variant_url("https://d", "resize/a b.jpg/320w.jpg", "e1") != variant_url(
        "https://d", "resize/a b.jpg/320w.jpg", "e2"
    )
    assert variant_url("https://d/", "k/a b", "e") == "https://d/v/k/a%20b?v=e"
