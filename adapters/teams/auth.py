"""The inbound token check: the SDK's `JwtTokenValidator`, plus what botbuilder also checked.

The SDK validates the signature (keys fetched off the event loop, in a thread, and cached for
five minutes by PyJWT's key client), the audience (kmb's app id) and, with `VALIDATE_ISSUER`,
the issuer. It compares the token's `serviceurl` claim with the activity only by host and only
logs a mismatch; botbuilder refused any difference, and so does `Authenticator.identity`: a
token minted for one connector must not direct kmb's replies to another URL.

`openid_metadata_url` (tests only) points key lookups at a local OpenID metadata document
instead of Microsoft's, as botbuilder's `TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL` did.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from jwt import PyJWK, PyJWTError
from microsoft_agents.hosting.core import AgentAuthConfiguration, ClaimsIdentity, JwtTokenValidator
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import _JwkClientManager

SERVICE_URL_CLAIM = "serviceurl"


class Unauthorized(Exception):
    """The request's token is missing, malformed or not valid for kmb (a 401)."""


class _LocalKeys(_JwkClientManager):
    """Key lookups that go to one OpenID metadata document's `jwks_uri`, whatever the issuer.

    The metadata is read once, asynchronously; the keys themselves go through the SDK's own
    cached, threaded lookup.
    """

    def __init__(self, metadata_url: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
        self.metadata_url = metadata_url
        self._jwks_uri = ""
        self._lock = asyncio.Lock()

    async def get_signing_key(self, jwks_uri: str, header: dict[str, Any]) -> PyJWK:
        async with self._lock:
            if not self._jwks_uri:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(self.metadata_url) as response,
                ):
                    response.raise_for_status()
                    self._jwks_uri = str((await response.json())["jwks_uri"])
        key: PyJWK = await super().get_signing_key(self._jwks_uri, header)
        return key


class Authenticator:
    """Turns an `Authorization` header into the SDK's `ClaimsIdentity`, or `Unauthorized`."""

    def __init__(
        self, configuration: AgentAuthConfiguration, openid_metadata_url: str = ""
    ) -> None:
        self.validator = JwtTokenValidator(configuration)
        if openid_metadata_url:
            self.validator._jwk_client_manager = _LocalKeys(openid_metadata_url)

    async def identity(self, header: str, service_url: object) -> ClaimsIdentity:
        """The verified claims of a Bot Framework token sent for an activity from `service_url`."""
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token or " " in token.strip():
            raise Unauthorized("not a bearer token")
        try:
            claims = await self.validator.validate_token(token.strip())
        except (PyJWTError, ValueError, KeyError, aiohttp.ClientError) as exc:
            raise Unauthorized(type(exc).__name__) from exc
        if claims.get_claim_value(SERVICE_URL_CLAIM) != service_url:
            raise Unauthorized("the token's serviceurl claim is not the activity's serviceUrl")
        return claims
