"""What a service's outputs are, and who may see them: the one place that decides.

A producer's manifest declares the role of what it writes (``[outputs] role = ...``); from those
declarations come what the CDN may serve (the CloudFront Function, the bucket policy and the local
front door all ask :func:`public_prefixes` / :func:`servable`), which variants the API offers and
which set its ``srcset`` is made of (:func:`srcset_source`). Nothing here knows of AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imgpipe.events import VariantInfo
    from imgpipe.manifest import Manifest


class Role(StrEnum):
    """What an output is."""

    #: widths of one picture: a ``srcset`` (one set per service)
    RESPONSIVE = "responsive"
    #: small crops a gallery card shows (thumbnails)
    PREVIEW = "preview"
    #: the whole picture at one size, in one format each (convert's WebP/AVIF/JPEG)
    FULL = "full"
    #: a different picture made from the upload (grayscale, watermarked...): never in the srcset
    DERIVED = "derived"
    #: data about the upload, not an image: kept in the catalog, never served
    FACTS = "facts"
    #: a service's internal file: never served, never offered
    SIDECAR = "sidecar"


#: the roles whose files are images people may be given a link to
PUBLIC_ROLES = frozenset({Role.RESPONSIVE, Role.PREVIEW, Role.FULL, Role.DERIVED})


class Audience(StrEnum):
    """Who may read a facts service's facts through the API."""

    OWNER = "owner"  # the uploader (describe's placeholders, palette, EXIF summary)
    REVIEWER = "reviewer"  # only the reviewer's CLI (moderate's labels and thresholds)


@dataclass(frozen=True)
class Outputs:
    role: Role
    #: for FACTS: who may read them (the API shows the uploader only OWNER facts)
    audience: Audience = Audience.OWNER
    #: for FACTS: they may hold an upload for review (moderate); a deployment with such a service
    #: keeps every public output unservable until its round is released (:func:`held_until_released`)
    holds: bool = False

    @property
    def public(self) -> bool:
        return self.role in PUBLIC_ROLES


class OutputsError(ValueError):
    """``[outputs]`` is invalid; ``field`` is the manifest field to name."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


def parse_outputs(raw: Any) -> Outputs:
    """A manifest's ``[outputs]`` table."""
    if not isinstance(raw, dict):
        raise OutputsError("outputs", 'must be a table: [outputs] role = "responsive"')
    unknown = set(raw) - {"role", "audience", "holds"}
    if unknown:
        raise OutputsError(f"outputs.{sorted(unknown)[0]}", "is not a known field of [outputs] (role, audience, holds)")
    role = raw.get("role")
    if role not in set(Role):
        raise OutputsError("outputs.role", f"must be one of {', '.join(r.value for r in Role)}, got {role!r}")
    audience = raw.get("audience", Audience.OWNER.value)
    if audience not in set(Audience):
        raise OutputsError("outputs.audience", f"must be 'owner' or 'reviewer', got {audience!r}")
    if audience != Audience.OWNER and role != Role.FACTS:
        raise OutputsError("outputs.audience", "applies to role 'facts' only")
    holds = raw.get("holds", False)
    if not isinstance(holds, bool):
        raise OutputsError("outputs.holds", "must be true or false")
    if holds and role != Role.FACTS:
        raise OutputsError("outputs.holds", "applies to role 'facts' only")
    return Outputs(Role(role), Audience(audience), holds)


def role_of(declared: str | None, fmt: str) -> Role:
    """An output's role as an event or a catalog record gives it; one written before roles were
    declared has none: a JSON document is facts, anything else an image nobody put in a set."""
    if declared in set(Role):
        return Role(str(declared))
    return Role.FACTS if fmt == "json" else Role.DERIVED


# --- what the CDN serves -------------------------------------------------------------------------

#: the viewer's path prefix for variants (``/v/<variant key>``)
VIEWER_PREFIX = "/v/"


