"""The local stack with its handlers in worker processes and moto in processes of its own, as
``imgpipe local`` runs it (the other e2e tests run the handlers in threads, to patch them)."""

from __future__ import annotations

import os
from pathlib import Path

from imgpipe_tools.resources import read_state, write_state
from tests.e2e.conftest import PRODUCERS, SAMPLES, StartStack


def test_uploads_complete_with_handlers_in_worker_processes(start_local_stack: StartStack, tmp_path: Path) -> None:
    with start_local_stack(processes=2, workers=2) as stack:
        assert stack.deployment.dynamodb_endpoint_url not in (None, stack.endpoint_url)
        uploads = stack.upload_files(
            [
                (SAMPLES / "coffee.jpg", "p/coffee.jpg"),
                (SAMPLES / "chelsea.png", "p/chelsea.png"),
                (SAMPLES / "not-a-photo.jpg", "p/notes.jpg"),
            ]
        )
        reports = {r.key: r for r in stack.wait(uploads, timeout=120)}

        assert reports["p/coffee.jpg"].status == "completed"
        assert {v.processor for v in reports["p/coffee.jpg"].variants} == set(PRODUCERS)
        assert reports["p/chelsea.png"].status == "completed"
        assert reports["p/notes.jpg"].status == "rejected"
        assert len(stack.emails) == 3

        # The catalog lives in the DynamoDB emulator; the CLI's --local commands find it there
        state = write_state(stack.deployment, tmp_path / "local.json")
        table = stack.deployment.catalog_table
        items = read_state(state).client("dynamodb").scan(TableName=table)["Items"]
        assert any(item["pk"]["S"].endswith("/p/coffee.jpg") for item in items)
        assert stack.client("s3").list_objects_v2(Bucket=stack.variants_bucket)["KeyCount"] > 0

    # nothing of the stack stays in the environment or running
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ
