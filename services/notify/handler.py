"""notify: keeps the catalog and sends one email per upload (see manifest.toml, docs/notify.md).

Its events come through its queue in batches ([batch] in manifest.toml): one invocation records
several, each upload's in order (imgpipe/batch.py). An event invoked directly (``imgpipe dlq
redrive``) is handled alone.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.batch import handle_batch, is_batch
from imgpipe.config import current_config
from imgpipe.observability import powertools

from .notifier import Notifier
from .wiring import from_config

logger, tracer, metrics = powertools(__package__)


def _event_keys(event: dict[str, Any]) -> None:
    logger.append_keys(detail_type=event.get("detail-type"), source=event.get("source"))


def _log_step(result: dict[str, Any]) -> None:
    logger.append_keys(source_key=result["key"], etag=result["etag"])
    logger.info("notify step", extra={k: v for k, v in result.items() if k not in ("key", "etag")})


def handle_event(notifier: Notifier, event: dict[str, Any]) -> dict[str, Any]:
    """One event, alone or of a batch: handled, then logged with what was done."""
    _event_keys(event)  # before: a failure's log line names the event too
    result = notifier.handle(event)
    _log_step(result)
    return result


def handle_together(notifier: Notifier, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Producers' events of one round, recorded in one write; each logged with what was done."""
    results = notifier.handle_together(events)
    for event, result in zip(events, results, strict=True):
        _event_keys(event)
        _log_step(result)
    return results


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    notifier = from_config(current_config(), metrics)
    if is_batch(event):
        return handle_batch(
            event["Records"],
            lambda e: handle_event(notifier, e),
            handle_together=lambda events: handle_together(notifier, events),
        )
    return handle_event(notifier, event)
