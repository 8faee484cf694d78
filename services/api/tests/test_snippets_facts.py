"""describe's facts document is listed with the variants but is never offered as a picture."""

from __future__ import annotations

from ..status import VariantView, responsive_snippets


def test_a_facts_document_is_never_in_a_srcset() -> None:
    facts = VariantView("describe", "description", "json", "https://cdn/v/description.json", 4000, 3000, 700)
    thumb = VariantView("thumbnail", "300x300", "webp", "https://cdn/v/300x300.webp", 300, 300, 9000)
    srcset, picture = responsive_snippets([facts, thumb])
    assert srcset == "https://cdn/v/300x300.webp 300w"
    assert picture is not None and "description.json" not in picture
    assert responsive_snippets([facts]) == (None, None)
