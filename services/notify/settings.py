"""notify's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.settings import setting

#: S3 presigns links for at most 7 days
MAX_LINK_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Settings:
    #: how long the download links in an email work
    link_expiry_s: int = setting(86400, min=1, max=MAX_LINK_EXPIRY_S)
    #: how long a catalog item lives after its last update (DynamoDB TTL on expires_at)
    catalog_ttl_days: int = setting(90, min=1)
    #: an email claim not confirmed after this long is taken over by a retry (its holder died
    #: between claiming and publishing). It must exceed the manifest's timeout_s (a live holder is
    #: never robbed) and stay under Lambda's first async retry (about a minute), so that retry can send.
    email_claim_timeout_s: int = setting(45, min=1)
    #: how long an invocation that finds the claim held waits for it to be confirmed before it
    #: fails and lets Lambda retry it
    email_claim_wait_s: float = setting(3.0, min=0)
