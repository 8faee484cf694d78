"""The processor contract: manifests validate strictly and name the folder and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgpipe.manifest import (
    ManifestError,
    Need,
    PipelineTrigger,
    UploadsTrigger,
    load_manifest,
    parse_manifest,
)
from imgpipe.registry import DEFAULT_ROOT, discover, expected_for_key, expected_producers_spec

VALID = {
    "memory_mb": 512,
    "timeout_s": 30,
    "produces_variants": True,
    "outputs": {"role": "responsive"},
    "triggers": [{"source": "uploads"}],
}


def _parse(folder: str = "watermark", **changes: object):
    # a change to None drops the field
    raw = {k: v for k, v in {**VALID, **changes}.items() if v is not None}
    return parse_manifest(Path("services") / folder, raw)


def test_valid_manifest_has_safe_defaults() -> None:
    m = _parse()
    assert (m.retry_attempts, m.max_event_age_s, m.reserved_concurrency) == (2, 3600, 0)
    assert m.handler == "watermark.handler.handler"
    assert m.module == "services.watermark.handler"
    assert m.event_source == "imgpipe.watermark"


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"memory_mb": 64}, "memory_mb", "between 128 and 10240"),
        ({"timeout_s": "30"}, "timeout_s", "integer"),
        ({"retry_attempts": 3}, "retry_attempts", "between 0 and 2"),
        ({"memroy_mb": 512}, "memroy_mb", "not a known manifest field"),
        ({"triggers": []}, "triggers", "at least one"),
        ({"triggers": [{"source": "sqs"}]}, "triggers[0].source", "'uploads' or 'pipeline'"),
        ({"triggers": [{"source": "uploads", "suffixes": ".jpg"}]}, "triggers[0].suffixes", "list"),
        ({"triggers": [{"source": "pipeline"}]}, "produces_variants", "needs an 'uploads' trigger"),
        ({"name": "other"}, "name", "must equal the folder name"),
        ({"settings": [1]}, "settings", "must be a table"),
        (
            {"needs": ["catalogue"]},
            "needs",
            "unknown need 'catalogue' (known: 'catalog', 'read_catalog', 'notification_topic'",
        ),
        ({"needs": "catalog"}, "needs", "must be a list of strings"),
        ({"needs": ["catalog", "catalog"]}, "needs", "lists a need twice"),
    ],
)
def test_bad_manifest_names_folder_and_field(changes: dict, field: str, problem: str) -> None:
    with pytest.raises(ManifestError) as err:
        _parse(**changes)
    assert err.value.field == field
    assert "services/watermark/manifest.toml" in str(err.value)
    assert problem in str(err.value)


@pytest.mark.parametrize("name", ["json", "imgpipe", "Resize", "x", "class"])
def test_names_that_would_shadow_modules_are_refused(name: str) -> None:
    with pytest.raises(ManifestError, match="field 'name'"):
        parse_manifest(Path(name), {**VALID})


def test_upload_pattern_filters_bucket_and_detail_type() -> None:
    pattern = UploadsTrigger().event_pattern("up")
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["up"]}},
    }


def test_suffixes_match_case_insensitively_in_pattern_and_in_python() -> None:
    t = UploadsTrigger(suffixes=(".jpg",))
    assert t.event_pattern("up")["detail"]["object"] == {"key": [{"suffix": {"equals-ignore-case": ".jpg"}}]}
    assert t.matches_key("a/B.JPG")
    assert not t.matches_key("a/b.png")


def test_pipeline_trigger_matches_the_stacks_producers_and_uploads_bucket_only() -> None:
    # exact sources, not the "imgpipe." prefix anyone may put; this stack's bucket, not a second stack's
    pattern = PipelineTrigger().event_pattern("up", ["thumbnail", "resize"])
    assert pattern["source"] == ["imgpipe.resize", "imgpipe.thumbnail"]
    assert pattern["detail-type"] == ["Variants Created", "Image Rejected"]
    assert pattern["detail"] == {"bucket": ["up"]}
    with pytest.raises(ValueError, match="producers"):
        PipelineTrigger().event_pattern("up")


def test_needs_are_declared_by_name_and_none_by_default() -> None:
    # a producer signs its events: the event key comes with producing, undeclared
    assert _parse().produces_variants and _parse().needs == {Need.EVENT_KEY}
    assert _parse(needs=["read_variants", "catalog"]).needs == {Need.CATALOG, Need.READ_VARIANTS, Need.EVENT_KEY}
    notify = _parse("notify", produces_variants=False, outputs=None, triggers=[{"source": "pipeline"}])
    assert notify.needs == frozenset()


def test_effective_settings_are_the_manifests_values_with_the_deployments_on_top() -> None:
    # any key: the service's Settings class, not the manifest's table, says which names exist
    m = _parse(settings={"widths": [320], "quality": 80})
    assert m.effective_settings({"widths": [100], "avif_quality": 50}) == {
        "widths": [100],
        "quality": 80,
        "avif_quality": 50,
    }


def test_repository_processors_are_discovered_and_valid() -> None:
    # Every folder with a manifest is a processor (the list is never written down: adding a
    # folder needs no edit here), and each of them loads without error.
    folders = sorted(path.parent.name for path in DEFAULT_ROOT.glob("*/manifest.toml"))
    kinds = [*discover(DEFAULT_ROOT), *discover(DEFAULT_ROOT, http=True), *discover(DEFAULT_ROOT, edge=True)]
    names = sorted(m.name for m in kinds)
    assert names == folders and names


def test_folder_without_handler_fails(tmp_path: Path) -> None:
    folder = tmp_path / "watermark"
    folder.mkdir()
    (folder / "manifest.toml").write_text('memory_mb = 256\ntimeout_s = 10\n[[triggers]]\nsource = "uploads"\n')
    with pytest.raises(ManifestError, match=r"no handler\.py"):
        discover(tmp_path)


def test_invalid_toml_names_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "manifest.toml").write_text("memory_mb = = 3")
    with pytest.raises(ManifestError, match=r"services/broken/manifest\.toml.*not valid TOML"):
        load_manifest(folder)


def test_expected_producers_follow_key_filters() -> None:
    manifests = [
        _parse("resize"),
        _parse("photos_only", triggers=[{"source": "uploads", "prefixes": ["photos/"]}]),
        _parse("notifier", produces_variants=False, outputs=None),
    ]
    spec = expected_producers_spec(manifests)
    assert expected_for_key(spec, "photos/cat.jpg") == ["photos_only", "resize"]
    assert expected_for_key(spec, "docs/cat.jpg") == ["resize"]
    # deployment-wide key prefixes narrow every producer: to the keys both admit, so photos_only,
    # which takes photos/ only, takes nothing under in/ (it is not widened to in/)
    narrowed = expected_producers_spec(manifests, prefixes=["in/", "photos/2024/"])
    assert expected_for_key(narrowed, "photos/cat.jpg") == []
    assert expected_for_key(narrowed, "in/cat.jpg") == ["resize"]
    assert expected_for_key(narrowed, "photos/2024/cat.jpg") == ["photos_only", "resize"]


@pytest.mark.parametrize(
    ("declared", "deployment", "narrowed"),
    [
        ((), ("photos/", "users/"), ("photos/", "users/")),  # every key: the deployment's
        (("raw/",), ("photos/",), None),  # nothing in common: no rule, not the deployment's photos/
        (("raw/",), ("raw/2024/",), ("raw/2024/",)),  # the narrower of the two
        (("raw/2024/",), ("raw/",), ("raw/2024/",)),
        (("raw/", "photos/"), ("photos/", "users/"), ("photos/",)),
        (("a/", "a/b/"), ("a/",), ("a/",)),  # a/b/ is inside a/ already
    ],
)
def test_narrowing_by_key_prefixes_is_an_intersection(
    declared: tuple[str, ...], deployment: tuple[str, ...], narrowed: tuple[str, ...] | None
) -> None:
    trigger = UploadsTrigger(declared)
    result = trigger.narrowed(deployment)
    assert (result.prefixes if result else None) == narrowed
    for key in ("raw/x.jpg", "raw/2024/x.jpg", "photos/x.jpg", "users/u/x.jpg", "a/b/x.jpg", "a/x.jpg", "x.jpg"):
        in_both = trigger.matches_key(key) and any(key.startswith(p) for p in deployment)
        assert (result is not None and result.matches_key(key)) == in_both, key


def test_a_suffix_trigger_cannot_be_narrowed_by_prefix() -> None:
    with pytest.raises(ValueError, match="suffixes"):
        UploadsTrigger(suffixes=(".jpg",)).narrowed(("photos/",))
    assert UploadsTrigger(suffixes=(".jpg",)).narrowed(()) == UploadsTrigger(suffixes=(".jpg",))


def test_a_manifests_rules_keep_the_declared_trigger_and_drop_what_narrowing_empties() -> None:
    m = _parse(
        triggers=[
            {"source": "uploads", "prefixes": ["raw/"]},
            {"source": "uploads", "prefixes": ["photos/"]},
            {"source": "pipeline"},
        ]
    )
    rules = m.rules(("photos/2024/",))
    assert rules == (
        (UploadsTrigger(("photos/",)), UploadsTrigger(("photos/2024/",))),
        (PipelineTrigger(), PipelineTrigger()),  # not about keys: as declared
    )
    assert m.narrowed_uploads(("photos/2024/",)) == (UploadsTrigger(("photos/2024/",)),)


def test_an_uploads_trigger_refuses_detail_types() -> None:
    with pytest.raises(ManifestError, match=r"triggers\[0\].detail_types"):
        _parse(triggers=[{"source": "uploads", "detail_types": ["Variant Created"]}])
