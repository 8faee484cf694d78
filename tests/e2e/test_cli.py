"""The ``imgpipe`` command end to end: ``local run`` in-process, ``local up`` as a real server
that the real AWS CLI uploads to, and ``status`` / ``dlq`` against it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from imgpipe_tools.cli import main
from imgpipe_tools.testing import faults
from tests.e2e.conftest import PRODUCERS, REPO, SAMPLES, interruptible

BIN = Path(sys.executable).parent


def _photos(folder: Path) -> Path:
    (folder / "trip 2024").mkdir(parents=True)
    shutil.copy(SAMPLES / "coffee.jpg", folder / "trip 2024" / "café+cup.jpg")
    shutil.copy(SAMPLES / "chelsea.png", folder / "chelsea.png")
    shutil.copy(SAMPLES / "not-a-photo.jpg", folder / "notes.jpg")
    (folder / "README.md").write_text("not an upload\n")
    return folder


def test_local_run_json_gives_a_terminal_status_per_file_and_copies_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "out"
    code = main(["local", "run", str(photos), "--json", "--out", str(out), "--outbox", str(tmp_path / "outbox")])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    by_key = {line["key"]: line for line in lines}
    assert sorted(by_key) == ["chelsea.png", "notes.jpg", "trip 2024/café+cup.jpg"]  # README skipped
    assert by_key["chelsea.png"]["status"] == "completed"
    assert by_key["trip 2024/café+cup.jpg"]["status"] == "completed"
    assert by_key["notes.jpg"]["status"] == "rejected"
    assert {r["reason"] for r in by_key["notes.jpg"]["rejections"]} == {"unsupported_format"}
    for line in lines:
        assert set(line) == {"key", "status", "variants", "rejections", "emails", "seconds"}
        assert line["emails"] == 1
        for v in line["variants"]:
            assert set(v) == {"key", "processor", "format", "width", "height", "bytes"}
            assert (out / v["key"]).stat().st_size == v["bytes"]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_local_run_exits_non_zero_when_an_upload_lands_in_a_dlq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default ./outbox
    # thumbnail's reads always break half way (injected inside its boto3 client): retries, then its DLQ.
    # --processes 0: the handlers run in this process, where the injection is.
    with faults.inject("s3.get_object:1.0:body_timeout", only=["thumbnail"]) as plan:
        argv = ["local", "run", str(SAMPLES / "coffee.jpg"), "--json", "--processes", "0"]
        code = main([*argv, "--out", str(tmp_path / "out")])

    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert plan.total >= 3  # the first try and both of Lambda's retries
    assert code == 1
    assert line["status"] == "failed"
    assert {v["processor"] for v in line["variants"]} == set(PRODUCERS) - {"thumbnail"}


def test_local_run_reports_a_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["local", "run", str(SAMPLES / "coffee.jpg"), "--timeout", "0", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    assert "timeout" in out


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """``imgpipe local up`` in a subprocess: (endpoint, its working directory, env for clients)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    proc = subprocess.Popen(
        [str(BIN / "imgpipe"), "local", "up", "--outbox", "outbox"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
    )
    assert proc.stdout is not None
    endpoint = ""
    deadline = time.monotonic() + 60
    while not endpoint and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "ready on " in line:
            endpoint = line.split("ready on ")[1].split()[0]
    assert endpoint.startswith("http://127.0.0.1:"), "local up did not start"
    # keep reading what it prints: a full pipe would block the stack at its next line
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        yield endpoint, tmp_path, env
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not (tmp_path / ".imgpipe" / "local.json").exists()  # the state file goes with it


def _wait_for(condition: object, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_the_aws_cli_uploads_to_local_up_and_the_variants_appear(local_up: tuple[str, Path, dict[str, str]]) -> None:
    endpoint, cwd, env = local_up
    keys = ["aws cli/space key.jpg", "aws+cli/plus+key.jpg", "ünïcode/写真.jpg"]
    for key in keys:
        subprocess.run(
            [str(BIN / "aws"), "--endpoint-url", endpoint, "s3", "cp", str(SAMPLES / "coffee.jpg"),
             f"s3://imgpipe-local-uploads/{key}"],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    s3 = boto3.client("s3", endpoint_url=endpoint)

    def variants_of(key: str) -> set[str]:
        listed = s3.list_objects_v2(Bucket="imgpipe-local-variants", Prefix="").get("Contents", [])
        return {o["Key"].split("/")[0] for o in listed if o["Key"].startswith(tuple(f"{p}/{key}/" for p in PRODUCERS))}

    assert _wait_for(lambda: all(variants_of(k) == set(PRODUCERS) for k in keys)), {k: variants_of(k) for k in keys}
    assert _wait_for(lambda: len(list((cwd / "outbox").glob("*.eml"))) == len(keys))

    # status and dlq through the CLI, pointed at the running stack by its state file
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "imgpipe"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
        )

    status = cli("status", keys[2], "--local")
    assert status.returncode == 0, status.stderr
    record = json.loads(status.stdout)
    assert record["key"] == keys[2]
    assert record["status"] == "completed"
    dlqs = cli("dlq", "list", "--local", "--fail-if-any")
    assert dlqs.returncode == 0, dlqs.stdout + dlqs.stderr
    assert "thumbnail: 0 message(s)" in dlqs.stdout
    missing = cli("status", "never-uploaded.jpg", "--local")
    assert missing.returncode == 2
    assert "no record" in missing.stderr
    redrive = cli("dlq", "redrive", "thumbnail", "--local")
    assert "thumbnail: redrove 0 from the failure DLQ and 0 from the target DLQ" in redrive.stdout

    # imgpipe upload: multipart above --multipart-mb still makes one "Object Created" (6 MiB of noise: rejected)
    big = cwd / "noise.jpg"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    upload = cli("upload", str(big), "--prefix", "cli upload/", "--multipart-mb", "5", "--local")
    assert upload.returncode == 0, upload.stderr
    assert upload.stdout.strip() == "s3://imgpipe-local-uploads/cli upload/noise.jpg"
    assert "100.0%" in upload.stderr  # the progress bar
    head = s3.head_object(Bucket="imgpipe-local-uploads", Key="cli upload/noise.jpg")
    assert head["ETag"].strip('"').endswith("-2")  # two parts
    assert _wait_for(lambda: len(list((cwd / "outbox").glob("*noise-jpg-was-rejected*.eml"))) == 1)


def test_cli_errors_are_clear_without_a_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["dlq", "list", "--local"]) == 2
    assert "imgpipe local up" in capsys.readouterr().err
    assert main(["local", "run", str(tmp_path / "nothing-here")]) == 2
    assert "no such file" in capsys.readouterr().err
