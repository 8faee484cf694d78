"""Each service's Settings against its manifest, and what a bad value says (imgpipe.registry.parse_settings)."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.imaging.crop import STRATEGIES
from imgpipe.manifest import Manifest, load_manifest
from imgpipe.registry import (
    StackNames,
    discover,
    function_config,
    parse_all_settings,
    parse_settings,
    service_module,
    settings_type,
)
from imgpipe.runtime import UploadProcessor
from imgpipe.settings import SettingsError, as_data, as_mapping, parse
from imgpipe_tools.testing.fakes import FakePublisher, FakeStorage
from tests.events import object_created

MANIFESTS = {m.name: m for m in discover()}


@pytest.mark.parametrize("manifest", MANIFESTS.values(), ids=list(MANIFESTS))
def test_a_manifest_only_sets_fields_its_class_declares(manifest: Manifest) -> None:
    """The class is the whole truth: a manifest's [settings], if it has one, overrides some of its
    fields and adds none."""
    assert set(manifest.settings) <= {f.name for f in dataclasses.fields(settings_type(manifest))}
    parse_settings(manifest)


@pytest.mark.parametrize("manifest", MANIFESTS.values(), ids=list(MANIFESTS))
def test_every_field_can_be_overridden(manifest: Manifest) -> None:
    """Each field may be set by a deployment (here to its default, as JSON would give it): none is
    fixed by what the manifest happens to list."""
    defaults = settings_type(manifest)()
    for name, value in as_data(defaults).items():
        assert parse_settings(manifest, {name: value}) == defaults, name


def test_a_setting_the_manifest_does_not_list_can_be_overridden() -> None:
    assert "avif_quality" not in MANIFESTS["resize"].settings
    assert parse_settings(MANIFESTS["resize"], {"avif_quality": 50}).avif_quality == 50


def test_a_manifest_value_overrides_the_default_and_a_deployment_overrides_both(tmp_path: Path) -> None:
    folder = tmp_path / "thumbnail"
    shutil.copytree(MANIFESTS["thumbnail"].folder, folder, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    with (folder / "manifest.toml").open("a", encoding="utf-8") as f:
        f.write('\n[settings]\ncrop = "center"\nsize = 200\n')
    manifest = load_manifest(folder)
    assert (parse_settings(manifest).crop, parse_settings(manifest).size) == ("center", 200)
    assert parse_settings(manifest, {"size": 120}).size == 120
    assert parse_settings(manifest, {"size": 120}).crop == "center"


def test_a_changed_default_in_settings_py_redoes_the_work(tmp_path: Path) -> None:
    """The skip check hashes the settings as parsed: a default only settings.py states (the
    manifest lists no value) still makes a re-run redo the variants. convert's webp_quality moves
    its first variant only; the last one (AVIF), which the check looks at, is the same bytes."""
    storage, publisher = FakeStorage(), FakePublisher()
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(image, "JPEG")
    etag = storage.add("uploads", "a.jpg", image.getvalue())
    event = object_created("uploads", "a.jpg", etag)
    webp = ("variants", "convert/a.jpg/full.webp")

    def run(root: Path) -> str:
        manifest = load_manifest(root / "convert")
        config = function_config(manifest, StackNames("uploads", "variants"))
        assert "webp_quality" not in config.settings  # only settings.py gives it
        processor = UploadProcessor(
            processor="convert",
            process=service_module(manifest, "logic").process,
            storage=storage,
            publisher=publisher,
            variants_bucket="variants",
            settings=config.settings,
            settings_type=settings_type(manifest),
        )
        return processor.handle(event).status

    before, after = tmp_path / "before", tmp_path / "after"
    for root in (before, after):
        shutil.copytree(MANIFESTS["convert"].folder, root / "convert", ignore=shutil.ignore_patterns("tests"))
    settings_py = after / "convert" / "settings.py"
    declared = '    jpeg_quality: int = redefault(EncoderSettings, "jpeg_quality", 85)\n'
    text = settings_py.read_text(encoding="utf-8")
    assert declared in text
    changed = declared + '    webp_quality: int = redefault(EncoderSettings, "webp_quality", 20)\n'
    settings_py.write_text(text.replace(declared, changed), encoding="utf-8")

    assert run(before) == "processed"
    assert run(before) == "skipped"  # the same settings: up to date
    old_webp = storage.objects[webp].data
    assert run(after) == "processed"  # the new default: redone, not skipped as up to date
    assert storage.objects[webp].data != old_webp
    assert run(after) == "skipped"


@pytest.mark.parametrize("manifest", MANIFESTS.values(), ids=list(MANIFESTS))
def test_defaults_pass_their_own_checks(manifest: Manifest) -> None:
    cls = settings_type(manifest)
    assert parse(cls, as_mapping(cls()), service=manifest.name) == cls()


@pytest.mark.parametrize(
    ("service", "overrides", "message"),
    [
        (
            "thumbnail",
            {"crop": "centre"},
            "settings of thumbnail: 'crop' must be one of 'content', 'center'; got 'centre'",
        ),
        (
            "thumbnail",
            {"formats": ["bmp"]},
            "'formats' entries must be one of 'webp', 'jpeg', 'avif', 'png'; got 'bmp'",
        ),
        ("thumbnail", {"size": 0}, "settings of thumbnail: 'size' must be at least 1; got 0"),
        (
            "resize",
            {"alpha_format": "gif"},
            "settings of resize: 'alpha_format' must be one of 'webp', 'png'; got 'gif'",
        ),
        ("resize", {"widths": []}, "settings of resize: 'widths' must have at least 1 entry; got []"),
        (
            "resize",
            {"widths": [320, "640"]},
            "settings of resize: 'widths' must be a list of integers; got [320, '640']",
        ),
        ("convert", {"formats": []}, "settings of convert: 'formats' must have at least 1 entry; got []"),
        ("convert", {"avif_speed": 11}, "settings of convert: 'avif_speed' must be between 0 and 10; got 11"),
        ("notify", {"link_expiry_s": 0}, "settings of notify: 'link_expiry_s' must be between 1 and 604800; got 0"),
        ("notify", {"email_claim_wait_s": "3"}, "settings of notify: 'email_claim_wait_s' must be a number; got '3'"),
        # Any field may be overridden; a name that is none of them is refused, naming them.
        ("resize", {"width": [1]}, "settings of resize: 'width' is not a known setting (known: 'alpha_format',"),
    ],
)
def test_a_bad_value_names_the_service_the_setting_and_what_is_allowed(
    service: str, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        parse_settings(MANIFESTS[service], overrides)


def test_an_override_reaches_the_parsed_settings() -> None:
    assert parse_settings(MANIFESTS["thumbnail"], {"crop": "center", "size": [400, 300]}).size == (400, 300)
    assert parse_all_settings(list(MANIFESTS.values()), {"resize": {"widths": [100]}})["resize"].widths == (100,)


def test_overrides_must_name_a_service() -> None:
    with pytest.raises(SettingsError, match="settings of resise: there is no processor of that name"):
        parse_all_settings(list(MANIFESTS.values()), {"resise": {"widths": [100]}})


def test_thumbnail_offers_the_crop_strategies_the_imaging_core_has() -> None:
    from services.thumbnail.settings import CROP_STRATEGIES

    assert CROP_STRATEGIES == STRATEGIES
