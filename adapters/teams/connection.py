"""The Bot Framework side: identity from settings, and botbuilder's `CloudAdapter` over it.

This module and its neighbours are the only places that know botbuilder. The Bot Framework SDK
for Python is retired (support ended 31 Dec 2025); moving to the Microsoft 365 Agents SDK
(`microsoft-agents-hosting-*`) means rewriting `adapters/teams/` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)

from bot.config import Settings

BOTFRAMEWORK_ISSUER = "https://api.botframework.com"


@dataclass(frozen=True)
class TeamsConfig:
    """Who kmb is to the Bot Framework; no app id means Emulator mode (no authentication).

    The `openid_metadata_url`, `token_issuer`, `login_url` and `oauth_scope` overrides exist so
    tests can check the authenticated path offline against a local key server; in production
    they stay unset and botbuilder uses the public cloud's endpoints.
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


def make_adapter(config: TeamsConfig) -> Any:
    """botbuilder's CloudAdapter with ConfigurationBotFrameworkAuthentication."""
    auth = ConfigurationBotFrameworkAuthentication(
        _Configuration(config), credentials_factory=config.credentials_factory
    )
    return CloudAdapter(auth)
