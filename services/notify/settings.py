"""notify's settings: defaults are the values manifest.toml states (a test holds them equal)."""

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
    #: between claiming and publishing); see manifest.toml for how it relates to timeout_s
    email_claim_timeout_s: int = setting(45, min=1)
    #: how long an invocation that finds the claim held waits for it to be confirmed
    email_claim_wait_s: float = setting(3.0, min=0)
