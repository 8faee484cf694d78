"""On-demand transforms: render latency of a 12 MP phone JPEG to a 640 px WebP, warm, in one run,
side by side: the transform's pure render, the whole service answer (signature, catalog and
render, on in-memory ports), the same URL through the local front door (HTTP), and pyvips'
``thumbnail`` + ``webpsave`` on the same bytes as the reference; then the cost of a million
renders with Lambda's CPU share applied.

    python -m bench.transforms [--repeats 40] [--passes 10] [--no-http]

Each row runs in a fresh process per pass (as bench.measure runs every operation: its own heap,
imports and one libvips thread, Lambda at 1,024 MB having less than one vCPU), warm, then its
samples; the passes go round the rows in turn. The HTTP row is a real client of ``imgpipe local
up``, run in a process of its own as a user runs it (moto's S3, DynamoDB and Secrets Manager in
processes of theirs): the photo uploaded through the API, the URL signed by the API, then fetched.
Each GET renders again (no CDN locally), after the service's HEAD, catalog read and
stored-rendering check against moto. Latencies are local wall-clock: ratios between the rows are
the finding (the rows take turns), absolute values depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import inputs
from bench.cost import PRICES, billed_seconds
from bench.measure import ROOT, child_env
from imgpipe.catalog import COMPLETED, Round
from imgpipe.ports import ObjectInfo
from imgpipe.transforms import Transform, url_path
from services.transform.logic import render
from services.transform.service import TransformService
from services.transform.settings import Settings

TRANSFORM = Transform(640, None, "inside", "webp")
RENDER, SERVICE, HTTP, PYVIPS = "render", "service", "http", "pyvips"
#: each row's name in the results, in the order they run
ROWS = {
    RENDER: "render (imgpipe.imaging, in-process)",
    SERVICE: "service answer (signature + catalog + render)",
    HTTP: "through the local front door (HTTP GET, moto)",
    PYVIPS: "pyvips thumbnail + webpsave (reference)",
}
KEY, ETAG, SECRET = "users/bench/AAAAAAAAAAAAAAAAAAAAAA/photo.jpg", "etag", b"b" * 48
#: the function's size (services/transform/manifest.toml): 1024 MB is 0.58 of a vCPU
MEMORY_MB = 1024
#: per uncached render, besides the work: S3 HEAD + GET, one strongly consistent catalog read
WAIT_S = 0.02 * 3


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(p99 * 1000, 1), "n": len(ordered)}


def _samples(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm: plugins loaded, code paths compiled, the connection open
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


class _Ports:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def head(self, key: str) -> ObjectInfo | None:
        return ObjectInfo(key, len(self.data), ETAG)

    def get(self, key: str, etag: str) -> bytes:
        return self.data

    def load(self, key: str, etag: str) -> Round | None:
        return Round("uploads", key, etag, status=COMPLETED)

    def exists(self, key: str) -> bool:
        return False

    def put(self, *args: Any) -> None:
        raise AssertionError("a 640 px WebP is returned inline")

    def link(self, key: str, expires_s: int) -> str:
        raise AssertionError("not stored")


#: what `imgpipe local up` prints once it serves (imgpipe_tools.local.frontdoor.banner)
_READY = re.compile(r"ready on (http://127\.0\.0\.1:\d+)")
_FRONT_DOOR = re.compile(r"^\s+front door:\s+(http://127\.0\.0\.1:\d+)", re.MULTILINE)
_SIGN_IN = re.compile(r"sign in:\s+(\S+) / (\S+)\s+\(user pool (\S+), app client (\S+)\)")
START_TIMEOUT_S = 180
PROCESSED_TIMEOUT_S = 300


@dataclass(frozen=True)
class FrontDoor:
    url: str
    token: str


@contextlib.contextmanager
def local_up() -> Iterator[FrontDoor]:
    """``imgpipe local up`` in a process of its own, signed in as the demo user it prints."""
    import boto3

    with tempfile.TemporaryDirectory(prefix="bench-transforms-") as folder:
        # its output goes to a file: a pipe nobody reads would block it, a closed one break it
        log = Path(folder) / "local-up.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "imgpipe_tools.cli", "local", "up", "--outbox", "outbox"],
                cwd=folder,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            text = ""
            sign_in: tuple[str, ...] = ()
            deadline = time.monotonic() + START_TIMEOUT_S
            while not sign_in and time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"`imgpipe local up` stopped (exit status {proc.returncode}):\n{log.read_text()}"
                    )
                time.sleep(0.2)
                text = log.read_text()
                sign_in = next(iter(_SIGN_IN.findall(text)), ())
            endpoint = next(iter(_READY.findall(text)), "")
            door = next(iter(_FRONT_DOOR.findall(text)), "")
            if not (endpoint and door and sign_in):
                raise RuntimeError(f"`imgpipe local up` did not print its front door and demo user in time:\n{text}")
            email, password, _pool, client_id = sign_in
            cognito = boto3.client(
                "cognito-idp",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            auth = cognito.initiate_auth(
                ClientId=client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
            yield FrontDoor(door, auth["AuthenticationResult"]["IdToken"])
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def signed_through_the_api(door: FrontDoor, data: bytes) -> str:
    """Upload ``data`` as a client does (a ticket, a PUT), wait for its variants, and have the API
    sign the benchmarked transform: the URL a page would embed."""
    import requests

    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {door.token}"
    ticket = api.post(
        f"{door.url}/api/uploads", json={"filename": "photo.jpg", "type": "image/jpeg", "size": len(data)}, timeout=30
    )
    ticket.raise_for_status()
    put = requests.put(ticket.json()["url"], data=data, headers=ticket.json()["headers"], timeout=60)
    put.raise_for_status()
    upload = f"{door.url}/api/uploads/{ticket.json()['id']}"
    deadline = time.monotonic() + PROCESSED_TIMEOUT_S
    while (status := api.get(upload, timeout=30).json()["status"]) in ("uploading", "processing"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the upload was still {status} after {PROCESSED_TIMEOUT_S} s")
        time.sleep(0.5)
    body = {"width": TRANSFORM.width, "fit": TRANSFORM.fit, "format": TRANSFORM.format}
    signed = api.post(f"{upload}/transforms", json=body, timeout=30)
    signed.raise_for_status()
    return str(signed.json()["url"])


def _fetch(session: Any, url: str) -> Callable[[], bytes]:
    def get() -> bytes:
        answer = session.get(url, headers={"Accept": "image/webp"}, timeout=60)
        if answer.status_code != 200 or answer.headers["Content-Type"] != "image/webp":
            raise RuntimeError(f"{url} answered {answer.status_code} {answer.headers.get('Content-Type')}")
        return bytes(answer.content)

    return get


def _row(row: str, url: str | None) -> Callable[[], Any]:
    """The operation a row times, set up in this process (nothing of it is timed)."""
    data = inputs.ensure(inputs.JPEG12).read_bytes()
    settings = Settings()
    if row == RENDER:
        return lambda: render(data, TRANSFORM, settings)
    if row == SERVICE:
        ports = _Ports(data)
        service = TransformService(settings, ports, ports, ports, lambda: (SECRET,))
        path = url_path(SECRET, KEY, ETAG, TRANSFORM)
        assert service.answer("GET", path, None).status == 200
        return lambda: service.answer("GET", path, None)
    if row == HTTP:
        import requests

        assert url, "the HTTP row needs the signed URL"
        return _fetch(requests.Session(), url)
    import pyvips

    return lambda: pyvips.Image.thumbnail_buffer(data, 640).webpsave_buffer(Q=settings.webp_quality)


def _in_fresh_process(row: str, repeats: int, url: str | None) -> list[float]:
    """``repeats`` warm samples of one row, from a new interpreter (``--row``): no row shares
    another's heap, imported modules or libvips threads (bench.measure's rule, one libvips thread)."""
    command = [sys.executable, "-m", "bench.transforms", "--row", row, "--repeats", str(repeats)]
    proc = subprocess.run(
        [*command, *(["--url", url] if url else [])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=child_env(),
        timeout=900,
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise RuntimeError(f"the {row} row failed: {lines[-1] if lines else proc.returncode}")
    return [float(x) for x in json.loads(proc.stdout)]


def run(repeats: int, http: bool = True, passes: int = 10) -> dict[str, Any]:
    """Every row ``passes`` times, each pass a fresh process per row and the rows in turn: a change
    in the machine's load falls on every row alike, so the ratios hold when absolute times move."""
    with contextlib.ExitStack() as stack:
        url = None
        if http:
            door = stack.enter_context(local_up())
            url = signed_through_the_api(door, inputs.ensure(inputs.JPEG12).read_bytes())
        rows = [r for r in ROWS if http or r != HTTP]
        samples: dict[str, list[float]] = {r: [] for r in rows}
        for _ in range(passes):
            for row in rows:
                samples[row] += _in_fresh_process(row, math.ceil(repeats / passes), url)
    table = {ROWS[r]: _percentiles(samples[r]) for r in rows}
    reference = table[ROWS[PYVIPS]]["p50_ms"]
    for line in table.values():
        line["x_pyvips_p50"] = round(line["p50_ms"] / reference, 2)
    cpu_s = statistics.median(samples[SERVICE])
    seconds = billed_seconds(cpu_s, WAIT_S, MEMORY_MB)
    lambda_usd = seconds * MEMORY_MB / 1024 * PRICES["lambda_arm64_gb_s"] + PRICES["lambda_request"]
    storage_usd = PRICES["s3_get"] * 2 + PRICES["dynamodb_read_unit"]
    return {
        "input": inputs.JPEG12.label,
        "transform": TRANSFORM.spec,
        "method": f"{passes} passes; in each, every row in a fresh process (warm, then its samples), rows in turn",
        "latency": table,
        "cost": {
            "memory_mb": MEMORY_MB,
            "cpu_share": round(min(1.0, MEMORY_MB / 1769), 2),
            "billed_ms": round(seconds * 1000),
            "usd_per_million_renders": round((lambda_usd + storage_usd) * 1e6, 2),
            "prices": PRICES["date"],
            "not_included": "CloudFront requests and transfer (cache hits cost no render)",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="samples per row, over all passes")
    parser.add_argument("--passes", type=int, default=10, help="fresh processes per row, rows in turn")
    parser.add_argument("--no-http", dest="http", action="store_false", help="leave out the front door's row")
    parser.add_argument("--row", choices=list(ROWS), help=argparse.SUPPRESS)  # one row's child process
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        print(json.dumps(_samples(_row(args.row, args.url), args.repeats)))
        return
    print(json.dumps(run(args.repeats, args.http, args.passes), indent=2))


if __name__ == "__main__":
    main()
