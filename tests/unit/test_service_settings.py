"""Each service's Settings against its manifest, and what a bad value says (imgpipe.registry.parse_settings)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from imgpipe.imaging.crop import STRATEGIES
from imgpipe.manifest import Manifest
from imgpipe.registry import discover, parse_all_settings, parse_settings, settings_type
from imgpipe.settings import SettingsError, as_mapping, parse

MANIFESTS = {m.name: m for m in discover()}


@pytest.mark.parametrize("manifest", MANIFESTS.values(), ids=list(MANIFESTS))
def test_defaults_are_the_manifest_values(manifest: Manifest) -> None:
    """The class is the whole truth: a manifest that listed no settings would run the same."""
    cls = settings_type(manifest)
    assert parse_settings(manifest) == cls()
    assert set(manifest.settings) <= {f.name for f in dataclasses.fields(cls)}


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
        # Only what the manifest lists can be overridden (the function gets the manifest's table).
        ("resize", {"width": [1]}, "settings of resize: 'width' cannot be overridden: it is not in the manifest's"),
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
