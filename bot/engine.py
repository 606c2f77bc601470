"""The engine: one front door, `handle(Inbound) -> [Reply]`, for every adapter."""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError
from sqlmodel import select

from bot.clock import Clock
from bot.config import Settings
from bot.content import Catalogue
from bot.directory import Directory, NoDirectory
from bot.fields import parse_field
from bot.inbox import Prepare, Receiver, Shaper
from bot.messages import Form, Inbound, PersonRef, Reply, Text, say
from bot.pii import guard_inbound, guard_reply, visible_notice
from bot.platforms import Platforms
from bot.store import Store
from bot.store.models import Dialog, Person
from bot.turn import Command, FormFlow, Turn
from bot.worktime import learn_timezone

log = logging.getLogger(__name__)
T = TypeVar("T")
ThreadHandler = Callable[[Turn, int, str], list[Reply]]
RETRIES = 3
# A concurrent writer won a race (a reference number, a first contact): run the turn again.
RETRYABLE = (IntegrityError, OperationalError, PendingRollbackError)
APOLOGY = say(
    "Sorry — something went wrong on my side and nothing was saved. Please try again in a moment."
)


def _prune_inbox(engine: Engine) -> int:
    from bot import inbox

    return inbox.prune(engine.store)


class _Rejected(Exception):
    """A form came back with errors: roll back, answer with them."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__("form rejected")
        self.replies = replies


# One rule for every step-by-step form, told in its first message: a command alone on a line is
# a command (it is never saved as an answer), and quotes make it an answer.
FORM_RULES = (
    "Type `cancel` at any time to stop, `back` to go back a question. A command alone on a line "
    "(such as `help`) runs that command and is not saved as an answer; to answer with that word, "
    'put it in quotes ("help").'
)
FORM_WORDS = frozenset({"cancel", "stop", "quit", "back", "skip"})
QUOTES = (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"))


def unquote(text: str) -> str | None:
    """The words inside quotes, when the whole answer is quoted (an answer taken literally)."""
    for left, right in QUOTES:
        if len(text) > 2 and text.startswith(left) and text.endswith(right):
            return text[len(left) : -len(right)].strip()
    return None


def commits_each(flow: object) -> bool:
    """True for forms that save each answer as it is given (a retro's answers)."""
    return bool(getattr(flow, "commits_each_field", False))


@dataclass(frozen=True)
class Periodic:
    """Work to repeat (idempotent, safe from any process): its name, function and interval."""

    name: str
    run: Callable[[Engine], object]
    every_s: float


def files_notice(inbound: Inbound) -> Reply:
    """What happened to files sent with a message: kmb reads words only and passes no file on."""
    names = ", ".join(f"“{n[:60]}”" for n in inbound.files[:3])
    if len(inbound.files) > 3:
        names += f" and {len(inbound.files) - 3} more"
    if not inbound.text.strip():
        return say(
            f"I can't open files, so I didn't read {names} — and kmb does not pass files on, "
            "so nobody else received it. Tell me in words what you need, or type `help`."
        )
    return say(
        f"I read your message, not the file: kmb does not pass files on, so {names} stayed "
        "where you posted it and nobody else received it. To share it, send a link to where "
        "it is stored."
    )


class Engine:
    """Routes chat words to features and runs multi-step forms whose state is a row."""

    def __init__(
        self, store: Store, catalogue: Catalogue, clock: Clock, settings: Settings | None = None
    ) -> None:
        from bot.features.finder import ToolFinder
        from bot.features.registry import register_all

        self.store = store
        self.catalogue = catalogue
        self.clock = clock
        self.settings = settings or Settings()
        self.commands: list[Command] = []
        self.flows: dict[str, FormFlow] = {}
        self.thread_handlers: dict[str, ThreadHandler] = {}
        self.on_change: list[Callable[[], None]] = []  # e.g. wake the outbox delivery
        self.on_turn: list[Callable[[Inbound, float], None]] = []  # e.g. the latency histogram
        self.on_inbound: list[Callable[[], None]] = []  # wake the inbox workers
        # Per platform, set by adapters: how a turn's replies are addressed in the outbox, and
        # what to add to an inbound before its turn runs (e.g. the person's display name).
        self.shapers: dict[str, Shaper] = {}
        self.platforms = Platforms()  # what each platform can do, declared by its adapter
        self.preparers: dict[str, Prepare] = {}
        self.receiver = Receiver(store)
        self.periodic: list[Periodic] = []  # housekeeping the server runs every few minutes
        # Roles held for this process only (`kmb chat --role`), never written to the database
        self.session_roles: dict[tuple[str, str], frozenset[str]] = {}
        self.finder = ToolFinder(catalogue)
        # Who is in a channel, where someone is: the adapters' directory, set by the process
        # that mounts them (serve, worker). Asked from turns on the loop that owns its sockets.
        self.directory: Directory = NoDirectory()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Turns run on a small pool, off the event loop so it is always free to acknowledge the
        # platforms on time. SQLite takes one writer at a time, so one thread; PostgreSQL can
        # overlap a few turns' database waits.
        workers = self.settings.kmb_turn_workers or (1 if store.url.startswith("sqlite") else 4)
        self.workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmb-turn")
        register_all(self)
        self.every("inbox-prune", _prune_inbox, 3600.0)

    # --- registration ------------------------------------------------------------------

    def command(self, command: Command) -> None:
        """Add a chat word."""
        self.commands.append(command)
        self.commands.sort(key=lambda c: -len(c.words.split()))

    def flow(self, flow: FormFlow) -> None:
        """Add a form flow."""
        self.flows[flow.id] = flow

    def every(self, name: str, run: Callable[[Engine], object], every_s: float) -> None:
        """Repeat idempotent housekeeping (e.g. the enquiry promises sweep)."""
        self.periodic.append(Periodic(name, run, every_s))

    def thread(self, kind: str, handler: ThreadHandler) -> None:
        """Handle messages in threads under kmb's posts about `kind` (e.g. `enquiry`)."""
        self.thread_handlers[kind] = handler

    # --- the front door ----------------------------------------------------------------

    async def handle(self, inbound: Inbound, shape: Shaper | None = None) -> list[Reply]:
        """Handle one inbound event now and return its replies (synchronous answers: a modal
        submitted, a card invoked, the console). A repeat of the same event does nothing.

        The work (database and search) runs in a worker thread so the event loop stays free to
        acknowledge other requests within the platforms' deadlines. With `shape`, replies that
        go somewhere else than the answer (follow-up messages) are queued in the outbox, in the
        same transaction as the turn's effects and its dedupe key.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(self.workers, self.handle_sync, inbound, shape)
        finally:
            for callback in self.on_change:
                callback()
            elapsed = time.perf_counter() - started
            for observe in self.on_turn:
                observe(inbound, elapsed)

    def handle_sync(self, inbound: Inbound, shape: Shaper | None = None) -> list[Reply]:
        """`handle`, on the calling thread: the dedupe key, the effects and any outbox rows
        commit together, or nothing does (and the platform's retry can succeed)."""
        from bot import inbox

        for attempt in range(RETRIES):
            try:
                with self.store.unit() as s:
                    prefix = f"turn:{uuid.uuid4().hex}"
                    if inbound.event_id:
                        item = inbox.record(self.store, s, inbound.platform, inbound.event_id)
                        if item is None:
                            return self.already_handled(inbound)
                        prefix = f"inbox:{item}"
                    replies = self._turn(inbound)
                    if inbound.kind == "form" and any(r.errors for r in replies):
                        raise _Rejected(replies)  # keep nothing: a corrected form may follow
                    if shape is not None:
                        inbox.queue_replies(self.store, s, prefix, shape(inbound, {}, replies))
                    return replies
            except _Rejected as rejected:
                return rejected.replies
            except RETRYABLE:
                if attempt + 1 < RETRIES:
                    continue  # a concurrent writer (e.g. the same reference number): once more
                log.exception("failed handling %s", inbound.kind)
            except Exception:
                log.exception("failed handling %s", inbound.kind)
                break
        return [APOLOGY]

    def _turn(self, inbound: Inbound, notice: str = "") -> list[Reply]:
        """Dispatch behind the PII guard: patient identifiers are removed from what came in
        before any feature sees it (so none can be searched for, truncated into a fragment or
        echoed), the person is told, and every reply is guarded again on its way out.

        `notice`: what the guard said when the inbound was saved in the inbox (it was guarded
        there, so guarding it again finds nothing to tell)."""
        inbound, found = guard_inbound(inbound)
        notice = notice or found
        replies = self._dispatch(inbound)
        if notice and not any(visible_notice(r.to_text()) for r in replies):
            replies = [say(notice), *replies]
        return [guard_reply(r) for r in replies]

    def already_handled(self, inbound: Inbound) -> list[Reply]:
        """What a repeat of something already handled gets: nothing, except a form sent twice,
        which is told so (its first submission was saved)."""
        if inbound.kind == "form":
            return [
                say(
                    "This form was already sent: it was saved when you first submitted it, "
                    "so nothing was sent twice."
                )
            ]
        return []

    async def receive(self, inbound: Inbound, route: Mapping[str, Any] | None = None) -> bool:
        """Save an inbound in the durable inbox before the platform is acknowledged; False if
        it was received before. The inbox workers run it (see `bot.inbox`)."""
        new = await self.receiver.receive(inbound, route)
        if new:
            for callback in self.on_inbound:
                callback()
        return new

    def process_sync(
        self, item_id: int, inbound: Inbound, route: Mapping[str, Any], notice: str = ""
    ) -> bool:
        """Run one inbox row as a turn: its effects, its replies (as outbox rows) and its done
        marker commit together. False if another worker had it, or it failed (left pending)."""
        from bot import inbox

        shape = self.shapers.get(inbound.platform, inbox.default_shape)
        error = ""
        for attempt in range(RETRIES):
            try:
                with self.store.unit() as s:
                    if not inbox.take(self.store, s, item_id):
                        return False
                    replies = self._turn(inbound, notice)
                    queue = shape(inbound, route, replies)
                    inbox.queue_replies(self.store, s, f"inbox:{item_id}", queue)
                    return True
            except RETRYABLE as exc:
                error = f"{type(exc).__name__}: {exc}"
                if attempt + 1 < RETRIES:
                    continue
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                break
        log.error("failed handling inbox row %s (%s): %s", item_id, inbound.kind, error)
        if inbox.failed(self.store, item_id, error) >= inbox.MAX_ATTEMPTS:
            self.park_inbound(item_id, inbound, route, error)
        return False

    def park_inbound(
        self, item_id: int, inbound: Inbound | None, route: Mapping[str, Any], error: str
    ) -> None:
        """Give up on an inbox row that keeps failing: mark it failed and tell the person."""
        from bot import inbox
        from bot.store.models import InboxItem

        shape = self.shapers.get(inbound.platform, inbox.default_shape) if inbound else None
        with self.store.unit() as s:
            row = s.get(InboxItem, item_id)
            if row is None or row.status != "pending":
                return
            row.status, row.last_error = "failed", error[:500]
            if inbound is not None and shape is not None:
                inbox.queue_replies(
                    self.store, s, f"inbox:{item_id}:failed", shape(inbound, route, [APOLOGY])
                )

    def use_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop turns run from (and the adapters' connections live on)."""
        self._loop = loop

    def ask_directory(
        self, question: Callable[[Directory], Awaitable[T]], timeout: float
    ) -> T | None:
        """Ask the adapters' directory from a turn (a worker thread); None if it can't answer
        in time. A `DirectoryError` (the platform refused) is raised for the feature to explain.
        """
        loop = self._loop
        if loop is None or not loop.is_running() or isinstance(self.directory, NoDirectory):
            return None
        try:
            asyncio.get_running_loop()
            return None  # called on the event loop itself: waiting here would block it
        except RuntimeError:
            pass

        async def ask() -> T:
            return await asyncio.wait_for(question(self.directory), timeout)

        future = asyncio.run_coroutine_threadsafe(ask(), loop)
        try:
            return future.result(timeout + 1)
        except (TimeoutError, FutureTimeout):
            future.cancel()
            log.info("the directory did not answer within %.1f s", timeout)
            return None

    def turn_for(self, inbound: Inbound, args: str = "") -> Turn:
        """Identify the caller (creating them on first contact) and remember where they are."""
        from bot.outbox import remember_conversation

        ref = inbound.person
        with self.store.session() as s:
            person = self.store.person(s, ref.platform, ref.external_id, ref.display_name)
            if not person.reachable:
                person.reachable = True  # they talk to kmb again (unblocked, reinstalled)
            learn_timezone(person, ref)
            if inbound.conversation.kind == "personal":
                remember_conversation(self.store, s, person, inbound.conversation)
            assert person.id is not None
            return Turn(
                engine=self,
                inbound=inbound,
                person_id=person.id,
                display_name=person.display_name,
                roles=self.roles_of(person),
                args=args,
            )

    def _dispatch(self, inbound: Inbound) -> list[Reply]:
        conv = inbound.conversation
        said_in_thread = conv.thread and inbound.kind == "message"
        if said_in_thread and (not inbound.addressed or conv.kind == "personal"):
            threaded = self._thread(inbound)
            if threaded is not None:
                return [*threaded, files_notice(inbound)] if inbound.files else threaded
        if not inbound.addressed:
            return []  # overheard in a channel and not about anything of ours
        if inbound.files:
            if not inbound.text.strip():
                return [files_notice(inbound)]
            return [*self._dispatch_addressed(inbound), files_notice(inbound)]
        return self._dispatch_addressed(inbound)

    def _dispatch_addressed(self, inbound: Inbound) -> list[Reply]:
        turn = self.turn_for(inbound)
        if inbound.kind == "form" and inbound.action:
            return self._submit_whole(turn, inbound.action, dict(inbound.value))
        text = " ".join((inbound.text or "").split())
        if inbound.kind == "button" and inbound.action:
            text = inbound.action
        # Only the console asks forms question by question; rich platforms show them whole.
        dialog = self._dialog(turn.person_id) if inbound.platform == "console" else None
        if dialog is not None:
            return self._continue_dialog(turn, dialog, text)
        if not text:
            return [say("Type `help` to see what I can do, or `tool` followed by what you need.")]
        return self.route(turn, text)

    def route(self, turn: Turn, text: str) -> list[Reply]:
        """Run the command the text names."""
        low = text.lower()
        for cmd in self.commands:
            n = len(cmd.words.split())
            head = " ".join(low.split()[:n])
            if head == cmd.words:
                turn.args = " ".join(text.split()[n:])
                if cmd.role and not turn.has(cmd.role):
                    return [self.refusal(cmd)]
                return cmd.handler(turn)
        return self.small_talk(turn, text) or [self.not_understood(text, turn)]

    def small_talk(self, turn: Turn, text: str) -> list[Reply]:
        """Thanks, and a request for evidence in plain words, get a useful answer.

        A first word that is nearly a command ("lesons about sepsis research") is a typo, so
        it gets "did you mean" rather than small talk.
        """
        from bot.features.help import small_talk

        mine = [c.words for c in self.commands if not c.role or turn.has(c.role)]
        first = text.lower().split()[:1]
        if first and difflib.get_close_matches(first[0], mine, n=1, cutoff=0.8):
            return []
        return small_talk(turn, text)

    def refusal(self, cmd: Command) -> Reply:
        """A clear refusal for a privileged word."""
        return say(
            f"Sorry, `{cmd.words}` is for people with the {cmd.role} role. "
            "Ask your kmb admin if you need it. Type `help` for what you can do."
        )

    def not_understood(self, text: str, turn: Turn | None = None) -> Reply:
        """Never silence: the closest command the caller may run, and a pointer to help."""
        words = [
            c.words
            for c in self.commands
            if not c.hidden and (not c.role or (turn is not None and turn.has(c.role)))
        ]
        first = " ".join(text.lower().split()[:2])
        close = difflib.get_close_matches(
            first, words, n=1, cutoff=0.5
        ) or difflib.get_close_matches(text.lower().split()[0], words, n=1, cutoff=0.5)
        hint = (
            f" Did you mean `{close[0]}`?"
            if close
            else " To find a technique, try `tool` followed by what you need."
        )
        shown = text if len(text) <= 60 else text[:57] + "…"
        return say(f"I didn't understand “{shown}”.{hint} Type `help` to see everything I can do.")

    # --- dialogs (multi-step forms whose state is a row) ---------------------------------

    def _thread(self, inbound: Inbound) -> list[Reply] | None:
        """A message in a thread under one of kmb's posts goes to that post's feature."""
        from bot.outbox import subject_of_thread

        with self.store.session() as s:
            subject = subject_of_thread(self.store, s, inbound.conversation)
        kind, _, ident = subject.partition(":")
        handler = self.thread_handlers.get(kind)
        if handler is None or not ident.isdigit():
            return None
        return handler(self.turn_for(inbound), int(ident), " ".join(inbound.text.split()))

    def _dialog(self, person_id: int) -> Dialog | None:
        """The step-by-step form a person is in (whole forms shown on rich platforms aside)."""
        with self.store.session() as s:
            for row in s.exec(select(Dialog).where(Dialog.person_id == person_id)):
                if not row.state.get("whole"):
                    return row
        return None

    def _submit_whole(self, turn: Turn, flow_id: str, values: Mapping[str, str]) -> list[Reply]:
        """A form submitted whole: its context is the one kept when it was shown, never sent."""
        with self.store.session() as s:
            dialog = s.exec(
                select(Dialog).where(Dialog.person_id == turn.person_id, Dialog.flow == flow_id)
            ).first()
        if dialog is None:
            return [say("That form has expired or was already sent. Please start again.")]
        replies = self.submit_form(turn, flow_id, values, dialog.state.get("ctx", {}))
        if not any(r.errors for r in replies):
            self._end_dialog(dialog)
        return replies

    def start_form(
        self,
        turn: Turn,
        flow_id: str,
        ctx: Mapping[str, Any],
        prefill: Mapping[str, str] | None = None,
    ) -> list[Reply]:
        """Begin a form: rich platforms get the whole form, the console its first question."""
        flow = self.flows[flow_id]
        form = flow.form(turn, ctx)
        values: dict[str, str] = {}
        index = 0
        notices: list[str] = []
        today = turn.today()
        for field in form.inputs:
            raw = (prefill or {}).get(field.id)
            if raw is None:
                break
            parsed = parse_field(field, raw, today)
            if parsed.error or flow.check(turn, ctx, field.id, parsed.value):
                break
            values[field.id] = parsed.value
            if parsed.notice:
                notices.append(parsed.notice)
            if parsed.understood:
                notices.append(f"{field.label.rstrip('?.:')}: {parsed.understood}.")
            flow.on_field(turn, ctx, field.id, parsed.value)
            index += 1
        whole = turn.inbound.platform != "console"
        with self.store.session() as s:
            for old in s.exec(select(Dialog).where(Dialog.person_id == turn.person_id)):
                if not whole or old.flow == flow_id:
                    s.delete(old)  # whole forms of other kinds may still be open alongside
            s.add(
                Dialog(
                    person_id=turn.person_id,
                    flow=flow_id,
                    state={"ctx": dict(ctx), "i": index, "values": values, "whole": whole},
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
        return [*intro, Reply(tuple(lead), summary=form.title), *self._ask(form, index, values)]

    def _ask(self, form: Form, index: int, values: Mapping[str, str]) -> list[Reply]:
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

    def _continue_dialog(self, turn: Turn, dialog: Dialog, text: str) -> list[Reply]:
        flow = self.flows.get(dialog.flow)
        state = dict(dialog.state)
        ctx: dict[str, Any] = state.get("ctx", {})
        values: dict[str, str] = dict(state.get("values", {}))
        index: int = state.get("i", 0)
        low = text.lower()
        if flow is None or low in ("cancel", "stop", "quit"):  # FORM_WORDS that end a form
            self._end_dialog(dialog)
            kept = " What you had already answered is kept." if commits_each(flow) else ""
            return [say(f"Stopped. Nothing more was saved.{kept}")]
        form = flow.form(turn, ctx)
        field = form.inputs[index]
        replies: list[Reply] = []
        literal = unquote(text)
        if literal is not None and (
            literal.lower() in FORM_WORDS or self.command_for(turn, literal) is not None
        ):
            text, low = literal, ""  # a quoted command (or `skip`…) is an answer, taken literally
        elif self.command_for(turn, text) is not None:
            return self._command_in_form(turn, dialog, form, text, kept=commits_each(flow))
        if low == "back":
            index = max(0, index - 1)
        elif (low == "skip" or not text) and (not field.required or field.initial):
            # Enter or `skip` keeps the earlier (or remembered) answer, or leaves it out.
            values[field.id] = field.initial
            index += 1
        elif low == "skip":
            return [
                say("This one is needed, so it can't be skipped."),
                *self._ask(form, index, values),
            ]
        else:
            parsed = parse_field(field, text, turn.today())
            seen = {**ctx, "_values": values}
            error = parsed.error or flow.check(turn, seen, field.id, parsed.value)
            if error:
                return [say(error), *self._ask(form, index, values)]
            values[field.id] = parsed.value
            flow.on_field(turn, ctx, field.id, parsed.value)
            if parsed.notice:
                replies.append(say(parsed.notice))
            if parsed.understood:
                replies.append(say(f"Understood: {parsed.understood}."))
            finish = getattr(flow, "finish_early", None)
            early = finish(turn, ctx, field.id, parsed.value) if finish else None
            if early is not None:  # e.g. coursework: signposted at once, not after 9 more
                self._end_dialog(dialog)
                return [*replies, *early]
            index += 1
        if index >= len(form.inputs):
            self._end_dialog(dialog)
            return [*replies, *self.submit_form(turn, dialog.flow, values, ctx)]
        with self.store.session() as s:
            row = s.get(Dialog, dialog.id)
            if row is not None:
                row.state = {"ctx": ctx, "i": index, "values": values}
                row.updated_at = self.store.now()
        form = flow.form(turn, ctx)
        return [*replies, *self._ask(form, index, values)]

    def command_for(self, turn: Turn, text: str) -> Command | None:
        """The command a whole line names exactly (one the caller may run), if any."""
        low = " ".join(text.lower().split())
        return next(
            (
                c
                for c in self.commands
                if c.words == low and not c.hidden and (not c.role or turn.has(c.role))
            ),
            None,
        )

    def _command_in_form(
        self, turn: Turn, dialog: Dialog, form: Form, text: str, kept: bool
    ) -> list[Reply]:
        """A command typed mid-form runs; the form waits, unless the command started another."""
        replies = self.route(turn, text)
        still = self._dialog(turn.person_id)
        if still is not None and still.id == dialog.id:
            state = still.state
            back = say(f"Back to *{form.title}* — `{text}` was not saved as an answer.")
            return [*replies, back, *self._ask(form, state.get("i", 0), state.get("values", {}))]
        note = " What you had already answered is kept." if kept else ""
        return [say(f"You left *{form.title}* to run `{text}`.{note}"), *replies]

    def _end_dialog(self, dialog: Dialog) -> None:
        with self.store.session() as s:
            row = s.get(Dialog, dialog.id)
            if row is not None:
                s.delete(row)

    def submit_form(
        self, turn: Turn, flow_id: str, values: Mapping[str, str], ctx: Mapping[str, Any]
    ) -> list[Reply]:
        """Validate a whole form (as a rich platform submits it) and commit it."""
        flow = self.flows.get(flow_id)
        if flow is None:
            return [say("That form has expired. Please start again.")]
        ctx = dict(ctx)
        form = flow.form(turn, ctx)
        clean: dict[str, str] = {}
        errors: list[tuple[str, str]] = []
        notices: list[str] = []
        today = turn.today()
        for field in form.inputs:
            raw = values.get(field.id, "")
            parsed = parse_field(field, raw, today)
            seen = {**ctx, "_values": clean}
            error = parsed.error or (
                flow.check(turn, seen, field.id, parsed.value) if parsed.value else ""
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
        replies = flow.submit(turn, ctx, clean)
        return [say(*sorted(set(notices))), *replies] if notices else replies

    # --- greeting ------------------------------------------------------------------------

    def greet(self, ref: PersonRef) -> list[Reply]:
        """What a person should see when they open kmb: messages waiting and things to do."""
        from bot.features.greeting import greeting

        return [guard_reply(r) for r in greeting(self, ref)]

    def greet_pending(self, ref: PersonRef) -> list[Reply]:
        """Messages queued for a person since they last looked (console delivery)."""
        from bot.outbox import take_for_person

        with self.store.session() as s:
            person_id = s.exec(
                select(Person.id).where(
                    Person.platform == ref.platform, Person.external_id == ref.external_id
                )
            ).first()
        if person_id is None:
            return []
        return [guard_reply(r) for r in take_for_person(self.store, person_id)]

    def home(self, ref: PersonRef) -> Reply:
        """A person's home view: prompts waiting, open enquiries, projects, quick actions."""
        from bot.features.home import home

        return guard_reply(home(self, ref))

    def roles_of(self, person: Person) -> frozenset[str]:
        """A person's stored roles plus any held for this session only."""
        extra = self.session_roles.get((person.platform, person.external_id), frozenset())
        return frozenset(person.roles.split(",")) | extra

    def person(self, ref: PersonRef) -> Person:
        """The stored person for a reference (created on first contact)."""
        with self.store.session() as s:
            return self.store.person(s, ref.platform, ref.external_id, ref.display_name)
