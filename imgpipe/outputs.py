"""What a service's outputs are, and who may see them: the one place that decides.

A producer's manifest declares the role of what it writes (``[outputs] role = ...``); from those
declarations comes the tag each public image is written with (:func:`visibility_of`), and what the
CDN may serve is decided per object from that tag (the bucket policy and the local front door ask
:func:`served_visibilities`; the CloudFront Function checks only the path's shape, :func:`servable`),
never from a list of producers. The API offers the same outputs by the same rule from each
output's role in the catalog (:class:`OutputsView`), and makes its ``srcset`` of the set
:func:`srcset_source` chooses. Nothing here knows of AWS.
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

#: the object tag a producer writes each public image with, in the same PUT: what the CDN may
#: serve is decided per object from it (the bucket policy, the local front door), never from a list
#: of producers, so adding a service changes no other resource. An object without it is never served.
VISIBILITY_TAG = "imgpipe-visibility"


def visibility_of(role: Role, processor: str) -> str | None:
    """The tag value an output is written with: its role, and for a responsive set also whose
    (only the chosen srcset is served, and which one that is a deployment may change without
    re-running anything). None for what is never served (facts, sidecars): no tag, no cost."""
    if role not in PUBLIC_ROLES:
        return None
    return f"{role.value}:{processor}" if role == Role.RESPONSIVE else role.value


def served_visibilities(srcset: str | None, marked: bool) -> list[str]:
    """The tag values the CDN may serve, from two deployment facts: which responsive set is the
    srcset (only it: another would let anyone build the clean widths from a key and the
    documented names) and whether the pictures are published marked only (then the full-size
    outputs are withheld too: a clean full-size picture is the very thing the mark protects).
    Adding a producer of previews or derived pictures changes neither."""
    values = [Role.PREVIEW.value, Role.DERIVED.value]
    if not marked:
        values.append(Role.FULL.value)
    if srcset is not None:
        values.append(f"{Role.RESPONSIVE.value}:{srcset}")
    return sorted(values)


def public_visibilities(manifests: Sequence[Manifest], srcset: Mapping[str, bool | None]) -> list[str]:
    """:func:`served_visibilities` for the deployed manifests and their ``srcset`` settings
    (:func:`imgpipe.registry.srcset_settings`)."""
    return served_visibilities(srcset_source(manifests, srcset), marked(manifests, srcset))


def is_served(tags: Mapping[str, str], visibilities: Sequence[str]) -> bool:
    """Whether an object with these tags may be served: tagged with a served visibility, not held."""
    return tags.get(VISIBILITY_TAG) in visibilities and not is_held(tags)


def marked(manifests: Sequence[Manifest], srcset: Mapping[str, bool | None]) -> bool:
    """Whether the deployment publishes its pictures marked only: the srcset is a set a setting
    chose (watermark's). Then nothing may hand out the clean picture: neither the CDN (the clean
    sets are not served) nor an on-demand transform (services/transform refuses)."""
    chosen = srcset_source(manifests, srcset)
    return chosen is not None and srcset.get(chosen) is True


#: the file extensions of the image formats a producer writes (imgpipe.runtime's formats but JSON,
#: held equal by a test): a viewer path ending otherwise (facts, sidecars) is no output's
IMAGE_EXTENSIONS = ("avif", "gif", "jpg", "png", "webp")


def servable(key: str) -> bool:
    """Whether the variant key ``key`` (the viewer path without ``/v/``) has the shape of a public
    image: ``<service>/<...>/<file>.<image extension>`` with no empty, ``.`` or ``..`` segment,
    under a folder named like a service (``_backfill/`` and any other ``_`` folder never is). The
    shape only: whether the object may be served is its own tag's to say (:func:`is_served`)."""
    if not key or "\\" in key or any(part in ("", ".", "..") for part in key.split("/")):
        return False
    folder, _, rest = key.partition("/")
    return bool(rest) and "a" <= folder[:1] <= "z" and rest.rpartition("/")[2].rpartition(".")[2] in IMAGE_EXTENSIONS


def viewer_request_js() -> str:
    """The CloudFront Function on ``/v/*``: 404 for a path not shaped like a public image (the same
    rule as :func:`servable`), else ``/v/<key>`` becomes ``/<key>`` in the variants bucket, whose
    policy lets the distribution read only objects tagged with a served visibility."""
    extensions = json.dumps(list(IMAGE_EXTENSIONS))
    return f"""var IMAGES = {extensions};
function servable(key) {{
  if (!key || key.indexOf("\\\\") >= 0) return false;
  var parts = key.split("/");
  if (parts.length < 2 || !/^[a-z]/.test(parts[0])) return false;
  for (var i = 0; i < parts.length; i++) {{
    if (parts[i] === "" || parts[i] === "." || parts[i] === "..") return false;
  }}
  var name = parts[parts.length - 1];
  return IMAGES.indexOf(name.substring(name.lastIndexOf(".") + 1)) >= 0;
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
    """JSON handed to a service that shows outputs (the API, the transform service): which
    responsive set is the srcset, whether pictures are published marked only, and who may read
    each facts service's facts. What is public is each output's own to say (its role on the
    event and in the catalog: :meth:`OutputsView.offered`), so no producer of images is listed
    and adding one changes nothing here. Generated, never edited."""
    facts = {
        m.name: m.outputs.audience.value for m in manifests if m.outputs is not None and m.outputs.role == Role.FACTS
    }
    return json.dumps(
        {"facts": facts, "srcset": srcset_source(manifests, srcset), "marked": marked(manifests, srcset or {})},
        separators=(",", ":"),
        sort_keys=True,
    )


@dataclass(frozen=True)
class OutputsView:
    """:func:`outputs_json` (:func:`imgpipe.registry.outputs_spec`), read back."""

    #: each facts service's audience
    facts: Mapping[str, Audience]
    srcset: str | None
    #: the pictures are published marked only (:func:`marked`): no clean rendering is handed out
    marked: bool = False

    @classmethod
    def parse(cls, spec: str | None) -> OutputsView:
        data = json.loads(spec or "{}")
        facts = {name: Audience(v) for name, v in (data.get("facts") or {}).items()}
        # a spec from before ``facts``: each producer's role and audience
        for name, v in (data.get("roles") or {}).items():
            if v.get("role") == Role.FACTS.value:
                facts.setdefault(name, Audience(v.get("audience", "owner")))
        return cls(facts, data.get("srcset"), data.get("marked") is True)

    def offered(self, variant: VariantInfo) -> bool:
        """Whether a link to this output may be handed out: the same rule the CDN applies to its
        tag (:func:`served_visibilities`), so a link it would answer 404 (the clean set when the
        watermarked one is the srcset) is never handed out. A record from before roles were
        declared is an image nobody put in a set (:func:`role_of`)."""
        tag = visibility_of(variant.kind, variant.processor)
        return tag is not None and tag in served_visibilities(self.srcset, self.marked)

    def shows_publicly(self, variants: Iterable[VariantInfo]) -> bool:
        """Whether an upload with these outputs has a public image the CDN serves: what makes
        an unsigned rendering of it (a preset) no more public than its variants already are."""
        return any(self.offered(v) for v in variants)

    def facts_shown_to_owner(self, processor: str) -> bool:
        # a processor the spec does not name (retired, or a forged record) shows nothing
        return self.facts.get(processor) == Audience.OWNER
