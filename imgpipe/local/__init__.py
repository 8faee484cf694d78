"""The embedded local stack (``imgpipe local up`` / ``imgpipe local run``): see docs/local.md."""

from imgpipe.local.stack import LocalStack
from imgpipe.local.tracker import UploadReport

__all__ = ["LocalStack", "UploadReport"]
