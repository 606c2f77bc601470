"""`kmb slack manifest`: a Slack app manifest that creates kmb's app in one paste."""

from __future__ import annotations

from typing import Any

import yaml

from adapters.slack import ROUTE

# Least privilege: what each scope is for.
BOT_SCOPES = {
    "commands": "the /kmb slash command",
    "chat:write": "answers, prompts, reminders and the library channel's cards",
    "app_mentions:read": "@kmb in a channel",
    "im:history": "talking to kmb in its DM (message.im)",
    "channels:history": "librarians' replies in a public library channel's card threads",
    "groups:history": "the same in a private library channel",
    "users:read": "people's names and time zones, for cards and local-time prompts",
    "channels:read": "who is in a public channel, for a project of `this channel`",
    "groups:read": "the same in a private channel",
    "im:write": "finding a person's DM with kmb, to check a prompt did not go out twice",
}
EVENTS = ["app_home_opened", "app_mention", "message.im", "message.channels", "message.groups"]
USAGE = "help | tool <what you need> | librarian | retro | lessons <words> | my data"


def manifest(url: str | None, name: str = "kmb", socket: bool = False) -> dict[str, Any]:
    """The manifest: HTTP request URLs under `url`, or Socket Mode with none."""
    endpoint = None if socket or url is None else url.rstrip("/") + ROUTE
    command: dict[str, Any] = {
        "command": "/kmb",
        "description": "Learn before, during and after; find a tool; ask your librarian",
        "usage_hint": USAGE,
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": EVENTS}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if endpoint:
        command["url"] = endpoint
        events["request_url"] = endpoint
        interactivity["request_url"] = endpoint
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Learning before, during and after your work — and a direct line "
            "to your NHS library team.",
            "background_color": "#005eb8",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name, "always_online": True},
            "shortcuts": [
                {
                    "name": "Ask a librarian about this",
                    "type": "message",
                    "callback_id": "kmb-ask-librarian",
                    "description": "Send this message to your library team as an enquiry",
                }
            ],
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket,
            "token_rotation_enabled": False,
        },
    }


def render(url: str | None, name: str = "kmb", socket: bool = False) -> str:
    """The manifest as YAML, with the reason for each scope as a comment."""
    reasons = "\n".join(f"#   {scope}: {why}" for scope, why in BOT_SCOPES.items())
    body = yaml.safe_dump(manifest(url, name, socket), sort_keys=False, allow_unicode=True)
    return f"# kmb's Slack app manifest. Scopes asked for, and why:\n{reasons}\n{body}"
