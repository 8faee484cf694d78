"""Fuzzing the safe-open path with hypothesis: mutated real images and arbitrary bytes.

The property: whatever the bytes, ``open_image`` + decode either gives an 8-bit sRGB image
within the caps or raises a :class:`Rejection` with a reason code. Any other exception is a
crash that, in Lambda, would be retried three times and parked in the DLQ.

Bounded and deterministic for CI (``derandomize``: the same examples on every run, no example
database). ``IMGPIPE_FUZZ_EXAMPLES=5000`` runs a longer, still reproducible, campaign locally.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgpipe.errors import Reason, Rejection
from imgpipe.imaging.decode import open_image
from imgpipe.limits import Limits
from imgpipe.registry import discover, settings_type
from imgpipe.settings import parse
from tests import imagegen
from tests.engines import engine  # noqa: F401  (the fixture)

# Pillow warns about each broken EXIF block it skips: expected on mutated files, and noise here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data"),
    pytest.mark.filterwarnings("ignore:Tag data larger than file"),
    pytest.mark.filterwarnings("ignore:Possibly corrupt EXIF"),
]
# every property below holds on both decoding engines
pytestmark.append(pytest.mark.usefixtures("engine"))
EXAMPLES = int(os.environ.get("IMGPIPE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,  # a hang is caught by the timeout below, not by a flaky per-example deadline
    # the function-scoped fixture is the engine, set once per test and the same for every example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
# Small caps so a mutated header claiming a big canvas is rejected, not decoded for seconds.
LIMITS = Limits(max_pixels=2_000_000, max_bytes=1_000_000, max_frames=20)


@cache
def seeds() -> tuple[bytes, ...]:
    """One small valid file per allowed format family (what mutations start from)."""
    im = imagegen.gradient((40, 30))
    rgba = imagegen.gradient((40, 30), "RGBA")
    return (
        imagegen.jpeg(im, quality=80),
        imagegen.jpeg(im, quality=80, progressive=True),
        imagegen.png(rgba),
        imagegen.palette_png((24, 24), transparent_box=(2, 2, 8, 8)),
        imagegen.encode(im, "WEBP", quality=70),
        imagegen.encode(rgba, "WEBP", lossless=True),
        imagegen.animated_gif(4, (24, 18)),
        imagegen.encode(im, "TIFF", compression="tiff_lzw"),
        imagegen.encode(im, "BMP"),
        imagegen.oriented_jpeg(6, (32, 24)),
        imagegen.cmyk_jpeg((200, 30, 30), (24, 16)),
        imagegen.png16((16, 12), lambda x, y: (x * 4000, y * 5000, 30000)),
    )


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed file with a few edits: byte overwrites, bit flips, cuts, duplicated or deleted runs."""
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["set", "flip", "cut", "dup", "delete", "insert"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if not data and op in ("set", "flip"):
            continue  # a delete or a cut emptied it: nothing left to edit in place
        if op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[max(1, i) :]
        elif op == "dup":
            n = draw(st.integers(1, 64))
            data[i:i] = data[i : i + n]
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 64))]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"II*\x00", b"MM\x00*", b"BM"]
magic_then_noise = st.builds(lambda m, rest: m + rest, st.sampled_from(MAGICS), st.binary(max_size=512))


def _check(data: bytes) -> None:
    try:
        src = open_image(data, LIMITS)
        if src.animated:
            frames = 0
            for frame, duration in src.frames():
                assert frame.mode in ("RGB", "RGBA")
                assert duration >= 0
                frames += 1
            assert frames == src.n_frames <= LIMITS.max_frames
        else:
            im = src.decode((32, 32))
            assert im.mode in ("RGB", "RGBA")
            assert 0 < im.width * im.height <= LIMITS.max_pixels
    except Rejection as rejection:
        assert rejection.reason in Reason
        assert rejection.message


@pytest.mark.timeout(120)
@FUZZ
@given(mutated())
def test_mutated_images_open_or_are_rejected(data: bytes) -> None:
    _check(data)


@pytest.mark.timeout(120)
@FUZZ
@given(st.one_of(magic_then_noise, st.binary(max_size=256)))
def test_magic_bytes_then_noise_open_or_are_rejected(data: bytes) -> None:
    _check(data)


def test_the_seeds_themselves_open() -> None:
    # If the seeds were rejected, the fuzzing above would only ever exercise the rejection path.
    for seed in seeds():
        src = open_image(seed, LIMITS)
        assert src.size[0] > 0


PROCESSORS = [m for m in discover() if m.produces_variants]


def _process_of(name: str) -> Any:
    logic = importlib.import_module(f"services.{name}.logic")
    if name == "moderate":
        # its process wraps a classifier: the stand-in, so the fuzzing reaches no network
        from services.moderate.engines import StandIn

        return logic.Moderator(StandIn("HOLD-ME")).process
    return logic.process


@pytest.mark.timeout(180)
@pytest.mark.parametrize("manifest", PROCESSORS, ids=[m.name for m in PROCESSORS])
def test_each_processor_survives_mutated_input(manifest) -> None:
    """The same mutations through each processor's whole pure ``process()`` (decode + encode)."""
    process = _process_of(manifest.name)
    caps = {"max_pixels": LIMITS.max_pixels, "max_frames": LIMITS.max_frames}
    processor_settings = parse(settings_type(manifest), {**manifest.settings, **caps}, service=manifest.name)

    @settings(FUZZ, max_examples=max(10, EXAMPLES // 10))
    @given(mutated())
    def run(data: bytes) -> None:
        try:
            outputs = process(data, processor_settings)
        except Rejection as rejection:
            assert rejection.reason in Reason
            return
        assert outputs, "process() made nothing and did not reject"
        for out in outputs:
            assert out.data and out.width > 0 and out.height > 0

    run()
