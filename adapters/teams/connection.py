"""Who kmb is to Teams, and the Microsoft 365 Agents SDK objects built from it.

This folder is the only place that knows the SDK (`microsoft_agents.*`). Our contract's
`MICROSOFT_APP_ID`, `_PASSWORD`, `_TENANT_ID` and `_TYPE` map onto the SDK's service connection
(`CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID`, `CLIENTSECRET`, `TENANTID`, `AUTHTYPE`);
with no app id there is no connection at all: anonymous mode (Agents Playground / Emulator),
which `shape.service_url_problem` keeps to loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, AuthTypes

from bot.config import Settings

from .auth import Authenticator
from .clients import KeptClients, TokenSource
from .shape import CONNECTOR_HOSTS

SERVICE_CONNECTION = "SERVICE_CONNECTION"
# A multi-tenant Azure Bot registration gets its tokens from the Bot Framework's own tenant.
_MULTI_TENANT = "botframework.com"


@dataclass(frozen=True)
class TeamsConfig:
    """Who kmb is to the Bot Framework; no app id means anonymous mode (no authentication).

    `openid_metadata_url`, `token_provider` and `connector_hosts` exist so tests can check the
    authenticated path offline, against a local key server and connector; in production they
    stay unset: the SDK fetches Microsoft's signing keys, MSAL gets the outbound tokens, and only
    Microsoft's connector hosts are answered.
    """

    app_id: str = ""
    app_password: str = ""
    tenant_id: str = ""
    app_type: str = "SingleTenant"
    openid_metadata_url: str = ""
    token_provider: TokenSource | None = None
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
        """False in anonymous mode: anyone who can reach /api/messages is believed."""
        return bool(self.app_id)

    def sdk_settings(self) -> dict[str, Any]:
        """The SDK's `SETTINGS` for the service connection (env names without the prefix)."""
        msi = self.app_type.lower() == "userassignedmsi"
        tenant = _MULTI_TENANT if self.app_type.lower() == "multitenant" else self.tenant_id
        settings: dict[str, Any] = {
            "CLIENTID": self.app_id,
            "TENANTID": tenant,
            "AUTHTYPE": AuthTypes.user_managed_identity if msi else AuthTypes.client_secret,
            # Bot Framework tokens name their issuer; botbuilder checked it, so do we.
            "VALIDATE_ISSUER": True,
        }
        if not msi:
            settings["CLIENTSECRET"] = self.app_password
        return settings


@dataclass(frozen=True)
class Connection:
    """The SDK's adapter, kmb's connector clients and the inbound token check, built once."""

    adapter: CloudAdapter
    clients: KeptClients
    authenticator: Authenticator | None


def connect(config: TeamsConfig) -> Connection:
    """The SDK's `CloudAdapter` over kept connector clients; MSAL tokens when authenticated."""
    tokens: TokenSource | None = None
    authenticator: Authenticator | None = None
    if config.authenticated:
        manager = MsalConnectionManager(
            connections_configurations={
                SERVICE_CONNECTION: AgentAuthConfiguration(**config.sdk_settings())
            }
        )
        tokens = config.token_provider or manager.get_default_connection()
        authenticator = Authenticator(
            manager.get_default_connection_configuration(), config.openid_metadata_url
        )
    clients = KeptClients(tokens, config.app_id)
    return Connection(CloudAdapter(channel_service_client_factory=clients), clients, authenticator)
