"""backfill's AWS side: reading the map's result files into the run's summary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from imgpipe.backfill import Summary, merge_result_file, write_summary


def summarize(event: Mapping[str, Any], s3: Any, variants_bucket: str) -> dict[str, Any]:
    """The run's summary from the map's result files (or its error), written to the variants bucket."""
    summary = Summary(run=str(event["run"]), selection=dict(event.get("selection") or {}))
    summary.started_at = event.get("started_at")
    summary.finished_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    error = event.get("error")
    if error:
        summary.status = "FAILED"
        summary.error = f"{error.get('Error')}: {str(error.get('Cause', ''))[:500]}"
    details = event.get("result_writer") or {}
    if details.get("Bucket") and details.get("Key"):
        manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
        for status in ("SUCCEEDED", "FAILED", "PENDING"):
            for f in manifest.get("ResultFiles", {}).get(status, []):
                body = s3.get_object(Bucket=details["Bucket"], Key=f["Key"])["Body"].read()
                merge_result_file(summary, json.loads(body))
    key = write_summary(s3, variants_bucket, summary)
    return {"summary": f"s3://{variants_bucket}/{key}", **summary.as_dict(), "failed": summary.failed[:20]}
