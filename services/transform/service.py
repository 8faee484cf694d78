"""One transform request, answered in the order that spends nothing on a bad one: the URL's
shape, its spec, the bounds, the upload's ETag (one HEAD) and the signature over them, all
before a byte of the upload is read; then the catalog (held, rejected, deleted or unfinished
uploads are never rendered); a transform equal to a served eager output is answered with a
redirect to that output's own URL (``eager.py``); else one GET and one render. A rendering too
large to return is stored under ``transform/`` in the variants bucket and answered with a
redirect to it.

A preset (``/t/p/<name>/<key>``) is a deployment's named transform, unsigned: it is rendered only
for an upload whose images the CDN serves already, and refused with 404 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from imgpipe.catalog import Round
from imgpipe.errors import Rejection
from imgpipe.keys import cdn_url
from imgpipe.outputs import OutputsView
from imgpipe.ports import ObjectInfo
from imgpipe.transforms import (
    PRESET_PREFIX,
    STORED_PREFIX,
    InvalidTransform,
    Transform,
    parse_spec,
    servable,
    split_path,
    split_preset_path,
    verify,
)

from .eager import eager_equal
from .logic import output_format, render
from .settings import Settings

#: how long the CDN may keep a refusal: a held upload released, or a new signature, works soon
REFUSAL_TTL_S = 60


class Uploads(Protocol):
    def head(self, key: str) -> ObjectInfo | None: ...
    def get(self, key: str, etag: str) -> bytes: ...


class Catalog(Protocol):
    def load(self, key: str, etag: str) -> Round | None: ...


class Renderings(Protocol):
    """Where large renderings are kept, and links to them."""

    def exists(self, key: str) -> bool: ...
    def put(self, key: str, data: bytes, content_type: str, cache_control: str) -> None: ...
    def link(self, key: str, expires_s: int) -> str: ...


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def _refusal(status: int, message: str) -> Answer:
    return Answer(
        status,
        {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": f"public, max-age={REFUSAL_TTL_S}"},
        message.encode() + b"\n",
    )


def forbidden() -> Answer:
    # One answer for unsigned, tampered, re-sized and out-of-bounds URLs: which part was wrong
    # is not told.
    return _refusal(403, "This transform URL is not signed for this upload. Ask the API for one.")


#: what a deployment that publishes its pictures watermarked only answers every transform
MARKED_ONLY = (
    "Transforms are off in this deployment: its pictures are published watermarked only (the "
    "watermark service's srcset setting), and a transform renders the upload itself, unmarked."
)


def unavailable() -> Answer:
    return _refusal(404, "This upload is not available (still processing, held for review, or removed).")


def around_the_cdn() -> Answer:
    # the HTTP API's own host: answered nothing, so every rendering goes through the edge's cache
    return _refusal(403, "Fetch transforms through the site's address, not the API's own host.")


def stored_key(key: str, etag: str, spec_with_format: str) -> str:
    return f"{STORED_PREFIX}{key}/{etag}/{spec_with_format}"


@dataclass
class TransformService:
    settings: Settings
    uploads: Uploads
    catalog: Catalog
    renderings: Renderings
    keys: Callable[[], tuple[bytes, ...]]
    #: the deployment publishes marked pictures only (imgpipe.outputs.marked): every transform is
    #: refused, since each renders the clean upload (docs/decisions.md "Transforms with a mark on")
    marked: bool = False
    #: what the CDN serves (the ``outputs`` need): presets are served for uploads it shows only
    outputs: OutputsView = field(default_factory=lambda: OutputsView({}, None))

    def answer(self, method: str, path: str, accept: str | None) -> Answer:
        if method not in ("GET", "HEAD"):
            return _refusal(405, "Transforms are read with GET.")
        if self.marked:
            return _refusal(403, MARKED_ONLY)
        if path.startswith(PRESET_PREFIX):
            return self._preset(method, path, accept)
        parts = split_path(path)
        transform = parse_spec(parts.spec) if parts else None
        if parts is None or transform is None:
            return forbidden()
        try:
            transform.check(self.settings)
        except InvalidTransform:
            return forbidden()  # signed under wider bounds than the deployment has now
        info = self.uploads.head(parts.key)
        if info is None or not verify(self.keys(), parts.key, info.etag, parts.spec, parts.signature):
            # a deleted upload's URLs end here too: its ETag is gone
            return forbidden()
        found = self.catalog.load(parts.key, info.etag)
        if found is None or not servable(found):
            return unavailable()
        return self._render(method, info, found, transform, accept)

    def _preset(self, method: str, path: str, accept: str | None) -> Answer:
        """A named transform, unsigned: only of an upload the CDN already shows publicly (a round
        finished and unheld, with an image of a served producer), so a preset reveals no upload
        that its variants do not. Every refusal is a 404, the variants' own answer (with a mark on,
        :meth:`answer` has refused it already: a preset renders the clean upload too)."""
        parts = split_preset_path(path)
        preset = self.settings.presets.get(parts.preset) if parts else None
        if parts is None or preset is None:
            return _refusal(404, "No such preset in this deployment (its transform settings list them).")
        info = self.uploads.head(parts.key)
        found = self.catalog.load(parts.key, info.etag) if info else None
        if info is None or found is None or not servable(found) or not self.outputs.shows_publicly(found.variants):
            return unavailable()
        return self._render(method, info, found, preset.transform, accept)

    def _render(self, method: str, info: ObjectInfo, found: Round, transform: Transform, accept: str | None) -> Answer:
        """The eager output it equals, or the rendering (stored and redirected to when too large
        to return)."""
        key, etag = info.key, info.etag
        fmt = output_format(transform, accept)
        cache = f"public, max-age={self.settings.cache_ttl_s}"
        vary = {"Vary": "Accept"} if transform.format == "auto" else {}
        eager = eager_equal(transform, fmt, found.variants, self.outputs.offered, info.content_type)
        if eager is not None:
            # its URL on the same distribution (relative: the local front door serves /v/ too),
            # cached as long as a rendering: it changes only with the upload, whose ETag is signed
            return Answer(307, {"Location": cdn_url("", eager.key, etag), "Cache-Control": cache, **vary})
        spec = transform.spec
        stored = stored_key(key, etag, f"{spec}.{fmt}" if transform.format == "auto" else spec)
        if self.renderings.exists(stored):
            return self._redirect(stored, vary)
        try:
            rendered = render(self.uploads.get(key, etag), transform, self.settings, accept)
        except Rejection as rejection:
            return _refusal(422, f"This upload cannot be rendered: {rejection}")
        headers = {"Content-Type": rendered.content_type, "Cache-Control": cache, **vary}
        if len(rendered.data) > self.settings.max_inline_bytes:
            self.renderings.put(stored, rendered.data, rendered.content_type, cache)
            return self._redirect(stored, vary)
        return Answer(200, headers, b"" if method == "HEAD" else rendered.data)

    def _redirect(self, stored: str, vary: Mapping[str, str]) -> Answer:
        # The link expires: the CDN and browsers keep the redirect for well under its life.
        expires_s = self.settings.link_expiry_s
        location = self.renderings.link(stored, expires_s)
        return Answer(307, {"Location": location, "Cache-Control": f"public, max-age={expires_s // 4}", **vary})
