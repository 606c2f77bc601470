"""The Bot Framework side: identity from settings, and botbuilder's `CloudAdapter` over it.

This module and its neighbours are the only places that know botbuilder. The Bot Framework SDK
for Python is retired (support ended 31 Dec 2025); moving to the Microsoft 365 Agents SDK
(`microsoft-agents-hosting-*`) means rewriting `adapters/teams/` and nothing else.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botframework.connector.auth import ConnectorFactory

from bot.config import Settings

from .shape import CONNECTOR_HOSTS

BOTFRAMEWORK_ISSUER = "https://api.botframework.com"


@dataclass(frozen=True)
class TeamsConfig:
    """Who kmb is to the Bot Framework; no app id means Emulator mode (no authentication).

    The `openid_metadata_url`, `token_issuer`, `login_url`, `oauth_scope` and `connector_hosts`
    overrides exist so tests can check the authenticated path offline against a local key
    server and connector; in production they stay unset and botbuilder uses the public cloud's
    endpoints, and only Microsoft's connector hosts are answered.
    """

    app_id: str = ""
    app_password: str = ""
    tenant_id: str = ""
    app_type: str = "SingleTenant"
    openid_metadata_url: str = ""
    token_issuer: str = BOTFRAMEWORK_ISSUER
    login_url: str = ""
    oauth_scope: str = ""
    credentials_factory: Any = None
    connector_hosts: tuple[str, ...] = CONNECTOR_HOSTS

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamsConfig:
        """The identity named by MICROSOFT_APP_ID, _PASSWORD, _TENANT_ID and _TYPE."""
        return cls(
            app_id=settings.microsoft_app_id,
            app_password=settings.microsoft_app_password,
            tenant_id=settings.microsoft_app_tenant_id,
            app_type=settings.microsoft_app_type or "SingleTenant",
        )

    @property
    def authenticated(self) -> bool:
        """False in Emulator mode: anyone who can reach /api/messages is believed."""
        return bool(self.app_id)


class _Configuration:
    """The attribute bag botbuilder's configuration classes read."""

    def __init__(self, config: TeamsConfig) -> None:
        self.APP_ID = config.app_id
        self.APP_PASSWORD = config.app_password
        self.APP_TENANTID = config.tenant_id
        # With no app id there is nothing to be single-tenant about (Emulator mode).
        self.APP_TYPE = config.app_type if config.authenticated else "MultiTenant"
        if config.openid_metadata_url:
            self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = config.openid_metadata_url
            self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = config.token_issuer
            self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = config.openid_metadata_url
            self.TO_CHANNEL_FROM_BOT_LOGIN_URL = config.login_url or config.openid_metadata_url
            self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = config.oauth_scope or BOTFRAMEWORK_ISSUER


CLIENTS_KEPT = 256


class _CachedFactory(ConnectorFactory):  # type: ignore[misc]
    """Hands out one connector client per (service URL, audience) instead of one per turn."""

    def __init__(self, inner: Any, app_id: str, clients: OrderedDict[tuple[str, ...], Any]):
        self.inner, self.app_id, self.clients = inner, app_id, clients

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (self.app_id, service_url, audience or "")
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = await self.inner.create(service_url, audience)
            while len(self.clients) > CLIENTS_KEPT:
                self.clients.popitem(last=False)
        else:
            self.clients.move_to_end(key)
        return client


class _CachingAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """ConfigurationBotFrameworkAuthentication that keeps its clients.

    Stock botbuilder builds a new connector client and a new user-token client for every
    turn, each with a fresh msrest configuration (TLS context, CA bundle) and HTTP session that
    is never closed: about half of a turn's CPU, measured with py-spy under bench/teams_turn.py.
    Credentials refresh their own tokens, so a kept client stays valid.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: OrderedDict[tuple[str, ...], Any] = OrderedDict()
        self._token_clients: dict[str, Any] = {}

    def create_connector_factory(self, claims_identity: Any) -> Any:
        inner = super().create_connector_factory(claims_identity)
        app_id = str(getattr(inner, "_app_id", "") or "")
        return _CachedFactory(inner, app_id, self._clients)

    async def create_user_token_client(self, claims_identity: Any) -> Any:
        app_id = str(claims_identity.get_claim_value("aud") or "") if claims_identity else ""
        client = self._token_clients.get(app_id)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self._token_clients[app_id] = client
        return client


def make_adapter(config: TeamsConfig) -> Any:
    """botbuilder's CloudAdapter with ConfigurationBotFrameworkAuthentication (clients kept)."""
    auth = _CachingAuthentication(
        _Configuration(config), credentials_factory=config.credentials_factory
    )
    return CloudAdapter(auth)
