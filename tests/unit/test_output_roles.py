"""Declared output roles (imgpipe/outputs.py): what the CDN may serve, decided per object by the tag
its producer wrote it with (the bucket policy and the local front door, the API's links by the same
rule), the path shape the CloudFront Function checks (the same rule in Python and JavaScript), and
the one responsive set."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from imgpipe import runtime
from imgpipe.events import VariantInfo
from imgpipe.manifest import ManifestError, parse_manifest
from imgpipe.outputs import (
    IMAGE_EXTENSIONS,
    VISIBILITY_TAG,
    OutputsView,
    Role,
    SrcsetError,
    held_tags,
    is_served,
    outputs_json,
    public_visibilities,
    servable,
    srcset_source,
    viewer_request_js,
    visibility_of,
)
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec, served_visibilities, srcset_settings

SHIPPED = discover(DEFAULT_ROOT)
#: every shipped service deployed, settings as shipped: watermark's widths are the srcset
SERVED = served_visibilities(SHIPPED)
KEY = "users/u1/abc/cat.jpg"

#: what a probe builds from a key and the documented names: whether it has a public image's shape
#: (the CloudFront Function's 404 for the rest; whether it is served is the object's tag's to say)
PATHS = {
    f"resize/{KEY}/320w.jpg": True,
    f"thumbnail/{KEY}/300x300.webp": True,
    f"convert/{KEY}/full.webp": True,
    f"convert/{KEY}/full.avif": True,
    f"watermark/{KEY}/1280w.jpg": True,
    f"describe/{KEY}/description.json": False,
    f"moderate/{KEY}/moderation.json": False,
    "_backfill/backfill-20261205T010203Z/summary.json": False,
    "_backfill/inventory/manifest.jpg": False,
    f"unknown/{KEY}/x.png": True,
    f"Resize/{KEY}/320w.jpg": False,
    f"resize/{KEY}/320w": False,
    f"resize/../describe/{KEY}/description.jpg": False,
    f"resize//{KEY}/320w.jpg": False,
    f"resize/{KEY}\\x/320w.jpg": False,
    "cat.jpg": False,
    "resize/": False,
    "": False,
}

#: each shipped producer's public output as it is written, and whether the shipped deployment
#: serves it: watermark's set is the srcset, so the clean widths and the clean full size are not
WRITTEN = {
    ("resize", Role.RESPONSIVE): False,
    ("watermark", Role.RESPONSIVE): True,
    ("thumbnail", Role.PREVIEW): True,
    ("convert", Role.FULL): False,
    ("newcomer", Role.DERIVED): True,
}


def test_every_producer_declares_a_role_and_only_images_are_public() -> None:
    roles = {m.name: m.outputs.role for m in SHIPPED if m.outputs is not None}
    assert roles == {
        "resize": Role.RESPONSIVE,
        "watermark": Role.RESPONSIVE,
        "thumbnail": Role.PREVIEW,
        "convert": Role.FULL,
        "describe": Role.FACTS,
        "moderate": Role.FACTS,
    }
    assert SERVED == ["derived", "preview", "responsive:watermark"]
    # facts and sidecars are written with no tag at all, so nothing can serve them
    assert visibility_of(Role.FACTS, "describe") is None and visibility_of(Role.SIDECAR, "x") is None


@pytest.mark.parametrize(("written", "expected"), WRITTEN.items())
def test_what_is_served_is_the_tag_its_producer_wrote_it_with(written: tuple[str, Role], expected: bool) -> None:
    tags = {VISIBILITY_TAG: visibility_of(written[1], written[0])}
    assert is_served(tags, SERVED) is expected
    # while its round may be held it is not, whatever its visibility
    assert is_served({**tags, **held_tags()}, SERVED) is False


def test_an_untagged_object_is_never_served() -> None:
    assert is_served({}, SERVED) is False
    assert is_served({"imgpipe-release": "released"}, SERVED) is False
    assert is_served({VISIBILITY_TAG: "public"}, SERVED) is False


@pytest.mark.parametrize(("written", "expected"), WRITTEN.items())
def test_the_api_offers_what_the_cdn_serves_by_the_same_rule(written: tuple[str, Role], expected: bool) -> None:
    view = OutputsView.parse(outputs_spec(SHIPPED))
    variant = VariantInfo(written[0], "b", f"{written[0]}/{KEY}/x.jpg", "jpeg", 1, 1, 1, role=written[1].value)
    assert view.offered(variant) is expected


def test_the_image_extensions_are_the_runtime_s_image_formats() -> None:
    formats = {ext for fmt, (ext, _) in runtime._FORMATS.items() if fmt != "json"}
    assert set(IMAGE_EXTENSIONS) == formats


@pytest.mark.parametrize(("key", "expected"), PATHS.items())
def test_the_viewer_path_must_have_a_public_image_s_shape(key: str, expected: bool) -> None:
    assert servable(key) is expected


def test_the_cloudfront_function_applies_the_same_rule() -> None:
    node = shutil.which("node")
    assert node, "node is needed (it builds the web app too)"
    script = viewer_request_js() + (
        "\nvar paths = " + json.dumps(list(PATHS)) + ";\n"
        "console.log(JSON.stringify(paths.map(function (k) {\n"
        "  var r = handler({ request: { uri: '/v/' + encodeURIComponent(k).replace(/%2F/g, '/') } });\n"
        "  return r.statusCode === 404 ? null : r.uri;\n"
        "})));\n"
    )
    out = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    expected = [f"/{k}" if ok else None for k, ok in PATHS.items()]
    assert [o if o is None else o.replace("%5C", "\\") for o in out] == expected


def _producer(name: str, role: str):
    raw = {
        "memory_mb": 512,
        "timeout_s": 30,
        "produces_variants": True,
        "outputs": {"role": role},
        "triggers": [{"source": "uploads"}],
    }
    return parse_manifest(Path("services") / name, raw)


def test_the_srcset_is_one_set_chosen_by_a_setting() -> None:
    resize, watermark = _producer("resize", "responsive"), _producer("watermark", "responsive")
    assert srcset_source([resize]) == "resize"
    assert srcset_source([resize, watermark], {"watermark": True}) == "watermark"
    assert srcset_source([resize, watermark], {"watermark": False}) == "resize"
    assert srcset_source([_producer("convert", "full")]) is None
    with pytest.raises(SrcsetError, match="srcset"):
        srcset_source([resize, _producer("other", "responsive")])
    # the shipped services, as deployed: watermark's setting defaults to true (its Settings class)
    shipped = discover(DEFAULT_ROOT)
    assert srcset_source(shipped, srcset_settings(shipped)) == "watermark"
    assert srcset_source(shipped, srcset_settings(shipped, {"watermark": {"srcset": False}})) == "resize"


def test_only_the_srcset_responsive_set_is_served_and_a_chosen_mark_withholds_the_clean_full_size() -> None:
    resize, watermark = _producer("resize", "responsive"), _producer("watermark", "responsive")
    convert, thumbnail = _producer("convert", "full"), _producer("thumbnail", "preview")
    describe = _producer("describe", "facts")
    everything = [resize, watermark, convert, thumbnail, describe]
    assert public_visibilities(everything, {"watermark": True}) == ["derived", "preview", "responsive:watermark"]
    # the clean set is the srcset: the watermarked widths are offered nowhere, so served nowhere
    assert public_visibilities(everything, {"watermark": False}) == ["derived", "full", "preview", "responsive:resize"]
    # no mark deployed: every public image is served
    assert public_visibilities([resize, convert, thumbnail, describe], {}) == [
        "derived",
        "full",
        "preview",
        "responsive:resize",
    ]
    # the mark alone still protects the clean full-size picture
    marked_only = ["derived", "preview", "responsive:watermark"]
    assert public_visibilities([watermark, convert], {"watermark": True}) == marked_only
    # the shipped services through the settings as a deployment gives them
    clean = ["derived", "full", "preview", "responsive:resize"]
    assert served_visibilities(SHIPPED, {"watermark": {"srcset": False}}) == clean
    assert served_visibilities(discover(DEFAULT_ROOT, services=None)) == clean


def test_adding_a_producer_of_previews_or_derived_pictures_changes_nothing_served() -> None:
    base = [_producer("resize", "responsive"), _producer("convert", "full"), _producer("thumbnail", "preview")]
    for extra in (_producer("roomcopy", "preview"), _producer("annotate", "derived"), _producer("full2", "full")):
        assert public_visibilities([*base, extra], {}) == public_visibilities(base, {})
        # nor what the API and the transform service are told
        assert outputs_json([*base, extra], {}) == outputs_json(base, {})


def test_the_spec_says_whether_pictures_are_published_marked_only() -> None:
    resize, watermark = _producer("resize", "responsive"), _producer("watermark", "responsive")
    assert OutputsView.parse(outputs_json([resize, watermark], {"watermark": True})).marked is True
    assert OutputsView.parse(outputs_json([resize, watermark], {"watermark": False})).marked is False
    assert OutputsView.parse(outputs_json([resize], {})).marked is False
    assert OutputsView.parse(outputs_spec(SHIPPED)).marked is True  # watermark's default is true
    assert OutputsView.parse(outputs_spec(discover(DEFAULT_ROOT, services=None))).marked is False


@pytest.mark.parametrize(
    ("outputs", "produces", "field"),
    [
        (None, True, "outputs"),
        ({"role": "picture"}, True, "outputs.role"),
        ({"role": "responsive", "audience": "reviewer"}, True, "outputs.audience"),
        ({"role": "facts", "who": "x"}, True, "outputs.who"),
        ({"role": "responsive"}, False, "outputs"),
    ],
)
def test_a_bad_outputs_declaration_fails_naming_the_field(outputs: object, produces: bool, field: str) -> None:
    raw: dict[str, object] = {"memory_mb": 512, "timeout_s": 30, "produces_variants": produces}
    raw["triggers"] = [{"source": "uploads"}] if produces else [{"source": "pipeline"}]
    if outputs is not None:
        raw["outputs"] = outputs
    with pytest.raises(ManifestError) as caught:
        parse_manifest(Path("services") / "svc", raw)
    assert caught.value.field == field
