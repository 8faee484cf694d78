"""At the pixel cap: every image processor on every input format at 50 MP, measured.

The cost part extrapolates a 12-24 MP run to the cap; this part measures the cap itself,
because memory is not linear in pixels when an engine changes (libvips streams a PNG and
shrinks a WebP on load, Pillow holds the whole decode). Each run is a fresh process that
imports the processor's whole handler (the layer) first, as a Lambda cold start does; the
function's peak is the larger of the import peak and the work peak. Each manifest's
``memory_mb`` is re-derived from the worst peak by the rule of docs/benchmarks.md
(:func:`bench.cost.recommend_memory`: peak x 1.3 + 64 MiB, rounded up to a usual size).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from bench import inputs, measure
from bench.cost import recommend_memory
from imgpipe.manifest import Manifest

#: 8165 x 6123 = 49,994,295 pixels: the largest upload the default max_pixels (50,000,000)
#: accepts, the same size tests/integration/test_memory_limits.py sends
CAP_WIDTH, CAP_HEIGHT = 8165, 6123
#: an animation may hold 10x the pixel cap in all (the frame budget), and convert keeps every
#: frame: the heaviest input there is for it
GIF_FRAMES = 10
#: every input format the bench knows, at the cap. WebP is in with alpha: Pillow decodes it to
#: RGBA, the most memory per pixel of any format here, so it is the worst case to size for.
INPUTS = (
    inputs.InputSpec("jpeg50", CAP_WIDTH, CAP_HEIGHT, "jpeg", label="50 MP baseline JPEG"),
    inputs.InputSpec("jpeg50p", CAP_WIDTH, CAP_HEIGHT, "jpeg", progressive=True, label="50 MP progressive JPEG"),
    inputs.InputSpec("png50a", CAP_WIDTH, CAP_HEIGHT, "png", alpha=True, label="50 MP PNG with alpha"),
    inputs.InputSpec("webp50a", CAP_WIDTH, CAP_HEIGHT, "webp", alpha=True, label="50 MP WebP with alpha"),
    inputs.InputSpec("gif50x10", CAP_WIDTH, CAP_HEIGHT, "gif", label=f"{GIF_FRAMES} full-canvas GIF frames at 50 MP"),
)
#: the byte cap (max_bytes' default): a file above it is rejected before any pixel is decoded
CAP_BYTES = 52_428_800
#: the sensor noise of bench.inputs makes a 50 MP PNG 53.9 MB, over the byte cap; a slight
#: blur brings it under. The memory a decode needs is the pixels', not the file's.
PNG_SMOOTHING_RADIUS = 1.2
#: the goal: no image processor needs more than this at the cap (the sizing rule in docs/decisions.md)
GOAL_MEMORY_MB = 1024
#: a 50 MP job takes seconds; the cap's figure is a peak, which varies far less than time
TIMEOUT_S = 600


def _animation(spec: inputs.InputSpec) -> bytes:
    """Full-canvas palette frames, each with a bar in a new place, so none can be merged away."""
    frames = []
    bar = spec.width // GIF_FRAMES
    for i in range(GIF_FRAMES):
        frame = Image.new("P", (spec.width, spec.height), i % 3)
        frame.putpalette([250, 250, 250, 30, 30, 30, 200, 40, 40, 40, 90, 200])
        ImageDraw.Draw(frame).rectangle((i * bar, 0, (i + 1) * bar - 1, spec.height - 1), fill=3)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def ensure(spec: inputs.InputSpec) -> None:
    path = inputs.path_for(spec)
    if path.exists():
        return
    if spec.format == "gif":
        data = _animation(spec)
    else:
        img = inputs.render(spec)
        if spec.format == "png":
            img = img.filter(ImageFilter.GaussianBlur(PNG_SMOOTHING_RADIUS))
        data = inputs.encode(spec, img)
    if len(data) > CAP_BYTES:
        raise ValueError(f"{spec.name} is {len(data):,} bytes, over the {CAP_BYTES:,}-byte cap")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _image_processors(manifests: Sequence[Manifest]) -> list[Manifest]:
    """Every service that decodes the upload (on by default or not): those that make variants."""
    return [m for m in manifests if m.produces_variants]


def run(manifests: Sequence[Manifest], repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    processors = _image_processors(manifests)
    for spec in INPUTS:
        log(f"pixel cap: making {spec.name} ({spec.width}x{spec.height}) if not cached")
        ensure(spec)
    runs = measure.processor_runs(processors, INPUTS, repeats, log, "pixel cap", timeout_s=TIMEOUT_S)
    out: dict[str, Any] = {}
    for m in processors:
        per_input: dict[str, Any] = {}
        for spec in INPUTS:
            s = measure.summarise(runs[(m.name, spec.name)])
            s.pop("outputs", None)
            if "error" not in s:
                s["function_peak_mib"] = round(max(s["peak_mib"], s["setup_peak_mib"]), 1)
            per_input[spec.name] = s
        ok = [v for v in per_input.values() if "error" not in v]
        entry: dict[str, Any] = {"manifest_memory_mb": m.memory_mb, "inputs": per_input}
        if len(ok) == len(INPUTS):
            worst = max(ok, key=lambda v: v["function_peak_mib"])
            entry["peak_mib"] = worst["function_peak_mib"]
            entry["worst_input"] = next(k for k, v in per_input.items() if v is worst)
            entry["derived_memory_mb"] = recommend_memory(worst["function_peak_mib"])
            entry["met"] = entry["derived_memory_mb"] <= GOAL_MEMORY_MB
        else:
            # a processor that fails at the cap has no size to derive: a miss, never a pass
            entry["error"] = "not measured on every format"
            entry["met"] = None
        out[m.name] = entry
    return {
        "repeats": repeats,
        "goal_memory_mb": GOAL_MEMORY_MB,
        "inputs": {s.name: {"label": s.label, "width": s.width, "height": s.height} for s in INPUTS},
        "processors": out,
    }
