"""Every hostile file through the real resize, thumbnail and convert handlers, under moto.

The promise (docs/reliability.md): each upload ends as variants or as a rejection with a reason
code, announced on the bus; never an unhandled exception (which Lambda would retry and park in
the DLQ), never past the manifest's timeout; and no variant carries bytes an attacker planted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image

from imgpipe.events import IMAGE_REJECTED, VARIANTS_CREATED
from imgpipe.imaging.engines import ENGINES, FORCE_ENV
from imgpipe.registry import discover
from tests.hostile_corpus import VARIANTS, HostileFile, corpus
from tests.moto_pipeline import MotoPipeline, moto_pipeline

PRODUCERS = [m for m in discover() if m.produces_variants]
FILES = corpus()


@pytest.fixture(scope="module", params=ENGINES)
def pipeline(request: pytest.FixtureRequest) -> Iterator[tuple[MotoPipeline, dict[str, str]]]:
    """One moto world per decoding engine (the dispatch forced to it, as tests/engines.py does),
    every corpus file uploaded once (the key is its name): the corpus runs on both engines."""
    with pytest.MonkeyPatch.context() as patch, moto_pipeline() as p:
        patch.setenv(FORCE_ENV, request.param)
        etags = {f.name: p.upload(f.name, f.data) for f in FILES}
        yield p, etags


def test_the_corpus_is_big_and_varied_enough() -> None:
    assert len(FILES) >= 60
    families = {f.name.split("/")[0] for f in FILES}
    assert {"truncated", "bitflip", "claims", "bombs", "frames", "renamed", "polyglot", "tiny"} <= families
    assert {"colour", "orientation", "shape"} <= families
    assert sum(VARIANTS in f.expect for f in FILES) >= 30  # real images that must be processed
    assert sum(VARIANTS not in f.expect for f in FILES) >= 30  # files that must be rejected


@pytest.mark.parametrize(
    "manifest",
    [pytest.param(m, id=m.name, marks=pytest.mark.timeout(m.timeout_s * 2)) for m in PRODUCERS],
)
@pytest.mark.parametrize("hostile", FILES, ids=[f.name for f in FILES])
def test_every_hostile_file_ends_as_variants_or_a_reasoned_rejection(
    pipeline: tuple[MotoPipeline, dict[str, str]], manifest, hostile: HostileFile
) -> None:
    p, etags = pipeline
    event = p.created_event(hostile.name, etags[hostile.name], len(hostile.data))

    # An exception escaping here is what Lambda retries and then parks in the DLQ: the test fails.
    run = p.invoke(manifest.name, event)

    assert run.seconds < manifest.timeout_s, f"{hostile.name}: {run.seconds:.1f}s, timeout {manifest.timeout_s}s"
    result = run.result
    assert result["status"] in ("processed", "rejected"), result
    outcome = VARIANTS if result["status"] == "processed" else result["reason"]
    expected = hostile.expected(manifest.name)
    assert outcome in expected, f"{hostile.name} ({hostile.why}): got {outcome}, expected {sorted(expected)}"

    announced = [
        e for e in p.drain_events() if e["source"] == f"imgpipe.{manifest.name}" and e["detail"]["key"] == hostile.name
    ]
    if result["status"] == "rejected":
        assert [e["detail-type"] for e in announced] == [IMAGE_REJECTED]
        assert announced[0]["detail"]["reason"] == result["reason"]
        assert announced[0]["detail"]["message"]  # a human reason, not only a code
        return

    assert {e["detail-type"] for e in announced} == {VARIANTS_CREATED}
    assert sorted(v["key"] for e in announced for v in e["detail"]["variants"]) == sorted(result["variants"])
    for vkey in result["variants"]:
        obj = p.s3.get_object(Bucket="imgpipe-variants", Key=vkey)
        data = obj["Body"].read()
        if obj["ContentType"] == "application/json":
            # describe's facts about the upload: a JSON document, not an image
            assert isinstance(json.loads(data), dict)
        else:
            assert obj["ContentType"].startswith("image/")
            with Image.open(io.BytesIO(data)) as im:
                im.load()  # every variant is a decodable image
                assert im.width >= 1 and im.height >= 1
                assert im.width * im.height <= 50_000_000
        if hostile.payload:
            assert hostile.payload not in data, f"{vkey} carries the planted bytes of {hostile.name}"
