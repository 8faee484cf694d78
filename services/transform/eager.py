"""Which eager output, if any, a transform would make again: then the service answers with that
output's own URL instead of rendering (docs/transforms.md, "The eager set").

Equal means the same format, the same size and the same picture, judged from what the round
recorded of each output (its role, format, width and height), without reading the upload:

- a **whole-picture** output (role ``responsive`` or ``full``: the upload scaled, never cropped)
  is what ``inside`` makes of a box it fills on one side and fits on the other (resize's
  ``640w.jpg`` is ``w640_inside.jpeg``), and what ``cover`` or ``contain`` make of a box of
  exactly its size (the box then has the picture's own shape: no crop, no padding);
- a **preview** (role ``preview``: thumbnail's crops, made by the same ``cover`` as a transform,
  :func:`imgpipe.imaging.cover`) is what ``cover`` makes of a box of exactly its size.

Never equal: a transform that names a quality (the eager outputs use the deployment's); ``auto``
negotiated to JPEG (a transparent upload becomes PNG there); WebP of an upload that may be
animated (a transform keeps the animation, the eager sets do not); any output the CDN does not
serve (a link it would answer 404 is never handed out); and derived pictures (a filter, a mark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from imgpipe.events import VariantInfo
from imgpipe.outputs import Role
from imgpipe.transforms import Transform

#: the whole upload, scaled: a responsive set's widths, convert's full-size pictures
WHOLE = frozenset({Role.RESPONSIVE, Role.FULL})
#: upload types that are never animated: only their WebP renderings are stills like the eager sets'
STILL_TYPES = frozenset({"image/jpeg", "image/heic", "image/heif", "image/tiff", "image/bmp"})


def _inside_makes(transform: Transform, output: VariantInfo) -> bool:
    """``inside`` of the box scales the whole picture to ``output``'s size: it meets the box on
    one side and fits within it on the other."""
    width, height = transform.box
    if width is not None and output.width == width and (height is None or output.height <= height):
        return True
    return height is not None and output.height == height and (width is None or output.width <= width)


def _same_picture(transform: Transform, output: VariantInfo) -> bool:
    role = output.kind
    exact_box = transform.box == (output.width, output.height)
    if role in WHOLE:
        return _inside_makes(transform, output) if transform.fit == "inside" else exact_box
    return role == Role.PREVIEW and transform.fit == "cover" and exact_box


def eager_equal(
    transform: Transform,
    fmt: str,
    outputs: Iterable[VariantInfo],
    served: Callable[[VariantInfo], bool],
    content_type: str | None,
) -> VariantInfo | None:
    """The served eager output that is ``transform`` written as ``fmt``, or None (render it)."""
    if transform.quality is not None:
        return None
    if transform.format == "auto" and fmt == "jpeg":
        return None
    if fmt == "webp" and (content_type or "").lower() not in STILL_TYPES:
        return None
    for output in outputs:
        if output.format == fmt and served(output) and _same_picture(transform, output):
            return output
    return None
