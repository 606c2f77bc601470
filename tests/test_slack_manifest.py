"""`kmb slack manifest`: one paste creates the app, with only the scopes kmb uses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.testing.fake_slack import scopes_needed
from kmb.cli import main

ADAPTER = Path(__file__).parent.parent / "adapters" / "slack"
# The conversation types (by id prefix) kmb calls each conversation method on.
WHERE = {"conversations.members": "CG", "conversations.history": "CGD", "conversations.info": "CG"}

# Slack's documented scope for each bot event kmb subscribes to.
EVENT_SCOPE = {
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_home_opened": None,
}


def test_manifest_points_every_url_at_our_route_and_asks_only_needed_scopes(capsys) -> None:
    assert main(["slack", "manifest", "--url", "https://kmb.trust.nhs.uk/"]) == 0
    m = yaml.safe_load(capsys.readouterr().out)
    url = "https://kmb.trust.nhs.uk/slack/events"
    assert m["features"]["slash_commands"][0]["url"] == url
    assert m["settings"]["event_subscriptions"]["request_url"] == url
    assert m["settings"]["interactivity"]["request_url"] == url
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    events = m["settings"]["event_subscriptions"]["bot_events"]
    needed = {EVENT_SCOPE[e] for e in events} - {None}
    assert needed <= scopes
    assert scopes == needed | {"commands"} | methods_need()  # nothing more
    assert len(m["display_information"]["description"]) <= 140


def test_socket_mode_manifest_has_no_urls(capsys) -> None:
    assert main(["slack", "manifest", "--socket"]) == 0
    m = yaml.safe_load(capsys.readouterr().out)
    assert m["settings"]["socket_mode_enabled"] is True
    assert "url" not in m["features"]["slash_commands"][0]
    assert "request_url" not in m["settings"]["event_subscriptions"]


def test_plain_http_is_refused_with_a_reason(capsys) -> None:
    assert main(["slack", "manifest", "--url", "http://kmb.local"]) == 2
    assert "https" in capsys.readouterr().err


def methods_called() -> set[str]:
    """The Web API methods the Slack adapter calls (`.chat_postMessage(` is chat.postMessage)."""
    source = "\n".join(p.read_text() for p in ADAPTER.glob("*.py"))
    found = re.findall(r"\.(chat|users|conversations|views|reactions|files)_([A-Za-z]+)\b", source)
    return {f"{family}.{name}" for family, name in found}


def methods_need() -> set[str]:
    """Every scope the adapter's calls need, for each kind of conversation it calls them on."""
    needed: set[str] = set()
    for method in methods_called():
        for prefix in WHERE.get(method, "C"):
            args = {"channel": f"{prefix}0X", "users": "U0X"}
            needed.update(scopes_needed(method, args))
    return needed


def test_every_method_the_adapter_calls_is_granted_by_the_manifest(capsys) -> None:
    assert {"conversations.members", "conversations.open", "users.info"} <= methods_called()
    assert main(["slack", "manifest", "--socket"]) == 0
    scopes = set(yaml.safe_load(capsys.readouterr().out)["oauth_config"]["scopes"]["bot"])
    assert methods_need() <= scopes
    assert {"channels:read", "groups:read", "im:write"} <= scopes
