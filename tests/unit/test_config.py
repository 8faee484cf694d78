"""A function's configuration: built from its manifest by one function for infra/, the local
stack and the tests; carried in the environment; the service name without repeating it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from imgpipe.config import ENV_BY_NEED, Config
from imgpipe.manifest import ManifestError, parse_manifest
from imgpipe.needs import NEEDS, Need, Resource
from imgpipe.observability import service_name
from imgpipe.registry import DEFAULT_ROOT, StackNames, discover, function_config, service_module, settings_type
from imgpipe.settings import NoSettings, SettingsError

MANIFESTS = {m.name: m for m in discover()}
STACK = StackNames(
    uploads_bucket="up",
    variants_bucket="var",
    resources={
        Resource.CATALOG_TABLE: "table",
        Resource.NOTIFICATION_TOPIC: "arn:topic",
        Resource.EXPECTED_PRODUCERS: "[]",
    },
)


def _manifest(folder: Path, **changes: object):
    raw = {"memory_mb": 128, "timeout_s": 3, "triggers": [{"source": "uploads"}], **changes}
    return parse_manifest(folder, raw)


def test_a_service_gets_the_values_of_the_needs_it_declares_and_no_others(tmp_path: Path) -> None:
    plain = function_config(_manifest(tmp_path / "plain"), STACK)
    assert plain == Config(processor="plain", uploads_bucket="up", variants_bucket="var", event_bus="default")
    with pytest.raises(LookupError, match=r"plain has no 'catalog': add it to needs in services/plain/manifest\.toml"):
        plain.resource(Need.CATALOG)

    keeper = function_config(_manifest(tmp_path / "keeper", needs=["catalog", "read_variants"]), STACK)
    # read_variants is a permission only: nothing in the environment
    assert keeper.resources == {Need.CATALOG: "table"}
    assert keeper.resource(Need.CATALOG) == "table"


def test_a_need_the_stack_cannot_satisfy_is_an_error(tmp_path: Path) -> None:
    bare = StackNames(uploads_bucket="up", variants_bucket="var")
    with pytest.raises(ManifestError, match="field 'needs': this stack does not provide 'notification_topic'"):
        function_config(_manifest(tmp_path / "mailer", needs=["notification_topic"]), bare)


def test_the_settings_are_checked_and_overridden_on_the_way() -> None:
    config = function_config(MANIFESTS["thumbnail"], STACK, {"crop": "center"})
    assert config.settings == {**MANIFESTS["thumbnail"].settings, "crop": "center"}
    with pytest.raises(SettingsError, match="settings of thumbnail: 'crop' must be one of 'content', 'center'"):
        function_config(MANIFESTS["thumbnail"], STACK, {"crop": "centre"})


def test_the_environment_round_trips_with_stable_variable_names() -> None:
    config = function_config(MANIFESTS["notify"], STACK)
    env = config.as_env()
    assert env["IMGPIPE_CATALOG_TABLE"] == "table"
    assert env["IMGPIPE_TOPIC_ARN"] == "arn:topic"
    assert env["IMGPIPE_EXPECTED_PRODUCERS"] == "[]"
    assert json.loads(env["IMGPIPE_SETTINGS"]) == dict(MANIFESTS["notify"].settings)
    assert Config.from_env(env) == config
    assert set(ENV_BY_NEED.values()) == {
        "IMGPIPE_CATALOG_TABLE",
        # the catalog's rounds, read only (services/transform)
        "IMGPIPE_READ_CATALOG_TABLE",
        "IMGPIPE_TOPIC_ARN",
        "IMGPIPE_EXPECTED_PRODUCERS",
        # the upload API's (services/api)
        "IMGPIPE_USER_CATALOG_TABLE",
        "IMGPIPE_DELIVERY_URL",
        # the webhooks' signing secret: its ARN, never its value (services/webhook)
        "IMGPIPE_WEBHOOK_SIGNING_KEY_ARN",
        # the transform URLs' signing keys, likewise (services/transform)
        "IMGPIPE_TRANSFORM_SIGNING_KEY_ARN",
        # the transform bounds the API checks before it signs (services/api)
        "IMGPIPE_TRANSFORM_BOUNDS",
        # the producers' output roles and the srcset's set (services/api)
        "IMGPIPE_OUTPUTS",
        # the pipeline events' signing key: its ARN, never its value (every producer, notify)
        "IMGPIPE_EVENT_KEY_ARN",
    }
    # a service that declared nothing has none of them
    assert not set(ENV_BY_NEED.values()) & set(function_config(MANIFESTS["resize"], STACK).as_env())


def test_the_service_name_comes_from_the_package() -> None:
    assert service_name("thumbnail") == "thumbnail"  # in Lambda
    assert service_name("services.thumbnail") == "thumbnail"  # from the repository


def test_a_folder_outside_the_repository_loads_as_a_package_named_after_the_service(tmp_path: Path) -> None:
    root = tmp_path / "services"
    shutil.copytree(DEFAULT_ROOT / "thumbnail", root / "thumbnail", ignore=shutil.ignore_patterns("__pycache__"))
    copied = _manifest(root / "thumbnail")
    handler = service_module(copied, "handler")
    assert handler.__package__.endswith(".thumbnail") and not handler.__package__.startswith("services")
    assert service_name(handler.__package__) == "thumbnail"
    assert settings_type(copied).__module__ == f"{handler.__package__}.settings"
    assert settings_type(_manifest(tmp_path / "bare")) is NoSettings


def test_the_needs_table_of_the_docs_is_the_registrys() -> None:
    """docs/processors.md's table of needs names every need, with its variable, and no other."""
    text = (DEFAULT_ROOT.parent / "docs" / "processors.md").read_text(encoding="utf-8")
    section = text.split("### Declaring needs", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]*) \|", section, re.M))
    assert set(rows) == {need.value for need in NEEDS}
    for need, spec in NEEDS.items():
        assert (f"`{spec.env}`" in rows[need.value]) if spec.env else rows[need.value].strip() == "-", need
