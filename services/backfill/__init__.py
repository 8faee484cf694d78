"""backfill's item Lambda: the Step Functions Distributed Map hands it each batch of listed
objects, and the run's last step asks it for the summary (docs/backfill.md).

A room like a service's, without a manifest: nothing triggers it but the state machine
(infra/components/backfill.py), so discovery leaves it out of the event and HTTP services.
What each object gets is decided by the pure planning in :mod:`imgpipe.backfill`, which the
local runner (imgpipe_tools/backfill/local.py) calls too.
"""