def public_prefixes(manifests: Sequence[Manifest], srcset: Mapping[str, bool | None]) -> list[str]:
    """The variants bucket's prefixes the CDN may read: one per producer of public images that are
    offered. A service name starts with a letter, so ``_backfill/`` (and any other ``_`` prefix) is
    never one. ``srcset``: each responsive service's setting as deployed
    (:func:`imgpipe.registry.srcset_settings`). Only the chosen responsive set is served: another
    would let anyone build the clean widths from a key and the documented names. When the chosen
    set is one a setting asked for (watermark's), the full-size outputs are withheld too: a clean
    full-size picture is the very thing the mark protects."""
    chosen = srcset_source(manifests, srcset)
    protected = marked(manifests, srcset)
    served = []
    for m in manifests:
        if m.outputs is None or not m.outputs.public:
            continue
        if m.outputs.role == Role.RESPONSIVE and m.name != chosen:
            continue
        if m.outputs.role == Role.FULL and protected:
            continue
        served.append(f"{m.name}/")
    return sorted(served)


def marked(manifests: Sequence[Manifest], srcset: Mapping[str, bool | None]) -> bool:
    """Whether the deployment publishes its pictures marked only: the srcset is a set a setting
    chose (watermark's). Then nothing may hand out the clean picture: neither the CDN (the clean
    sets are not served) nor an on-demand transform (services/transform refuses)."""
    chosen = srcset_source(manifests, srcset)
    return chosen is not None and srcset.get(chosen) is True


def servable(key: str, prefixes: Sequence[str]) -> bool:
    """Whether the CDN may serve the variant key ``key`` (the viewer path without ``/v/``)."""
    if not key or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
        return False
    return any(key.startswith(p) and len(key) > len(p) for p in prefixes)


def viewer_request_js(prefixes: Sequence[str]) -> str:
    """The CloudFront Function on ``/v/*``: 404 for a path outside the public prefixes (the same
    rule as :func:`servable`), else ``/v/<key>`` becomes ``/<key>`` in the variants bucket."""
    listed = json.dumps(sorted(prefixes))
    return f"""var PUBLIC = {listed};
function servable(key) {{
  if (!key || key.indexOf("\\\\") >= 0) return false;
  var parts = key.split("/");
  for (var i = 0; i < parts.length; i++) {{
    if (parts[i] === "" || parts[i] === "." || parts[i] === "..") return false;
  }}
  for (var j = 0; j < PUBLIC.length; j++) {{
    if (key.length > PUBLIC[j].length && key.substring(0, PUBLIC[j].length) === PUBLIC[j]) return true;
  }}
  return false;
}}
function handler(event) {{
  var request = event.request;
  var key = decodeURIComponent(request.uri.substring({len(VIEWER_PREFIX)}));
  if (!servable(key)) {{
    return {{ statusCode: 404, statusDescription: "Not Found" }};
  }}
  request.uri = request.uri.substring({len(VIEWER_PREFIX) - 1});
  return request;
}}"""


# --- held until released ------------------------------------------------------------------------

#: the object tag a producer writes its public outputs with while its round may still be held;
#: the bucket policy denies the CDN any object carrying it, the local front door answers 404
RELEASE_TAG = "imgpipe-release"
HELD_UNTIL_RELEASED = "held"


def held_until_released(manifests: Sequence[Manifest]) -> bool:
    """Whether a deployment gates its outputs: only when a deployed service's facts may hold an
    upload (moderate). Without one, outputs carry no tag and nothing releases them: no cost."""
    return any(m.outputs is not None and m.outputs.holds for m in manifests)


def held_tags() -> dict[str, str]:
    return {RELEASE_TAG: HELD_UNTIL_RELEASED}


def is_held(tags: Mapping[str, str]) -> bool:
    return tags.get(RELEASE_TAG) == HELD_UNTIL_RELEASED


