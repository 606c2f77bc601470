"""Connector clients kept across turns: the SDK's client factory, without a session per turn.

The SDK's stock factory (`RestChannelServiceClientFactory`) builds a new `TeamsConnectorClient`
(a new aiohttp session, so a new TCP and TLS connection) and a new user-token client for every
turn and every proactive send, and asks MSAL for a token each time. kmb keeps one connector
client per service URL (connections are reused), refreshes its bearer token at most every few
minutes (MSAL caches tokens for their lifetime; it runs in a thread), and has no use for the
user-token client (kmb does no user sign-in), so one idle client serves every turn.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

from microsoft_agents.hosting.core import (
    AuthenticationConstants,
    ClaimsIdentity,
    TeamsConnectorClient,
    TurnContext,
    UserTokenClient,
)

BOT_FRAMEWORK = AuthenticationConstants.AGENTS_SDK_SCOPE  # https://api.botframework.com
TOKEN_REUSE_SECONDS = 300.0  # Bot Framework tokens last an hour; MSAL renews them early
CLIENTS_KEPT = 64


class TokenSource(Protocol):
    """What gives kmb its outbound bearer token: MSAL's `MsalAuth` in production."""

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str: ...


class _KeptConnector(TeamsConnectorClient):
    """A connector client the SDK may "close" after a turn: `KeptClients` closes it."""

    async def close(self) -> None:
        return None

    async def release(self) -> None:
        await super().close()


class _IdleUserTokens(UserTokenClient):
    async def close(self) -> None:
        return None

    async def release(self) -> None:
        await super().close()


class KeptClients:
    """The SDK's `ChannelServiceClientFactoryBase`, keeping its clients (and a token)."""

    def __init__(self, tokens: TokenSource | None, app_id: str = "") -> None:
        self.tokens = tokens
        self.app_id = app_id
        self._clients: OrderedDict[str, _KeptConnector] = OrderedDict()
        self._user_tokens: _IdleUserTokens | None = None
        self._token = ""
        self._token_at = float("-inf")

    async def token(self) -> str:
        """The bearer token for the connector ("" in anonymous mode)."""
        if self.tokens is None:
            return ""
        if time.monotonic() - self._token_at > TOKEN_REUSE_SECONDS:
            self._token = await self.tokens.get_access_token(
                BOT_FRAMEWORK, [f"{BOT_FRAMEWORK}/.default"]
            )
            self._token_at = time.monotonic()
        return self._token

    async def connector(self, service_url: str) -> TeamsConnectorClient:
        """The connector client for `service_url`, with a current token."""
        token = await self.token()
        client = self._clients.get(service_url)
        if client is None:
            client = self._clients[service_url] = _KeptConnector(endpoint=service_url, token=token)
            while len(self._clients) > CLIENTS_KEPT:
                await self._clients.popitem(last=False)[1].release()
        else:
            self._clients.move_to_end(service_url)
            if token and client.client.headers.get("Authorization") != f"Bearer {token}":
                client.client.headers["Authorization"] = f"Bearer {token}"
        return client

    async def close(self) -> None:
        """Close every kept session (when the web app stops)."""
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.release()
        if self._user_tokens is not None:
            await self._user_tokens.release()
            self._user_tokens = None

    # --- ChannelServiceClientFactoryBase ------------------------------------------------

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> TeamsConnectorClient:
        return await self.connector(service_url)

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> Any:
        if self._user_tokens is None:
            self._user_tokens = _IdleUserTokens(
                AuthenticationConstants.AGENTS_SDK_OAUTH_URL, "", app_id=self.app_id or "kmb"
            )
        return self._user_tokens
