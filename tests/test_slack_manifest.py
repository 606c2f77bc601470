"""`kmb slack manifest`: one paste creates the app, with only the scopes kmb uses."""

from __future__ import annotations

import yaml

from bot.cli import main

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
    assert scopes - needed == {"commands", "chat:write", "users:read"}
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
