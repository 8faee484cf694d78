"""Cognito's ``RevokeToken`` on the local stack: moto 5 does not implement it, and the page calls
it when a user signs out (the refresh token lives 30 days; without the call, a copy of it keeps
minting tokens after sign-out). Patched into the emulator process with the other moto changes
(``emulator.prepare_moto``): the refresh token is marked revoked, as moto's own ``GlobalSignOut``
marks them, so a later ``REFRESH_TOKEN_AUTH`` with it answers ``NotAuthorizedException``."""

from __future__ import annotations

from typing import Any


def revoke_tokens_like_cognito() -> None:
    """Idempotent."""
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import EmptyResult

    if getattr(CognitoIdpResponse, "_imgpipe_revoke_token", False):
        return

    def revoke_token(self: Any) -> Any:
        token, client_id = self._get_param("Token"), self._get_param("ClientId")
        for pool in self.backend.user_pools.values():
            issued = pool.refresh_tokens.get(token)
            # only the client the token was issued to may revoke it, as Cognito checks
            if issued is not None and issued[0] == client_id:
                pool.refresh_tokens[token] = None
        return EmptyResult()

    CognitoIdpResponse.revoke_token = revoke_token
    CognitoIdpResponse._imgpipe_revoke_token = True
