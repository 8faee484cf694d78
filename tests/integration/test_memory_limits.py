"""Memory and time at the pixel cap: a 50 MP image through each processor's real handler.

Each run is its own subprocess (moto in-process there too), so its peak resident memory
(``VmHWM`` in /proc/self/status) is the handler's alone. The promises, per processor:
the run ends within the manifest's ``timeout_s`` and the manifest's ``memory_mb`` leaves at
least 30% headroom over the measured peak. The peak includes moto and the test harness, which a
Lambda does not carry, so the check errs on the safe side. Figures are printed (``-s``) and
recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from imgpipe.limits import DEFAULT_MAX_PIXELS
from imgpipe.registry import discover
from tests import imagegen

ROOT = Path(__file__).resolve().parents[2]
HEADROOM = 1.30
# 8165 x 6123 = 49,994,295 pixels: as large as the default cap allows.
SIZE = (8165, 6123)
PRODUCERS = [m for m in discover() if m.produces_variants]

_CHILD = r"""
import json, sys, time
from pathlib import Path

def hwm_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

import tests.conftest  # dummy credentials, no real AWS
from tests.moto_pipeline import moto_pipeline

processor, path = sys.argv[1], sys.argv[2]
with moto_pipeline() as p:
    data = Path(path).read_bytes()
    event = p.created_event("big/at-the-cap", p.upload("big/at-the-cap", data), len(data))
    del data
    before = hwm_kb()
    run = p.invoke(processor, event)
    after = hwm_kb()
print("RESULT " + json.dumps({"result": run.result, "seconds": run.seconds, "before_kb": before, "peak_kb": after}))
"""


@pytest.fixture(scope="module")
def big_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert SIZE[0] * SIZE[1] <= DEFAULT_MAX_PIXELS
    folder = tmp_path_factory.mktemp("at-the-cap")
    im = imagegen.gradient(SIZE)
    paths = {"jpeg": folder / "cap.jpg", "png-alpha": folder / "cap.png"}
    paths["jpeg"].write_bytes(imagegen.jpeg(im, quality=90))
    im.putalpha(128)
    paths["png-alpha"].write_bytes(imagegen.encode(im, "PNG", compress_level=1))
    # WebP cannot be decoded at a reduced scale: the whole canvas is decoded, alpha included.
    paths["webp-alpha"] = folder / "cap.webp"
    paths["webp-alpha"].write_bytes(imagegen.encode(im, "WEBP", quality=80, method=0))
    paths["gif-10-frames"] = folder / "cap.gif"
    paths["gif-10-frames"].write_bytes(_animation_at_the_cap(10))
    return paths


def _animation_at_the_cap(n: int) -> bytes:
    """``n`` full-canvas frames at the cap. Ten is the most the animation budget allows
    (10 x the pixel cap in all), and convert keeps every frame: its heaviest input."""
    frames = []
    for i in range(n):
        im = Image.new("P", SIZE, i % 4)
        im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
        ImageDraw.Draw(im).rectangle((i * 1000, 0, i * 1000 + 900, SIZE[1] - 1), fill=(i + 1) % 4)
        frames.append(im)
    return imagegen.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _measure(processor: str, image: Path, timeout_s: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _CHILD, processor, str(image)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "POWERTOOLS_TRACE_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=timeout_s * 3,  # generous: the real check is on the measured seconds below
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{processor} crashed:\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("kind", ["jpeg", "png-alpha", "webp-alpha", "gif-10-frames"])
@pytest.mark.parametrize("manifest", PRODUCERS, ids=[m.name for m in PRODUCERS])
def test_an_image_at_the_pixel_cap_fits_the_manifest_memory_and_timeout(
    big_images: dict[str, Path], manifest, kind: str
) -> None:
    m = _measure(manifest.name, big_images[kind], manifest.timeout_s)
    peak_mb = m["peak_kb"] / 1024
    needed_mb = peak_mb * HEADROOM
    print(
        f"\n{manifest.name:9} {kind:9} {SIZE[0]}x{SIZE[1]}: {m['seconds']:.1f}s (timeout {manifest.timeout_s}s), "
        f"peak RSS {peak_mb:.0f} MB (before the invocation {m['before_kb'] / 1024:.0f} MB), "
        f"memory_mb {manifest.memory_mb} (needs >= {needed_mb:.0f} for 30% headroom) "
        f"-> {m['result']['status']} {len(m['result']['variants'])} variants"
    )
    assert m["result"]["status"] == "processed", m["result"]
    assert m["seconds"] < manifest.timeout_s
    assert manifest.memory_mb >= needed_mb, (
        f"{manifest.name}: peak {peak_mb:.0f} MB needs memory_mb >= {needed_mb:.0f}, manifest has {manifest.memory_mb}"
    )
