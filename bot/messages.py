"""The engine's own vocabulary: what comes in, what goes out, and neutral reply elements.

Adapters translate platform payloads into `Inbound` and render `Reply` elements; every element
has a plain-text rendering so a platform that cannot draw it still says something useful.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# "installed"/"uninstalled": kmb added to (removed from) a personal chat or a team/channel;
# "home": the platform's home view opened (Slack's App Home); "shortcut": a message shortcut
# or message action, the quoted message's text in `text`.
InboundKind = Literal[
    "message", "command", "button", "form", "installed", "uninstalled", "home", "shortcut"
]
ConversationKind = Literal["personal", "channel", "group"]
# "people": platform ids (or, typed, names) separated by commas; rich platforms show a picker.
InputKind = Literal[
    "text", "multiline", "choice", "scale", "yesno", "date", "toggle", "people", "number"
]


@dataclass(frozen=True)
class PersonRef:
    """Who someone is on one platform."""

    platform: str
    external_id: str
    display_name: str = ""
    timezone: str | None = None  # IANA name, when the platform says (Slack profile, Teams client)


@dataclass(frozen=True)
class ConversationRef:
    """Where a conversation happens on one platform (a DM, a channel, a thread)."""

    platform: str
    id: str
    kind: ConversationKind = "personal"
    thread: str | None = None


@dataclass(frozen=True)
class Inbound:
    """One thing a platform told kmb: a message, a command, a button press, a form submitted,
    kmb installed or removed, the home view opened, a message shortcut."""

    kind: InboundKind
    person: PersonRef
    conversation: ConversationRef
    text: str = ""
    action: str | None = None
    value: Mapping[str, str] = field(default_factory=dict)
    event_id: str | None = None
    raw: Any = None
    addressed: bool = True  # False: overheard in a channel thread, not said to kmb
    files: tuple[str, ...] = ()  # names of files attached (kmb never passes files on)
    members: tuple[PersonRef, ...] = ()  # "installed": the people added with kmb (a team)

    @property
    def platform(self) -> str:
        """The platform this came from."""
        return self.person.platform


# --- neutral elements ---------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A paragraph of text (light markdown: *bold* only)."""

    text: str

    def to_text(self) -> str:
        """Plain-text rendering."""
        return self.text


@dataclass(frozen=True)
class Facts:
    """Label/value pairs, e.g. Time: 1 hour."""

    pairs: tuple[tuple[str, str], ...]

    def to_text(self) -> str:
        """Plain-text rendering."""
        return "\n".join(f"{label}: {value}" for label, value in self.pairs)


@dataclass(frozen=True)
class Button:
    """An action a person can take; `command` is the chat words it stands for."""

    label: str
    command: str
    style: Literal["default", "primary", "danger"] = "default"

    def to_text(self) -> str:
        """Plain-text rendering: the words to type instead of pressing."""
        return f"[{self.label}: type `{self.command}`]"


@dataclass(frozen=True)
class Actions:
    """A row of buttons."""

    buttons: tuple[Button, ...]

    def to_text(self) -> str:
        """Plain-text rendering."""
        return "  ".join(b.to_text() for b in self.buttons)


@dataclass(frozen=True)
class Choice:
    """One option of a choice input."""

    label: str
    value: str


@dataclass(frozen=True)
class Input:
    """One field of a form."""

    id: str
    label: str
    kind: InputKind = "text"
    required: bool = True
    max_length: int | None = None
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    initial: str = ""
    maximum: int | None = None  # a number's largest value (numbers are whole, from 0)
    unit: str = ""  # what a number counts, e.g. "weeks"

    def to_text(self) -> str:
        """Plain-text rendering: the question as the console asks it."""
        parts = [self.label + ("" if self.required else " (optional)")]
        if self.choices:
            parts.append(
                "\n".join(f"  {i}. {c.label}" for i, c in enumerate(self.choices, start=1))
            )
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


@dataclass(frozen=True)
class Form:
    """A form: rich platforms show it whole; the console asks its inputs one by one."""

    id: str
    title: str
    inputs: tuple[Input, ...]
    submit_label: str = "Submit"
    context: str = ""

    def to_text(self) -> str:
        """Plain-text rendering."""
        return self.title + "\n" + "\n".join(f"- {i.label}" for i in self.inputs)


