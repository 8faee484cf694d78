"""The local stand-in for email: every message published to the notification topic arrives
(through an SQS subscription, as SNS delivers it) and is written as one ``.eml`` file.

The ``.eml`` carries what an email subscriber would get: the SNS subject and message text,
plus the message attributes as ``X-Imgpipe-*`` headers (subscribers filter on them in AWS).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

SENDER = "imgpipe <no-reply@imgpipe_tools.local>"
RECIPIENT = "uploader@imgpipe_tools.local"


@dataclass(frozen=True)
class Email:
    subject: str
    body: str
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    path: Path | None = None

    @classmethod
    def from_sns(cls, envelope: dict[str, Any]) -> Email:
        """From the JSON envelope SNS delivers to an SQS subscriber (not raw delivery)."""
        attrs = {name: str(a.get("Value", "")) for name, a in (envelope.get("MessageAttributes") or {}).items()}
        return cls(
            subject=envelope.get("Subject") or "(no subject)",
            body=str(envelope.get("Message", "")),
            attributes=attrs,
            message_id=str(envelope.get("MessageId", "")),
        )

    def mentions(self, key: str) -> bool:
        """Whether this email is about the upload ``key``: by a ``key`` attribute when notify
        sets one, else by the key appearing as a whole token in the subject or body."""
        if "key" in self.attributes:
            return self.attributes["key"] == key
        pattern = rf"(?<![\w/.-]){re.escape(key)}(?![\w/.-])"
        return bool(re.search(pattern, self.subject) or re.search(pattern, self.body))

    def to_message(self) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = SENDER
        msg["To"] = RECIPIENT
        msg["Subject"] = self.subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        if self.message_id:
            msg["X-SNS-Message-Id"] = self.message_id
        for name, value in sorted(self.attributes.items()):
            # An attribute carries the upload key, which may hold CR/LF: a header may not (the
            # email module refuses it, and the email would never reach the outbox).
            msg[f"X-Imgpipe-{name}"] = _header_safe(value)
        msg.set_content(self.body)
        return msg

    def render(self) -> str:
        return self.to_message().as_string()


def _header_safe(value: str) -> str:
    """Control characters shown escaped (``\\r``, ``\\n``, ``\\x1b``...), so a header stays one line."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "email"


class Outbox:
    """Writes each email to ``folder`` as ``NNNN-<subject>.eml`` and keeps them in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.emails: list[Email] = []
        self._lock = threading.Lock()

    def add(self, envelope: dict[str, Any]) -> Email:
        email = Email.from_sns(envelope)
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            # numbered after what is already there, so a second run does not overwrite the first
            n = len(list(self.folder.glob("*.eml"))) + 1
            path = self.folder / f"{n:04d}-{_slug(email.subject)}.eml"
            path.write_text(email.render(), encoding="utf-8")
            email = Email(email.subject, email.body, email.attributes, email.message_id, path)
            self.emails.append(email)
        return email
