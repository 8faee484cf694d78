"""webhook's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.settings import SettingsError, setting

from .logic import url_problem

_SERVICE = __name__.rsplit(".", 2)[-2]


@dataclass(frozen=True)
class Settings:
    #: where each event is POSTed; "" until configured (deliveries then fail into the DLQ)
    url: str = setting("")
    #: seconds to wait for the receiver's answer
    timeout_s: float = setting(10.0, min=1, max=15)
    #: seconds a warm function keeps the signing key before reading it again
    secret_cache_s: int = setting(300, min=0, max=3600)

    def __post_init__(self) -> None:
        # Checked wherever settings are parsed (synth, local up, the handler): a plain-http or
        # malformed URL fails there, not at the first delivery.
        problem = url_problem(self.url) if self.url else None
        if problem:
            raise SettingsError(_SERVICE, "url", problem)
