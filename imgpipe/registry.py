"""Discovers processors: every folder under ``services/`` that holds a manifest.

``infra/`` and the local runtime both call :func:`discover`, so a new folder becomes a new
processor in both places with no other edit, and both check its settings with
:func:`parse_settings` before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgpipe.config import Config
from imgpipe.manifest import MANIFEST_FILE, Manifest, ManifestError, UploadsTrigger, load_manifest
from imgpipe.needs import NEEDS, Need, Resource
from imgpipe.outputs import SRCSET_SETTING, Role, outputs_json, public_visibilities
from imgpipe.settings import NoSettings, SettingsError, parse

#: the repository's own services folder; IMGPIPE_SERVICES_ROOT points elsewhere (tests).
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "services"


def services_root() -> Path:
    return Path(os.environ.get("IMGPIPE_SERVICES_ROOT", DEFAULT_ROOT))


def discover(
    root: Path | None = None, *, http: bool = False, edge: bool = False, services: str | None = "all"
) -> list[Manifest]:
    """All event-driven services, sorted by name; with ``http=True``, the HTTP services (an
    ``http`` trigger: the upload API) instead. Every folder is validated either way. A folder
    without a manifest is ignored (e.g. __pycache__); a folder with a bad manifest raises
    :class:`ManifestError`. ``services`` is a deployment's selection (:func:`select`; None: the
    defaults); the default, ``"all"``, is every folder. With ``edge=True``, the services the CDN
    calls itself (an ``edge`` trigger: on-demand transforms) instead."""
    root = Path(root) if root else services_root()
    if not root.is_dir():
        raise FileNotFoundError(f"services folder not found: {root}")
    manifests = [
        load_manifest(child) for child in sorted(root.iterdir()) if child.is_dir() and (child / MANIFEST_FILE).is_file()
    ]
    for m in manifests:
        if not (m.folder / "handler.py").is_file():
            raise ManifestError(m.folder, "-", "the folder has no handler.py")
    manifests = select(manifests, services)
    # Two kinds, two consumers: a rule, DLQs and retries for events; a route behind the API for http.
    if edge:
        return [m for m in manifests if m.edge is not None]
    return [m for m in manifests if (m.http is not None) == http and m.edge is None]


class SelectionError(ValueError):
    """A deployment's service selection names no service, or mixes its two forms."""


def select(manifests: Sequence[Manifest], spec: str | None) -> list[Manifest]:
    """The services a deployment runs, from its selection (CDK context ``services``, ``imgpipe
    local up --services``):

    - none, ``""`` or ``"default"``: every service that is ``enabled_by_default``;
    - ``"all"``: every service;
    - ``"resize,notify"``: exactly these;
    - ``"+moderate,-convert"``: the defaults, with these added and removed.
    """
    spec = (spec or "").strip()
    if spec in ("", "default"):
        return [m for m in manifests if m.enabled_by_default]
    if spec == "all":
        return list(manifests)
    entries = [e.strip() for e in spec.split(",") if e.strip()]
    names = {m.name for m in manifests}
    unknown = [e.lstrip("+-") for e in entries if e.lstrip("+-") not in names]
    if unknown:
        raise SelectionError(
            f"services: no service named {unknown[0]!r} (the services are: {', '.join(sorted(names))})"
        )
    relative = [e[0] in "+-" for e in entries]
    if any(relative) and not all(relative):
        raise SelectionError(
            f"services: {spec!r} mixes names with +name/-name; give either the exact list "
            "(resize,notify) or changes to the defaults (+watermark,-convert)"
        )
    if not any(relative):
        return [m for m in manifests if m.name in set(entries)]
    chosen = {m.name for m in manifests if m.enabled_by_default}
    for e in entries:
        (chosen.add if e[0] == "+" else chosen.discard)(e[1:])
    return [m for m in manifests if m.name in chosen]


