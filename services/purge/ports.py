"""What the purge needs from the variants bucket (the catalog is :class:`imgpipe.catalog.Catalog`).

``adapters.py`` implements it with boto3; unit tests use
:class:`imgpipe_tools.testing.fakes.FakeStorage`, which has the same two methods.
"""

from __future__ import annotations

from imgpipe.variant_store import VariantStore

__all__ = ["VariantStore"]
