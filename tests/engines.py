"""The ``engine`` fixture: run an imaging property test once per decoding engine.

Importing it into a test module and marking the module ``pytest.mark.usefixtures("engine")``
runs every test there with the dispatch forced to Pillow, then to libvips (for every format and
case the libvips engine takes; the others stay with Pillow whatever is forced, which
tests/unit/test_imaging_engines.py asserts explicitly). The force is an environment variable,
so it also reaches handlers that a test runs in-process.
"""

from __future__ import annotations

import pytest

from imgpipe.imaging.engines import ENGINES, FORCE_ENV


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(FORCE_ENV, request.param)
    return str(request.param)
