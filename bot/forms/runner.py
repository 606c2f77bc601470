"""The form runner: forms shown whole or asked one question at a time, their state a row.

A platform that shows forms whole (a Slack modal, a Teams card) gets the form and submits it at
once; the others (the console) are asked field by field, each answer checked as it comes. The
dialog row keeps the flow, its context (as JSON), the answers so far and the question reached,
so a form in progress survives a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from sqlmodel import select

from bot.fields import parse_field
from bot.forms.flow import Context, FormFlow
from bot.messages import Form, Reply, Text, say
from bot.store import Store
from bot.store.models import Dialog
from bot.turn import Command, Turn

# One rule for every step-by-step form, told in its first message: a command alone on a line is
# a command (it is never saved as an answer), and quotes make it an answer.
FORM_RULES = (
    "Type `cancel` at any time to stop, `back` to go back a question. A command alone on a line "
    "(such as `help`) runs that command and is not saved as an answer; to answer with that word, "
    'put it in quotes ("help").'
)
FORM_WORDS = frozenset({"cancel", "stop", "quit", "back", "skip"})
QUOTES = (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"))

Flow = FormFlow[Any]


def unquote(text: str) -> str | None:
    """The words inside quotes, when the whole answer is quoted (an answer taken literally)."""
    for left, right in QUOTES:
        if len(text) > 2 and text.startswith(left) and text.endswith(right):
            return text[len(left) : -len(right)].strip()
    return None


class Router(Protocol):
    """What the runner asks of the engine: commands typed in the middle of a form."""

    def route(self, turn: Turn, text: str) -> list[Reply]:
        """Run the command the text names."""
        ...

    def command_for(self, turn: Turn, text: str) -> Command | None:
        """The command a whole line names exactly, if any."""
        ...


class FormRunner:
    """Starts, continues and submits forms for the engine."""

    def __init__(self, store: Store, router: Router) -> None:
        self.store = store
        self.router = router
        self.flows: dict[str, Flow] = {}

    def add(self, flow: Flow) -> None:
        """Register a flow under its id."""
        self.flows[flow.id] = flow

    def context(self, flow: Flow, ctx: Context | Mapping[str, Any]) -> Context:
        """A flow's typed context (a mapping is its stored form, as a dialog row keeps it)."""
        if isinstance(ctx, Context):
            return ctx
        stored: Context = flow.context_type.from_dict(ctx)
        return stored

    # --- state ---------------------------------------------------------------------------

    def dialog(self, person_id: int) -> Dialog | None:
        """The step-by-step form a person is in (whole forms shown on rich platforms aside)."""
        with self.store.session() as s:
            for row in s.exec(select(Dialog).where(Dialog.person_id == person_id)):
                if not row.state.get("whole"):
                    return row
        return None

    def end(self, dialog: Dialog) -> None:
        """Forget a dialog (sent, cancelled or left)."""
        with self.store.session() as s:
            row = s.get(Dialog, dialog.id)
            if row is not None:
                s.delete(row)

    # --- starting ------------------------------------------------------------------------

    def start(
        self,
        turn: Turn,
        flow_id: str,
        ctx: Context | Mapping[str, Any],
        prefill: Mapping[str, str] | None = None,
    ) -> list[Reply]:
        """Begin a form: whole where the platform shows forms whole, else its first question."""
        flow = self.flows[flow_id]
        context = self.context(flow, ctx)
        form = flow.form(turn, context)
        values: dict[str, str] = {}
        index = 0
        notices: list[str] = []
        today = turn.today()
        for field in form.inputs:
            raw = (prefill or {}).get(field.id)
            if raw is None:
                break
            parsed = parse_field(field, raw, today)
            if parsed.error or flow.check(turn, context, field.id, parsed.value, values):
                break
            values[field.id] = parsed.value
            if parsed.notice:
                notices.append(parsed.notice)
            if parsed.understood:
                notices.append(f"{field.label.rstrip('?.:')}: {parsed.understood}.")
            flow.on_field(turn, context, field.id, parsed.value)
            index += 1
        whole = turn.can.whole_forms
        with self.store.session() as s:
            for old in s.exec(select(Dialog).where(Dialog.person_id == turn.person_id)):
                if not whole or old.flow == flow_id:
                    s.delete(old)  # whole forms of other kinds may still be open alongside
            s.add(
                Dialog(
                    person_id=turn.person_id,
                    flow=flow_id,
                    state={
                        "ctx": context.to_dict(),
                        "i": index,
                        "values": values,
                        "whole": whole,
                    },
                    updated_at=self.store.now(),
                )
            )
        intro = [say(*notices)] if notices else []
        if whole:
            filled = tuple(
                replace(i, initial=values[i.id]) if values.get(i.id) else i for i in form.inputs
            )
            head = Reply((replace(form, inputs=filled),), summary=form.title)
            return [*intro, head]
        lead = [Text(f"*{form.title}*")] + ([Text(form.context)] if form.context else [])
        lead.append(Text(FORM_RULES))
        return [*intro, Reply(tuple(lead), summary=form.title), *self.ask(form, index)]

    @staticmethod
    def ask(form: Form, index: int) -> list[Reply]:
        """A form's question `index`, as the console asks it."""
        field = form.inputs[index]
        lines = [f"({index + 1}/{len(form.inputs)}) {field.to_text()}"]
        if field.initial:
            # a choice shows its label ("Retrospect"), not the value kept ("retrospect")
            shown = next((c.label for c in field.choices if c.value == field.initial), None)
            lines.append(
                f"Your answer so far: {shown or field.initial}\n"
                "(Press Enter or type `skip` to keep it.)"
            )
        elif not field.required:
            lines.append("(Press Enter or type `skip` to leave it out.)")
        return [say(*lines)]

    # --- one question at a time ----------------------------------------------------------

    def answer(self, turn: Turn, dialog: Dialog, text: str) -> list[Reply]:
        """The next line of a step-by-step form: an answer, a form word or a command."""
        flow = self.flows.get(dialog.flow)
        state = dict(dialog.state)
        values: dict[str, str] = dict(state.get("values", {}))
        index: int = state.get("i", 0)
        low = text.lower()
        if flow is None or low in ("cancel", "stop", "quit"):  # FORM_WORDS that end a form
            self.end(dialog)
            kept = flow is not None and flow.commits_each_field
            note = " What you had already answered is kept." if kept else ""
            return [say(f"Stopped. Nothing more was saved.{note}")]
        ctx = self.context(flow, state.get("ctx", {}))
        form = flow.form(turn, ctx)
        field = form.inputs[index]
        replies: list[Reply] = []
        literal = unquote(text)
        if literal is not None and (
            literal.lower() in FORM_WORDS or self.router.command_for(turn, literal) is not None
        ):
            text, low = literal, ""  # a quoted command (or `skip`…) is an answer, taken literally
        elif self.router.command_for(turn, text) is not None:
            return self._command_in_form(turn, dialog, form, text, flow.commits_each_field)
        if low == "back":
            index = max(0, index - 1)
        elif (low == "skip" or not text) and (not field.required or field.initial):
            # Enter or `skip` keeps the earlier (or remembered) answer, or leaves it out.
            values[field.id] = field.initial
            index += 1
        elif low == "skip":
            return [say("This one is needed, so it can't be skipped."), *self.ask(form, index)]
        else:
            parsed = parse_field(field, text, turn.today())
            error = parsed.error or flow.check(turn, ctx, field.id, parsed.value, values)
            if error:
                return [say(error), *self.ask(form, index)]
            values[field.id] = parsed.value
            flow.on_field(turn, ctx, field.id, parsed.value)
            if parsed.notice:
                replies.append(say(parsed.notice))
            if parsed.understood:
                replies.append(say(f"Understood: {parsed.understood}."))
            early = flow.finish_early(turn, ctx, field.id, parsed.value)
            if early is not None:  # e.g. coursework: signposted at once, not after 9 more
                self.end(dialog)
                return [*replies, *early]
            index += 1
        if index >= len(form.inputs):
            self.end(dialog)
            return [*replies, *self.submit(turn, dialog.flow, values, ctx)]
        with self.store.session() as s:
            row = s.get(Dialog, dialog.id)
            if row is not None:
                row.state = {"ctx": ctx.to_dict(), "i": index, "values": values}
                row.updated_at = self.store.now()
        form = flow.form(turn, ctx)
        return [*replies, *self.ask(form, index)]

    def _command_in_form(
        self, turn: Turn, dialog: Dialog, form: Form, text: str, kept: bool
    ) -> list[Reply]:
        """A command typed mid-form runs; the form waits, unless the command started another."""
        replies = self.router.route(turn, text)
        still = self.dialog(turn.person_id)
        if still is not None and still.id == dialog.id:
            back = say(f"Back to *{form.title}* — `{text}` was not saved as an answer.")
            return [*replies, back, *self.ask(form, still.state.get("i", 0))]
        note = " What you had already answered is kept." if kept else ""
        return [say(f"You left *{form.title}* to run `{text}`.{note}"), *replies]

    # --- whole forms ---------------------------------------------------------------------

    def submit_whole(self, turn: Turn, flow_id: str, values: Mapping[str, str]) -> list[Reply]:
        """A form submitted whole: its context is the one kept when it was shown, never sent."""
        with self.store.session() as s:
            dialog = s.exec(
                select(Dialog).where(Dialog.person_id == turn.person_id, Dialog.flow == flow_id)
            ).first()
        if dialog is None:
            return [say("That form has expired or was already sent. Please start again.")]
        replies = self.submit(turn, flow_id, values, dialog.state.get("ctx", {}))
        if not any(r.errors for r in replies):
            self.end(dialog)
        return replies

    def submit(
        self,
        turn: Turn,
        flow_id: str,
        values: Mapping[str, str],
        ctx: Context | Mapping[str, Any],
    ) -> list[Reply]:
        """Validate a whole form (as a rich platform submits it) and commit it."""
        flow = self.flows.get(flow_id)
        if flow is None:
            return [say("That form has expired. Please start again.")]
        context = self.context(flow, ctx)
        form = flow.form(turn, context)
        clean: dict[str, str] = {}
        errors: list[tuple[str, str]] = []
        notices: list[str] = []
        today = turn.today()
        for field in form.inputs:
            raw = values.get(field.id, "")
            parsed = parse_field(field, raw, today)
            error = parsed.error or (
                flow.check(turn, context, field.id, parsed.value, clean) if parsed.value else ""
            )
            if error:
                errors.append((field.id, error))
                continue
            clean[field.id] = parsed.value  # dates are said back in the flow's confirmation
            if parsed.notice:
                notices.append(parsed.notice)
        if errors:
            labels = {i.id: i.label for i in form.inputs}
            lines = [f"{labels[fid].rstrip('.?:')}: {message}" for fid, message in errors]
            return [
                Reply(
                    tuple(Text(x) for x in ["Please fix these and submit again:", *lines]),
                    summary="Please fix the form",
                    errors=tuple(errors),
                )
            ]
        replies = flow.submit(turn, context, clean)
        return [say(*sorted(set(notices))), *replies] if notices else replies
