"""The embedded local stack (``imgpipe local up`` / ``imgpipe local run``): see docs/local.md."""

from imgpipe_tools.local.stack import LocalStack
from imgpipe_tools.local.tracker import UploadReport

__all__ = ["LocalStack", "UploadReport"]
