"""What the first bytes of an upload say about it: format and (upright) dimensions.

notify records them in the catalog "when known": it reads only the head of the object
(:data:`HEAD_BYTES`), never decodes pixels, and any doubt gives None rather than an error,
because these facts are informative and the processors are the judges of the image. The
reading itself is the imaging seam's (:func:`imgpipe.imaging.header.header_facts`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: enough for the header of every supported format, and for a JPEG's EXIF block in most files
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceFacts:
    format: str | None = None
    width: int | None = None
    height: int | None = None


def probe(head: bytes) -> SourceFacts:
    """Format sniffed from the magic bytes; dimensions from the header, EXIF orientation
    applied, when the head holds them."""
    # imported here: the imaging seam loads Pillow, which an event without an upload never needs
    from imgpipe.imaging.header import header_facts

    fmt, size = header_facts(head)
    return SourceFacts(fmt, *size) if size else SourceFacts(fmt)
