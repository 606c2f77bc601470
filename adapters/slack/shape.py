"""What a signed Slack request must look like before Bolt and kmb's listeners read it.

Slack's payloads are trusted once signed, but a field of the wrong type (a list where Bolt
expects an object, an empty `actions`, a number as `private_metadata`) would raise inside Bolt
or a listener and be answered 500. `payload_of` parses the body as Bolt does and checks the
fields Bolt's context and kmb's translators read; anything else is a `Malformed` (400).
Unknown fields are always allowed: Slack adds them freely.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from adapters.wire import Malformed, conforms, json_object, json_value

Text = str | None
Id = Annotated[str, StringConstraints(max_length=255)]  # Slack's ids are short: U0…, C0…, T0…


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Ref(_Shape):
    """`{"id": …}`: a team, user, channel or enterprise named by an object."""

    id: Text = None
    team_id: Text = None
    enterprise_id: Text = None


Ref = str | _Ref | None


class _Authorization(_Shape):
    enterprise_id: Text = None
    team_id: Text = None
    user_id: Text = None
    is_bot: bool | None = None
    is_enterprise_install: bool | None = None


class _Common(_Shape):
    """The fields Bolt reads from every payload to build its context."""

    type: Text = None
    enterprise: Ref = None
    team: Ref = None
    user: Ref = None
    channel: Ref = None
    authorizations: list[_Authorization] | None = None
    enterprise_id: Text = None
    team_id: Text = None
    user_id: Text = None
    channel_id: Text = None
    thread_ts: Text = None
    is_enterprise_install: bool | str | None = None
    is_ext_shared_channel: bool | None = None
    response_url: Text = None
    response_urls: list[dict[str, Any]] | None = None
    trigger_id: Text = None
    message: dict[str, Any] | None = None
    previous_message: dict[str, Any] | None = None
    item: dict[str, Any] | None = None
    assistant_thread: dict[str, Any] | None = None
    function_data: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    container: dict[str, Any] | None = None


class _Event(_Shape):
    type: str
    user: Id | None = None
    text: Text = None
    channel: Id | None = None
    channel_type: Text = None
    thread_ts: Text = None
    ts: Text = None
    tab: Text = None
    team: Text = None
    user_team: Text = None
    subtype: Text = None
    bot_id: Text = None
    message: dict[str, Any] | None = None
    previous_message: dict[str, Any] | None = None
    item: dict[str, Any] | None = None


class _EventCallback(_Common):
    event: _Event
    event_id: Text = None


class _Person(_Shape):
    id: Id
    name: Text = None
    username: Text = None
    team_id: Text = None


class _Action(_Shape):
    action_id: str
    block_id: Text = None
    value: Text = None
    action_ts: Text = None
    type: Text = None


class _BlockActions(_Common):
    user: _Person  # type: ignore[assignment]
    actions: list[_Action] = Field(min_length=1)


class _Option(_Shape):
    value: Text = None


class _Element(_Shape):
    type: Text = None
    value: Text = None
    selected_option: _Option | None = None
    selected_date: Text = None
    selected_users: list[str] | None = None
    selected_options: list[dict[str, Any]] | None = None


class _State(_Shape):
    values: dict[str, dict[str, _Element]] = {}


class _Title(_Shape):
    text: Text = None


class _View(_Shape):
    id: Text = None
    hash: Text = None
    callback_id: str
    private_metadata: Text = None
    state: _State = _State()
    title: _Title | None = None
    team_id: Text = None
    app_installed_team_id: Text = None


class _ViewPayload(_Common):
    user: _Person  # type: ignore[assignment]
    view: _View  # type: ignore[assignment]


class _Shortcut(_Common):
    user: _Person  # type: ignore[assignment]
    callback_id: str
    message: dict[str, Any] | None = None


class _Command(_Common):
    user_id: Id
    channel_id: Id | None = None
    command: str
    text: Text = None


_BY_TYPE: dict[str, type[_Shape]] = {
    "event_callback": _EventCallback,
    "block_actions": _BlockActions,
    "view_submission": _ViewPayload,
    "view_closed": _ViewPayload,
    "message_action": _Shortcut,
    "shortcut": _Shortcut,
}


def payload_of(body: str, content_type: str | None) -> dict[str, Any]:
    """The payload Bolt will see, checked; `Malformed` if kmb cannot read it."""
    if content_type == "application/json" or body.startswith("{"):
        payload = json_object(body)
    else:
        form = dict(parse_qsl(body, keep_blank_values=True))
        if "payload" in body:  # Bolt's own test: an interaction's JSON in a form field
            payload = json_value(form["payload"]) if "payload" in form else {}
            if not isinstance(payload, dict):
                raise Malformed("payload: expected a JSON object")
        else:
            payload = form
    kind = payload.get("type")
    if "command" in payload and kind is None:
        conforms(_Command, payload)
    else:
        conforms(_BY_TYPE.get(kind, _Common) if isinstance(kind, str) else _Common, payload)
    if isinstance(payload.get("event"), dict) or payload.get("type") == "event_callback":
        conforms(_EventCallback, payload)
    return payload
