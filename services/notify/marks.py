"""What notify does with a backfill's mark (``detail.imgpipe``, :class:`imgpipe.events.BackfillMark`).

A backfill re-sends "Object Created" for uploads already in the bucket. notify opens a round for
each as for a real upload, with two differences the run asked for: no email unless it was started
with ``--notify``, and, when it named ``--services``, a round that waits for those producers only
(the others were not asked, so waiting for them would leave the round ``processing`` for ever).
"""

from __future__ import annotations

from collections.abc import Sequence

from imgpipe.events import BackfillMark


def email_wanted(mark: BackfillMark | None) -> bool:
    """False only for a backfill run without ``--notify``; every real upload gets its email."""
    return mark is None or mark.notify


def expected_for(mark: BackfillMark | None, expected: Sequence[str]) -> list[str]:
    """The producers a round opened by the event waits for: ``expected`` (all that its key
    reaches), or, for a backfill run with ``--services``, those of them it targeted."""
    if mark is None or not mark.services:
        return list(expected)
    return [p for p in expected if p in mark.services]
