"""pytest setup for the services' own tests (services/<name>/tests/): the same guard as tests/,
so that no test ever talks to a real AWS account. Not part of any service's Lambda asset."""

from __future__ import annotations

import tests.conftest  # noqa: F401  (sets dummy credentials and the region on import)
