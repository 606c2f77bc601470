"""The core speaks its own language: `bot/` never imports a platform SDK."""

import ast
from pathlib import Path

import bot

FORBIDDEN = ("slack_bolt", "slack_sdk", "botbuilder", "botframework")


def test_bot_never_imports_a_platform_sdk() -> None:
    offenders = []
    for path in Path(bot.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_every_element_round_trips_through_json() -> None:
    from bot.messages import (
        Actions,
        Button,
        Choice,
        Facts,
        Form,
        Input,
        Reply,
        Section,
        Text,
        reply_from_dict,
        reply_to_dict,
    )

    reply = Reply(
        (
            Text("t"),
            Facts((("a", "b"),)),
            Actions((Button("B", "help", "primary"),)),
            Section("S", (Text("x"),)),
            Form("f", "F", (Input("i", "I", "choice", choices=(Choice("c", "v"),)),)),
        ),
        summary="s",
    )
    assert reply_from_dict(reply_to_dict(reply)) == reply
    assert "[B: type `help`]" in reply.to_text()