# --- the srcset ----------------------------------------------------------------------------------

#: the boolean setting a responsive service uses to ask for (true) or give up (false) the srcset
SRCSET_SETTING = "srcset"


class SrcsetError(ValueError):
    pass


def srcset_source(manifests: Sequence[Manifest], srcset: Mapping[str, bool | None] | None = None) -> str | None:
    """The one service whose responsive set is the ``srcset``: of the deployed responsive services,
    the one whose ``srcset`` setting is true, else the only one without that setting (resize);
    one whose setting is false never is. ``srcset``: each service's setting as deployed (None, or
    absent: it has none; :func:`imgpipe.registry.srcset_settings`). None when no responsive service
    is deployed. Two candidates are a deployment error: a browser would pick one set or the other
    by screen size."""
    srcset = srcset or {}
    candidates = [m for m in manifests if m.outputs is not None and m.outputs.role == Role.RESPONSIVE]
    chosen: list[str] = []
    plain: list[str] = []
    for m in candidates:
        value = srcset.get(m.name)
        if value is True:
            chosen.append(m.name)
        elif value is None:
            plain.append(m.name)
    pick = chosen or plain
    if len(pick) > 1:
        raise SrcsetError(
            f"responsive sets of {', '.join(pick)} would each be the srcset: set "
            f"'{SRCSET_SETTING}' to false on all but one (e.g. -c settings='{{\"{pick[-1]}\": "
            f'{{"{SRCSET_SETTING}": false}}}}\')'
        )
    return pick[0] if pick else None


def outputs_json(manifests: Sequence[Manifest], srcset: Mapping[str, bool | None] | None = None) -> str:
    """JSON handed to a service that shows outputs (the API): each producer's role and facts
    audience, and which one's responsive set is the srcset. Generated, never edited."""
    roles = {
        m.name: {"role": m.outputs.role.value, "audience": m.outputs.audience.value}
        for m in manifests
        if m.outputs is not None
    }
    served = [p.removesuffix("/") for p in public_prefixes(manifests, srcset or {})]
    return json.dumps(
        {
            "roles": roles,
            "srcset": srcset_source(manifests, srcset),
            "served": served,
            "marked": marked(manifests, srcset or {}),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


@dataclass(frozen=True)
class OutputsView:
    """:func:`outputs_json` (:func:`imgpipe.registry.outputs_spec`), read back."""

    roles: Mapping[str, Outputs]
    srcset: str | None
    #: the producers whose images the CDN serves (:func:`public_prefixes`); None: a spec written
    #: before it said so, where every public image is
    served: frozenset[str] | None = None
    #: the pictures are published marked only (:func:`marked`): no clean rendering is handed out
    marked: bool = False

    @classmethod
    def parse(cls, spec: str | None) -> OutputsView:
        data = json.loads(spec or "{}")
        roles = {
            name: Outputs(Role(v["role"]), Audience(v.get("audience", "owner")))
            for name, v in (data.get("roles") or {}).items()
        }
        served = data.get("served")
        return cls(roles, data.get("srcset"), None if served is None else frozenset(served), data.get("marked") is True)

    def offered(self, processor: str) -> bool:
        """Whether a public image of ``processor`` may be offered: a link the CDN would answer 404
        (the clean set when the watermarked one is the srcset) is never handed out."""
        return self.served is None or processor in self.served

    def shows_publicly(self, variants: Iterable[VariantInfo]) -> bool:
        """Whether an upload with these outputs has a public image the CDN serves: what makes
        an unsigned rendering of it (a preset) no more public than its variants already are."""
        return any(v.public and self.served is not None and v.processor in self.served for v in variants)

    def facts_shown_to_owner(self, processor: str) -> bool:
        # a processor the spec does not name (retired, or a forged record) shows nothing
        found = self.roles.get(processor)
        return found is not None and found.role == Role.FACTS and found.audience == Audience.OWNER
