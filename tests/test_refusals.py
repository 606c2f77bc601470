"""Refuse before parsing: the requests of issue 10's hostile campaign, one by one.

Unsigned Slack requests are refused on their headers and raw bytes (401, or 400 for a
timestamp that is not a number) whatever their body; signed but unreadable ones get 400; none
gets 500 or leaves a traceback in the log. In Emulator mode Teams answers only a loopback
`serviceUrl`, and an activity kmb cannot read is a 400 before anything is called or stored.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlmodel import func, select

from bot.store.models import ConversationReference
from tests.slack_harness import SECRET, SlackWorld, load, signed
from tests.teams_rig import Rig

DEEP = "[" * 100_000 + "]" * 100_000
FORM = "application/x-www-form-urlencoded"


def _interaction(name: str, **changes: Any) -> str:
    payload = copy.deepcopy(load(name))
    for path, value in changes.items():
        target = payload
        *parents, last = path.split("__")
        for step in parents:
            target = target[step]
        target[last] = value
    return urlencode({"payload": json.dumps(payload)})


def _event(**changes: Any) -> str:
    return json.dumps(load("message_im") | changes)


UNREADABLE = {
    "invalid JSON": ("{not json", "application/json"),
    "payload=null": ("payload=null", FORM),
    "invalid UTF-8": (b"payload=\xff\xfe{}".decode("latin-1"), FORM),
    "deeply nested JSON": (DEEP, "application/json"),
    "empty actions": (_interaction("block_actions", actions=[]), FORM),
    "action without an action_id": (_interaction("block_actions", actions=[{}]), FORM),
    "private_metadata a number": (_interaction("view_submission", view__private_metadata=7), FORM),
    "state a list": (_interaction("view_submission", view__state=[]), FORM),
    "state values odd": (_interaction("view_submission", view__state={"values": {"b": 1}}), FORM),
    "authorizations not a list": (_event(authorizations={"is_bot": True}), "application/json"),
    "event not an object": (_event(event="hello"), "application/json"),
    "a lone surrogate": ('{"type": "event_callback", "event": {"type": "\\ud800"}}', "x"),
}


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("name", list(UNREADABLE))
async def test_unsigned_junk_is_401_before_it_is_read(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    body, ctype = UNREADABLE[name]
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"}
    assert (await slack.post(body, ctype, headers))[0] == 401
    assert (await slack.post(body, ctype, {}))[0] == 401
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "-5", "", "12345678901234567890"])
async def test_a_timestamp_that_is_not_a_number_is_refused(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=0"}
    status, _ = await slack.post("{}", "application/json", headers)
    assert status == (401 if timestamp == "" else 400)  # none: unsigned; junk: malformed
    assert _tracebacks(caplog) == []


@pytest.mark.parametrize("name", list(UNREADABLE))
async def test_signed_but_unreadable_is_400_and_does_nothing(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    body, ctype = UNREADABLE[name]
    raw = body.encode("latin-1") if name == "invalid UTF-8" else body.encode()
    async with slack.http.post(
        slack.url, data=raw, headers={"Content-Type": ctype, **_signed_bytes(raw)}
    ) as resp:
        assert resp.status == 400
    assert slack.fake.calls == [] and _tracebacks(caplog) == []


def _signed_bytes(raw: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


async def test_a_signature_over_other_bytes_is_401(slack: SlackWorld) -> None:
    body = _event()
    headers = signed(body + " ")  # Slack signed one byte more than arrived
    assert (await slack.post(body, "application/json", headers))[0] == 401
    assert (await slack.post(body, "application/json", signed(body)))[0] == 200


# --- Teams ------------------------------------------------------------------------------------


def _references(rig: Rig) -> int:
    with rig.engine.store.session() as s:
        return int(s.exec(select(func.count()).select_from(ConversationReference)).one())


TEAMS_UNREADABLE: dict[str, dict[str, Any]] = {
    "no conversation": {"conversation": None},
    "conversation without an id": {"conversation": {"conversationType": "personal"}},
    "null members": {"type": "conversationUpdate", "membersAdded": [None]},
    "members not a list": {"type": "conversationUpdate", "membersAdded": "everyone"},
    "a string invoke value": {"type": "invoke", "name": "adaptiveCard/action", "value": "x"},
    "an invoke action that is a list": {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "value": {"action": []},
    },
    "entities of strings": {"entities": ["mention"]},
    "a numeric id": {"from": {"id": 7}},
}


@pytest.mark.parametrize("name", list(TEAMS_UNREADABLE))
async def test_an_activity_kmb_cannot_read_is_400(
    engine: Any, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    async with Rig(engine) as rig:
        status, body = await rig.post(rig.activity("personal_message", **TEAMS_UNREADABLE[name]))
        assert status == 400 and body["error"]
        assert rig.connector.calls == [] and _references(rig) == 0
    assert _tracebacks(caplog) == []


async def test_a_lone_surrogate_is_400(engine: Any) -> None:
    async with Rig(engine) as rig:
        assert rig.http is not None
        raw = json.dumps(rig.activity("personal_message")).replace('"help"', '"\\udc00"')
        async with rig.http.post(
            f"{rig.base}/api/messages", data=raw, headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
        assert rig.connector.calls == [] and _references(rig) == 0


@pytest.mark.parametrize(
    "service_url",
    [None, "", 42, "https://smba.trafficmanager.net/uk/", "http://10.0.0.8/", "not a url"],
)
async def test_emulator_mode_answers_only_loopback(engine: Any, service_url: object) -> None:
    async with Rig(engine) as rig:
        activity = rig.activity("personal_message")
        if service_url is None:
            del activity["serviceUrl"]
        else:
            activity["serviceUrl"] = service_url
        started = time.monotonic()
        status, _ = await rig.post(activity)
        assert status == 400 and time.monotonic() - started < 2  # at once, no call attempted
        assert rig.connector.calls == [] and _references(rig) == 0
        assert (await rig.says("help")) != []  # the fake connector on loopback is answered
        assert _references(rig) >= 1
