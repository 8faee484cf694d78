"""What the notifier needs from the outside world, besides the catalog
(:class:`imgpipe.catalog.Catalog`) and a HEAD of the uploads (:class:`imgpipe.ports.Storage`).

``adapters.py`` implements them with boto3; unit tests pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .completion import Completion
from .logic import Email

#: (bucket, key, etag) -> the object's first bytes, or None
HeadReader = Callable[[str, str, str], bytes | None]


class EmailSender(Protocol):
    def send(self, email: Email) -> str:
        """Publish the email; return the message id. Raise on failure."""


class CompletionSink(Protocol):
    def put(self, completion: Completion) -> None:
        """Put the round's completion event on the bus. Raise on failure."""


class Log(Protocol):
    """Where the notifier tells what it refused (a :class:`logging.Logger`; Powertools' Logger)."""

    def warning(self, msg: str, *args: object, **kwargs: object) -> None: ...
