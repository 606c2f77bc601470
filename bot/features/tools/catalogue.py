"""`tool <need>`, `tools` and `tool steps <slug>`: the KMb catalogue in chat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.content import Tool
from bot.messages import Actions, Button, Element, Facts, Reply, Section, Text, say
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine

PHASE_TITLES = {
    "before": "Learning before",
    "during": "Learning during",
    "after": "Learning after",
    "any": "Any time",
}


def _start_button(tool: Tool) -> Button:
    if tool.start_action == "librarian":
        return Button("Ask a librarian", "librarian", "primary")
    return Button("Use it with my team", f"project new {tool.slug}", "primary")


def tool_card(tool: Tool, why: str = "", can_lead: bool = True) -> Section:
    """One tool as a section: why it fits, time, group size, first step and actions.

    Only leads can start a project, so others are not offered "Use it with my team".
    """
    elements: list[Text | Facts | Actions] = [Text(why or tool.purpose)]
    elements.append(
        Facts(
            (
                ("Time", tool.time_needed),
                ("Group", tool.group_size),
                ("First step", tool.steps[0]),
            )
        )
    )
    buttons = [Button("Show the steps", f"tool steps {tool.slug}")]
    if tool.start_action == "librarian" or can_lead:
        buttons.append(_start_button(tool))
    if tool.start_action != "librarian":
        buttons.append(Button("Ask a librarian", "librarian"))
    elements.append(Actions(tuple(buttons)))
    return Section(tool.name, tuple(elements))


def find(turn: Turn) -> list[Reply]:
    """`tool <need>`: the three best-fitting tools."""
    need = turn.args.strip()
    first, _, rest = need.partition(" ")
    # `tool steps <name>` shows a tool's steps; "steps to take before a big project starts" (or
    # "stepsister") names no tool, so it is a need like any other.
    if first.lower() == "steps" and (not rest.strip() or named(turn.engine, rest)):
        return steps(turn, rest.strip())
    if not need:
        return [
            say(
                "Tell me what you need, e.g. `tool capture lessons from a finished project` or "
                "`tool someone key is leaving`. Type `tools` for the whole catalogue."
            )
        ]
    if len(need) > 1000:
        return [say("That's a lot to search with — please describe what you need in a sentence.")]
    found = turn.engine.finder.find(need)
    if not found:
        return [
            Reply(
                (
                    Text(
                        "Nothing in the catalogue fits that well. A librarian can help you find "
                        "evidence or the right approach — or type `tools` to browse."
                    ),
                    Actions(
                        (
                            Button("Ask a librarian", f"librarian {need[:200]}", "primary"),
                            Button("Browse tools", "tools"),
                        )
                    ),
                ),
                summary="No close match — ask a librarian",
            )
        ]
    names = ", ".join(s.tool.name for s in found)
    head = Text(f"Tools that fit “{need if len(need) < 80 else need[:77] + '…'}”:")
    return [
        Reply(
            (head, *(tool_card(s.tool, s.why, turn.has("lead")) for s in found)),
            summary=f"Try: {names}",
        )
    ]


def named(engine: Engine, name: str) -> Tool | None:
    """The tool a name or slug names ("peer assist", "peer-assist", "Peer Assist")."""
    tools = engine.catalogue.tools
    key = " ".join(name.lower().split())
    return tools.get(key.replace(" ", "-")) or next(
        (t for t in tools.values() if t.name.lower() == key), None
    )


def steps(turn: Turn, slug: str) -> list[Reply]:
    """`tool steps <slug>`: how to run a tool."""
    tools = turn.engine.catalogue.tools
    if not slug:
        return [say("Which tool? e.g. `tool steps peer-assist`. Type `tools` to see them all.")]
    tool = named(turn.engine, slug)
    if tool is None:
        return [say(f"I don't know a tool called “{slug[:60]}”. Type `tools` to see them all.")]
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(tool.steps, start=1))
    related = ", ".join(tools[r].name for r in tool.related if r in tools)
    elements: list[Element] = [
        Text(tool.purpose),
        Text(f"*When to use it:* {tool.when}"),
        Text(numbered),
        Facts(
            (("Time", tool.time_needed), ("Group", tool.group_size), ("Source", str(tool.source)))
        ),
    ]
    if related:
        elements.append(Text(f"Related: {related}"))
    if tool.start_action == "librarian" or turn.has("lead"):
        elements.append(Actions((_start_button(tool),)))
    else:
        elements.append(
            Text("To run it with your team in kmb, ask your project lead to start a project.")
        )
    return [Reply((Section(tool.name, tuple(elements)),), summary=f"How to run {tool.name}")]


def catalogue(turn: Turn) -> list[Reply]:
    """`tools`: the whole catalogue grouped before / during / after."""
    sections: list[Element] = []
    for phase, title in PHASE_TITLES.items():
        tools = [t for t in turn.engine.catalogue.tools.values() if t.phases[0] == phase]
        if tools:
            lines = "\n".join(
                f"• *{t.name}* — {t.purpose}" for t in sorted(tools, key=lambda t: t.name)
            )
            sections.append(Section(title, (Text(lines),)))
    sections.append(
        Text("Type `tool steps <name>` for how to run one, or `tool <what you need>`.")
    )
    return [Reply(tuple(sections), summary="The KMb tool catalogue")]


def register(engine: Engine) -> None:
    """Add the tool words."""
    engine.command(
        Command(
            "tool",
            find,
            "the three best-fitting KMb tools for what you need",
            "tool <what you need>",
        )
    )
    engine.command(Command("tools", catalogue, "the whole catalogue, before / during / after"))
