"""``imgpipe backfill`` on AWS (moto's S3 and Step Functions; moto runs no state machine):
what is checked before starting, what the execution gets, and how a run is followed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.backfill import routes_as_list, routes_from_manifests, summary_key
from imgpipe.registry import discover
from imgpipe_tools.backfill import BackfillError, Options, check_options, parse_date, read_keys
from imgpipe_tools.backfill import aws as backfill_aws
from imgpipe_tools.backfill.progress import ProgressBar
from imgpipe_tools.resources import StackResources
from infra.components.backfill import definition

UPLOADS, VARIANTS = "imgpipe-uploads", "imgpipe-variants"
ROUTES = routes_from_manifests(discover())


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[StackResources]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (UPLOADS, VARIANTS):
            s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions")
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(name="Imgpipe-Backfill", definition=json.dumps(definition()), roleArn=role)
        yield StackResources(
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            origin="stack Imgpipe",
            backfill_state_machine=machine["stateMachineArn"],
        )


def _executions(d: StackResources) -> list[dict[str, Any]]:
    return d.client("stepfunctions").list_executions(stateMachineArn=d.backfill_state_machine)["executions"]


def test_start_sends_the_selection_and_the_limits(deployment: StackResources) -> None:
    deployment.client("s3").put_object(Bucket=UPLOADS, Key="2024/cat.jpg", Body=b"x")
    options = Options(prefix="2024/", services=("resize",), max_concurrency=20, tolerated_failure_percent=5, rate=100)
    arn = backfill_aws.start(deployment, options, ROUTES)
    execution = deployment.client("stepfunctions").describe_execution(executionArn=arn)
    given = json.loads(execution["input"])
    assert given["source"] == {"kind": "listing", "prefix": "2024/"}
    assert (given["max_concurrency"], given["tolerated_failure_percent"], given["batch_size"]) == (20, 5, 100)
    assert given["selection"]["services"] == ["resize"] and given["selection"]["notify"] is False
    assert given["selection"]["per_batch_rate"] == 5.0
    assert execution["name"].startswith(options.fingerprint() + "-") and given["run"] == execution["name"]
    # the routes travel with the run: the item Lambda's configuration names no service
    assert given["routes"] == routes_as_list(ROUTES)


def test_a_keys_file_travels_through_the_variants_bucket(deployment: StackResources, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("a.jpg\n\n# comment\nb c.jpg\na.jpg\n")
    options = Options(keys=read_keys(str(keys)), keys_file=str(keys))
    arn = backfill_aws.start(deployment, options, ROUTES)
    given = json.loads(deployment.client("stepfunctions").describe_execution(executionArn=arn)["input"])
    assert given["source"]["kind"] == "keys"
    body = deployment.client("s3").get_object(Bucket=VARIANTS, Key=given["source"]["key"])["Body"].read()
    assert json.loads(body) == [{"Key": "a.jpg"}, {"Key": "b c.jpg"}]


def test_bad_input_starts_nothing(deployment: StackResources) -> None:
    with pytest.raises(BackfillError, match="empty selection"):
        backfill_aws.start(deployment, Options(prefix="nothing/"), ROUTES)
    with pytest.raises(BackfillError, match="empty selection"):
        backfill_aws.start(deployment, Options(), ROUTES)  # an empty bucket
    with pytest.raises(BackfillError, match="no inventory manifest"):
        backfill_aws.start(deployment, Options(inventory="_backfill/inventory/manifest.json"), ROUTES)
    gone = StackResources(
        UPLOADS + "-gone", VARIANTS, origin="stack X", backfill_state_machine=deployment.backfill_state_machine
    )
    with pytest.raises(BackfillError, match="does not exist"):
        backfill_aws.start(gone, Options(), ROUTES)
    with pytest.raises(BackfillError, match="no backfill state machine"):
        backfill_aws.start(StackResources(UPLOADS, VARIANTS, origin="stack Old"), Options(), ROUTES)
    assert _executions(deployment) == []


def test_the_same_selection_cannot_run_twice_at_once(deployment: StackResources) -> None:
    deployment.client("s3").put_object(Bucket=UPLOADS, Key="a/cat.jpg", Body=b"x")
    first = backfill_aws.start(deployment, Options(prefix="a/"), ROUTES)
    with pytest.raises(BackfillError, match=f"already running: {first}"):
        backfill_aws.start(deployment, Options(prefix="a/"), ROUTES)
    backfill_aws.start(deployment, Options(prefix="a/", services=("resize",)), ROUTES)  # another selection may
    assert len(_executions(deployment)) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Options(services=("resize", "sepia")), "no service named sepia"),
        (Options(max_concurrency=0), "--max-concurrency"),
        (Options(tolerated_failure_percent=101), "--tolerated-failure-percent"),
        (Options(prefix="a/", inventory="m.json"), "one of --prefix"),
    ],
)
def test_options_are_checked_before_anything(options: Options, message: str) -> None:
    from imgpipe.backfill import routes_from_manifests
    from imgpipe.registry import discover

    with pytest.raises(BackfillError, match=message):
        check_options(options, routes_from_manifests(discover()))


def test_dates_are_utc() -> None:
    assert parse_date("2024-05-01") == "2024-05-01T00:00:00Z"
    assert parse_date("2024-05-01T12:00:00+02:00") == "2024-05-01T10:00:00Z"


class FakeSfn:
    """An execution that runs for two polls, with its map run's item counts (boto3's argument names)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.polls = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.polls += 1
        return {"status": "RUNNING" if self.polls < 3 else "SUCCEEDED", "name": self.name}

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": "arn:map"}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        done = 40 * self.polls
        return {"itemCounts": {"total": 120, "succeeded": done - 1, "failed": 1, "pending": 120 - done}}


def test_attach_shows_progress_then_reads_the_summary(
    deployment: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSfn("abc-20260101T000000Z")
    summary = {"run": fake.name, "status": "SUCCEEDED", "counts": {"dispatched": 119, "failed": 1}, "failed": []}
    deployment.client("s3").put_object(Bucket=VARIANTS, Key=summary_key(fake.name), Body=json.dumps(summary).encode())
    real_client = deployment.client
    monkeypatch.setattr(StackResources, "client", lambda self, s: fake if s == "stepfunctions" else real_client(s))
    seen: list[tuple[int, int | None, int]] = []
    result = backfill_aws.attach(deployment, "arn:exec", progress=lambda *a: seen.append(a), sleep=lambda _s: None)
    assert seen == [(40, 120, 1), (80, 120, 1), (120, 120, 1)]
    assert result.total == 120 and result.status == "SUCCEEDED"


def test_the_progress_bar_line() -> None:
    import io

    out = io.StringIO()
    ticks = iter([0.0, 10.0, 10.0, 10.0])
    bar = ProgressBar(out, clock=lambda: next(ticks))
    bar.update(150, 200, 2, final=True)
    assert out.getvalue() == "[######################        ]  75.0% 150/200 objects  2 failed  15/s  10s\n"