@dataclass(frozen=True)
class Section:
    """A titled group of elements."""

    title: str
    elements: tuple[Element, ...] = ()

    def to_text(self) -> str:
        """Plain-text rendering."""
        body = "\n".join(e.to_text() for e in self.elements)
        return f"*{self.title}*" + (f"\n{body}" if body else "")


Element = Text | Facts | Actions | Input | Form | Section


@dataclass(frozen=True)
class Reply:
    """What kmb says: a list of elements with a one-line summary for notifications."""

    elements: tuple[Element, ...]
    summary: str = ""
    errors: tuple[tuple[str, str], ...] = ()  # (input id, message) for a rejected form
    public: bool = False  # meant for everyone in the conversation, not only the caller

    def to_text(self) -> str:
        """The whole reply as plain text."""
        return "\n\n".join(e.to_text() for e in self.elements)


def say(*paragraphs: str, summary: str = "") -> Reply:
    """A reply made of plain paragraphs."""
    return Reply(tuple(Text(p) for p in paragraphs), summary=summary or paragraphs[0][:150])


# --- JSON round trip (the outbox stores replies as JSON) -----------------------------------


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """Serialise a reply for storage."""
    data: dict[str, Any] = {
        "summary": reply.summary,
        "elements": [_element_to_dict(e) for e in reply.elements],
    }
    if reply.errors:
        data["errors"] = [list(e) for e in reply.errors]
    if reply.public:
        data["public"] = True
    return data


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    """Rebuild a reply stored with `reply_to_dict`."""
    return Reply(
        tuple(_element_from_dict(e) for e in data["elements"]),
        summary=data.get("summary", ""),
        errors=tuple((str(a), str(b)) for a, b in data.get("errors", ())),
        public=bool(data.get("public", False)),
    )


def _element_to_dict(element: Element) -> dict[str, Any]:
    if isinstance(element, Text):
        return {"type": "text", "text": element.text}
    if isinstance(element, Facts):
        return {"type": "facts", "pairs": [list(p) for p in element.pairs]}
    if isinstance(element, Actions):
        return {
            "type": "actions",
            "buttons": [
                {"label": b.label, "command": b.command, "style": b.style} for b in element.buttons
            ],
        }
    if isinstance(element, Section):
        return {
            "type": "section",
            "title": element.title,
            "elements": [_element_to_dict(e) for e in element.elements],
        }
    if isinstance(element, Input):
        return {"type": "input", **_input_dict(element)}
    return {
        "type": "form",
        "id": element.id,
        "title": element.title,
        "submit_label": element.submit_label,
        "context": element.context,
        "inputs": [_input_dict(i) for i in element.inputs],
    }


def _input_dict(i: Input) -> dict[str, Any]:
    return {
        "id": i.id,
        "label": i.label,
        "kind": i.kind,
        "required": i.required,
        "max_length": i.max_length,
        "choices": [[c.label, c.value] for c in i.choices],
        "hint": i.hint,
        "initial": i.initial,
    }


def _input_from(d: Mapping[str, Any]) -> Input:
    return Input(
        id=d["id"],
        label=d["label"],
        kind=d["kind"],
        required=d["required"],
        max_length=d["max_length"],
        choices=tuple(Choice(label, value) for label, value in d["choices"]),
        hint=d["hint"],
        initial=d["initial"],
    )


def _element_from_dict(d: Mapping[str, Any]) -> Element:
    kind = d["type"]
    if kind == "text":
        return Text(d["text"])
    if kind == "facts":
        return Facts(tuple((str(a), str(b)) for a, b in d["pairs"]))
    if kind == "actions":
        return Actions(tuple(Button(b["label"], b["command"], b["style"]) for b in d["buttons"]))
    if kind == "section":
        return Section(d["title"], tuple(_element_from_dict(e) for e in d["elements"]))
    if kind == "input":
        return _input_from(d)
    if kind == "form":
        return Form(
            id=d["id"],
            title=d["title"],
            inputs=tuple(_input_from(i) for i in d["inputs"]),
            submit_label=d["submit_label"],
            context=d["context"],
        )
    raise ValueError(f"unknown element type {kind!r}")
