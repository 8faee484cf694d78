"""Declared output roles (imgpipe/outputs.py): what the CDN may serve, the same rule in Python (the
local front door) and in the CloudFront Function's JavaScript, and the one responsive set."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from imgpipe.manifest import ManifestError, parse_manifest
from imgpipe.outputs import (
    OutputsView,
    Role,
    SrcsetError,
    outputs_json,
    public_prefixes,
    servable,
    srcset_source,
    viewer_request_js,
)
from imgpipe.registry import DEFAULT_ROOT, discover, outputs_spec, served_prefixes, srcset_settings

SHIPPED = discover(DEFAULT_ROOT)
#: every shipped service deployed, settings as shipped: watermark's widths are the srcset
PREFIXES = served_prefixes(SHIPPED)
KEY = "users/u1/abc/cat.jpg"

#: what a probe builds from a key and the documented names
PATHS = {
    # watermark's set is the srcset: the clean widths and the clean full-size picture are withheld
    f"resize/{KEY}/320w.jpg": False,
    f"thumbnail/{KEY}/300x300.webp": True,
    f"convert/{KEY}/full.webp": False,
    f"watermark/{KEY}/1280w.jpg": True,
    f"describe/{KEY}/description.json": False,
    f"moderate/{KEY}/moderation.json": False,
    "_backfill/backfill-20261205T010203Z/summary.json": False,
    "_backfill/inventory/manifest.json": False,
    f"unknown/{KEY}/x.jpg": False,
    f"resize/../describe/{KEY}/description.json": False,
    f"resize//{KEY}/320w.jpg": False,
    "resize/": False,
    "": False,
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
    assert PREFIXES == ["thumbnail/", "watermark/"]


@pytest.mark.parametrize(("key", "expected"), PATHS.items())
def test_only_public_outputs_are_servable(key: str, expected: bool) -> None:
    assert servable(key, PREFIXES) is expected


def test_the_cloudfront_function_applies_the_same_rule() -> None:
    node = shutil.which("node")
    assert node, "node is needed (it builds the web app too)"
    script = viewer_request_js(PREFIXES) + (
        "\nvar paths = " + json.dumps(list(PATHS)) + ";\n"
        "console.log(JSON.stringify(paths.map(function (k) {\n"
        "  var r = handler({ request: { uri: '/v/' + k } });\n"
        "  return r.statusCode === 404 ? null : r.uri;\n"
        "})));\n"
    )
    out = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout)
    assert out == [f"/{k}" if ok else None for k, ok in PATHS.items()]


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
    assert public_prefixes(everything, {"watermark": True}) == ["thumbnail/", "watermark/"]
    # the clean set is the srcset: the watermarked widths are offered nowhere, so served nowhere
    assert public_prefixes(everything, {"watermark": False}) == ["convert/", "resize/", "thumbnail/"]
    # no mark deployed: every public image is served
    assert public_prefixes([resize, convert, thumbnail, describe], {}) == ["convert/", "resize/", "thumbnail/"]
    # the mark alone still protects the clean full-size picture
    assert public_prefixes([watermark, convert], {"watermark": True}) == ["watermark/"]
    # the shipped services through the settings as a deployment gives them
    assert served_prefixes(SHIPPED, {"watermark": {"srcset": False}}) == ["convert/", "resize/", "thumbnail/"]
    assert served_prefixes(discover(DEFAULT_ROOT, services=None)) == ["convert/", "resize/", "thumbnail/"]


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