def service_module(manifest: Manifest, module: str) -> types.ModuleType:
    """Module ``module`` of a service's folder (e.g. ``"handler"``, ``"settings"``), imported as
    part of the folder's package so that its relative imports work. Folders of the repository's
    ``services/`` import as ``services.<name>``, the modules the tests import too; folders
    elsewhere (a copy in a test, a services root of your own) as a package named after their root."""
    folder = manifest.folder.resolve()
    if folder.parent == DEFAULT_ROOT.resolve():
        try:
            return importlib.import_module(f"services.{manifest.name}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name not in ("services", f"services.{manifest.name}"):
                raise
    # One package per root: two roots may both have a "resize". The folder keeps its own name
    # inside it, so ``__package__`` ends with the service's name as it does in Lambda.
    root = f"_imgpipe_services_{hashlib.sha256(str(folder.parent).encode()).hexdigest()[:12]}"
    if root not in sys.modules:
        package = types.ModuleType(root)
        package.__path__ = [str(folder.parent)]
        sys.modules[root] = package
    return importlib.import_module(f"{root}.{manifest.name}.{module}")


def settings_type(manifest: Manifest) -> type:
    """The ``Settings`` class of the service's ``settings.py``; a service without one takes none."""
    if not (manifest.folder / "settings.py").is_file():
        return NoSettings
    cls = getattr(service_module(manifest, "settings"), "Settings", None)
    if not isinstance(cls, type):
        raise ManifestError(manifest.folder, "-", "its settings.py must define a class named Settings")
    return cls


def parse_settings(manifest: Manifest, overrides: Mapping[str, Any] | None = None) -> Any:
    """The service's settings as deployed: its ``Settings`` class's defaults, with the values its
    manifest's ``[settings]`` gives and then the deployment's ``overrides`` (any field may be set
    either way). :class:`imgpipe.settings.SettingsError` names the service, the setting and what is
    allowed, an unknown name included. ``infra/`` calls it at synth, the local stack before it
    starts: a bad value fails there, not at every upload."""
    return parse(settings_type(manifest), manifest.effective_settings(overrides), service=manifest.name)


def srcset_settings(
    manifests: Sequence[Manifest], settings: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, bool | None]:
    """Each responsive service's ``srcset`` setting as deployed (its class's default included); None
    for one that has no such setting (imgpipe.outputs.srcset_source)."""
    settings = settings or {}
    return {
        m.name: getattr(parse_settings(m, settings.get(m.name)), SRCSET_SETTING, None)
        for m in manifests
        if m.outputs is not None and m.outputs.role == Role.RESPONSIVE
    }


def outputs_spec(manifests: Sequence[Manifest], settings: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The value of the ``outputs`` need: the deployed producers' roles and the srcset's set, with the
    deployment's settings (imgpipe.outputs.outputs_json). Generated, never edited."""
    return outputs_json(manifests, srcset_settings(manifests, settings))


def served_visibilities(
    manifests: Sequence[Manifest], settings: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """The values of the visibility tag the CDN may serve, with the deployment's settings (the
    srcset's set decides which responsive set is served): the bucket policy and the local front
    door both take it from here (imgpipe.outputs.served_visibilities)."""
    return public_visibilities(manifests, srcset_settings(manifests, settings))


def setting_names(manifest: Manifest) -> list[str]:
    """Every setting the service takes (the fields of its ``Settings``), sorted."""
    return sorted(f.name for f in dataclasses.fields(settings_type(manifest)))


def parse_all_settings(
    manifests: Sequence[Manifest], overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Every service's parsed settings, by name; ``overrides`` (by service name) must name services
    that exist."""
    by_name = {m.name: m for m in manifests}
    unknown = sorted(set(overrides or {}) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name))
        raise SettingsError(unknown[0], None, f"there is no processor of that name (known: {known})")
    return {m.name: parse_settings(m, (overrides or {}).get(m.name)) for m in manifests}


@dataclass(frozen=True)
class StackNames:
    """The shared resources of one stack, as its functions are told them: CDK tokens at synth,
    real names in the local stack and the tests."""

    uploads_bucket: str
    variants_bucket: str
    event_bus: str = "default"
    #: the stack's shared resources a need may hand a function (imgpipe.needs.Resource), each once
    resources: Mapping[Resource, str] = field(default_factory=dict)
    #: a deployed service may hold uploads: outputs are written held and released per round
    #: (imgpipe.outputs.held_until_released)
    outputs_gated: bool = False


def function_config(manifest: Manifest, stack: StackNames, overrides: Mapping[str, Any] | None = None) -> Config:
    """A service's configuration, the same for infra/, the local stack and the test harness: the
    buckets and the bus every processor gets, its settings (checked by :func:`parse_settings`,
    which raises on a bad one) and the value of each need its manifest declares. The permissions
    the needs bring are infra's (``infra/components/needs.py``)."""
    parse_settings(manifest, overrides)
    resources: dict[Need, str] = {}
    for need in (n for n in NEEDS if n in manifest.needs):
        spec = NEEDS[need]
        if spec.value is None:
            continue  # a permission only: infra grants it
        if spec.value not in stack.resources:
            # optional: e.g. a stack without the front door has no CDN, and notify's email links the
            # variants with presigned S3 URLs instead
            if spec.optional:
                continue
            raise ManifestError(manifest.folder, "needs", f"this stack does not provide {need.value!r}")
        resources[need] = stack.resources[spec.value]
    return Config(
        processor=manifest.name,
        uploads_bucket=stack.uploads_bucket,
        variants_bucket=stack.variants_bucket,
        event_bus=stack.event_bus,
        settings=manifest.effective_settings(overrides),
        resources=resources,
        output_role=manifest.outputs.role.value if manifest.outputs else "",
        # who acts on it: a producer of public images (writes them held) and the one that releases
        outputs_gated=stack.outputs_gated
        and (bool(manifest.outputs and manifest.outputs.public) or Need.RELEASE_OUTPUTS in manifest.needs),
    )


def variant_producers(manifests: Sequence[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.produces_variants]


def expected_producers_spec(manifests: Sequence[Manifest], prefixes: Sequence[str] | None = None) -> str:
    """JSON handed to notify: which processors must report for an upload, with their key
    filters so notify can tell which of them a given key reaches, and which may hold an upload
    for review. Generated, never edited."""
    spec: list[dict[str, Any]] = []
    for m in variant_producers(manifests):
        triggers = m.narrowed_uploads(prefixes or ())
        entry: dict[str, Any] = {
            "name": m.name,
            "triggers": [{"prefixes": list(t.prefixes), "suffixes": list(t.suffixes)} for t in triggers],
        }
        if m.outputs is not None and m.outputs.holds:
            # the producers whose events may hold an upload for review ([outputs] holds)
            entry["holds"] = True
        spec.append(entry)
    return json.dumps(spec, separators=(",", ":"), sort_keys=True)


def expected_for_key(spec_json: str, key: str) -> list[str]:
    """Names of the producers an upload with ``key`` reaches, from :func:`expected_producers_spec`."""
    names = []
    for entry in json.loads(spec_json):
        triggers = [UploadsTrigger(tuple(t["prefixes"]), tuple(t["suffixes"])) for t in entry["triggers"]]
        if any(t.matches_key(key) for t in triggers):
            names.append(entry["name"])
    return sorted(names)


def transform_bounds(edge_services: Sequence[Manifest], overrides: Mapping[str, Any] | None = None) -> str | None:
    """The transform service's bounds as JSON (:func:`imgpipe.transforms.bounds_json`), from its
    settings as the deployment sets them, for the API that signs transforms; None without one."""
    from imgpipe.transforms import TransformBounds, bounds_json

    for manifest in edge_services:
        settings = parse_settings(manifest, (overrides or {}).get(manifest.name))
        if isinstance(settings, TransformBounds):
            return bounds_json(settings)
    return None
