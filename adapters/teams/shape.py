"""What an activity must look like before kmb reads it, and where kmb may answer it.

`check` validates the fields the handler and `activity` read (unknown fields are allowed: the
Bot Framework adds them freely); anything else is `Malformed`, a 400, instead of a 500 from
deep inside a turn. `service_url_problem` decides whether kmb may call an activity's
`serviceUrl` at all: in Emulator mode (no app id) only loopback; with an app id only
Microsoft's connector hosts (the token's `serviceurl` claim must also match, which `auth`
checks). A refused `serviceUrl` is never called or stored.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from adapters.wire import conforms

Text = str | None

# Where the Bot Framework sends from (and takes replies): Teams in the public cloud, GCC,
# GCC High and DoD, and the Bot Framework's own channels in the public, US Government and
# China clouds. Not any *.trafficmanager.net: anyone can make one of those.
CONNECTOR_HOSTS: tuple[str, ...] = (
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
    ".botframework.com",
    ".botframework.us",
    ".botframework.azure.us",
    ".botframework.azure.cn",
)


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Account(_Shape):
    id: Text = None
    name: Text = None
    aadObjectId: Text = None


class _Conversation(_Shape):
    id: str
    conversationType: Text = None
    tenantId: Text = None
    isGroup: bool | None = None


class _Entity(_Shape):
    type: Text = None
    mentioned: _Account | None = None
    timezone: Text = None


class _Ref(_Shape):
    id: Text = None
    name: Text = None


class _ChannelData(_Shape):
    tenant: _Ref | None = None
    team: _Ref | None = None
    channel: _Ref | None = None


class _Activity(_Shape):
    type: str
    id: Text = None
    name: Text = None
    serviceUrl: Text = None
    channelId: Text = None
    from_: _Account | None = None
    recipient: _Account | None = None
    conversation: _Conversation
    text: Text = None
    value: dict[str, Any] | None = None
    entities: list[_Entity] | None = None
    membersAdded: list[_Account] | None = None
    membersRemoved: list[_Account] | None = None
    channelData: _ChannelData | None = None
    replyToId: Text = None
    action: Text = None
    locale: Text = None


class _Action(_Shape):
    data: dict[str, Any] | None = None


class _MessagePayload(_Shape):
    body: dict[str, Any] | None = None


class _InvokeValue(_Shape):
    action: _Action | None = None
    data: dict[str, Any] | None = None
    messagePayload: _MessagePayload | None = None


def check(activity: dict[str, Any]) -> None:
    """`Malformed` unless kmb can read every field it uses in `activity`."""
    conforms(_Activity, {**activity, "from_": activity.get("from")})
    if activity.get("type") == "invoke" and activity.get("value") is not None:
        conforms(_InvokeValue, activity["value"])


def service_url_problem(
    url: object, authenticated: bool, hosts: tuple[str, ...] = CONNECTOR_HOSTS
) -> str | None:
    """Why kmb must not call `url` (None: it may)."""
    if not isinstance(url, str) or not url:
        return "the activity has no serviceUrl"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "the serviceUrl is not a URL"
    if not authenticated:
        if parts.scheme in ("http", "https") and _loopback(host):
            return None
        return "without MICROSOFT_APP_ID kmb only answers a serviceUrl on loopback (Emulator)"
    trusted = any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)
    if trusted and (parts.scheme == "https" or _loopback(host)):
        return None
    return "the serviceUrl is not a Microsoft Bot Framework connector"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
