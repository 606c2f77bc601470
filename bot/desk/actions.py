"""The desk's enquiry actions, through the very functions chat uses, as the signed-in person.

Claim, transfer, reply, note and close run as a turn of the person on their own platform, so the
enquiry's history, the card in the library channel and the requester's conversation change
exactly as when the same person presses the card's buttons in Slack or Teams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from bot.desk.auth import Viewer
from bot.engine import Engine
from bot.features.enquiries import closing
from bot.features.enquiries import desk as enquiry_desk
from bot.forms import EnquiryContext
from bot.messages import ConversationRef, Inbound, PersonRef, Reply
from bot.turn import Turn

# The form each action submits, as a rich platform would (same checks, same commit); claim is
# the card's Claim button, which has no form.
FLOWS = {
    "transfer": enquiry_desk.TransferFlow.id,
    "reply": enquiry_desk.ReplyFlow.id,
    "note": enquiry_desk.NoteFlow.id,
    "close": closing.CloseFlow.id,
}
FIELDS = {
    "transfer": ("team", "person"),
    "reply": ("message",),
    "note": ("note",),
    "close": ("outcome", "minutes", "read"),
}
ACTIONS = ("claim", *FLOWS)
# Chat asks again for an empty answer ("type an answer (or `cancel`)"); a web form says, in the
# NHS.UK style, what to enter.
REQUIRED = {
    "message": "Enter your message to the requester",
    "note": "Enter the note",
    "outcome": "Enter what was done or sent",
}


@dataclass(frozen=True)
class Outcome:
    """What an action did: kmb's answer, and any field errors to show on the form."""

    message: str
    errors: tuple[tuple[str, str], ...] = ()


def turn_of(engine: Engine, who: Viewer) -> Turn:
    """A turn of the signed-in person, as if they spoke to kmb on their own platform."""
    ref = PersonRef(who.platform, who.external_id, who.display_name)
    conv = ConversationRef(who.platform, f"desk:{who.person_id}", "personal")
    return Turn(
        engine=engine,
        inbound=Inbound("form", ref, conv),
        person_id=who.person_id,
        display_name=who.display_name,
        roles=who.roles,
    )


def act_sync(
    engine: Engine,
    who: Viewer,
    action: str,
    enquiry_id: int,
    reference: str,
    values: Mapping[str, str],
) -> Outcome:
    """Run one action now, on this thread (librarians only; the caller checks the role)."""
    turn = turn_of(engine, who)
    replies: list[Reply]
    if action == "claim":
        turn.args = reference
        replies = enquiry_desk.claim(turn)
    elif action in FLOWS:
        clean = {k: str(values.get(k, "")).strip() for k in FIELDS[action]}
        replies = engine.submit_form(turn, FLOWS[action], clean, EnquiryContext(enquiry_id))
    else:
        raise ValueError(f"unknown desk action {action!r}")
    errors = tuple(
        (fid, REQUIRED.get(fid, text) if text.startswith("This one is needed") else text)
        for r in replies
        for fid, text in r.errors
    )
    text = " ".join(r.to_text() for r in replies if not r.errors)
    with engine.store.session() as s:
        engine.store.audit(
            s,
            who.person_id,
            f"desk.enquiry.{action}",
            {"enquiry": enquiry_id, "refused": bool(errors)},
        )
    return Outcome(text, errors)


async def act(
    engine: Engine,
    who: Viewer,
    action: str,
    enquiry_id: int,
    reference: str,
    values: Mapping[str, str],
) -> Outcome:
    """`act_sync` on the engine's turn workers, then wake delivery, as `engine.handle` does."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(
            engine.workers, act_sync, engine, who, action, enquiry_id, reference, values
        )
    finally:
        for callback in engine.on_change:
            callback()
