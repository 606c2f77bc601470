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

from bot import inbox
from bot.clock import Clock
from bot.config import Settings
from bot.content import Catalogue
from bot.conversations import Conversations, install_key, remember_conversation
from bot.directory import Directory, NoDirectory
from bot.features.finder import ToolFinder
from bot.features.greeting import greeting
from bot.features.help import small_talk
from bot.forms import Context, FormFlow, FormRunner
from bot.inbox import Prepare, Receiver, Shaper
from bot.messages import Inbound, PersonRef, Reply, say
from bot.outbox import subject_of_thread, take_for_person
from bot.pii import guard_inbound, guard_reply, visible_notice
from bot.platforms import Platforms
from bot.store import Store
from bot.store.models import InboxItem, Person
from bot.turn import Command, Turn
from bot.worktime import learn_timezone

log = logging.getLogger(__name__)
T = TypeVar("T")
ThreadHandler = Callable[[Turn, int, str], list[Reply]]
# What kmb does when told something that is not said to it: installed, removed, home opened…
EventHandler = Callable[["Engine", Inbound], list[Reply]]
RETRIES = 3
# A concurrent writer won a race (a reference number, a first contact): run the turn again.
RETRYABLE = (IntegrityError, OperationalError, PendingRollbackError)
APOLOGY = say(
    "Sorry — something went wrong on my side and nothing was saved. Please try again in a moment."
)


def _prune_inbox(engine: Engine) -> int:
    return inbox.prune(engine.store)


class _Rejected(Exception):
    """A form came back with errors: roll back, answer with them."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__("form rejected")
        self.replies = replies


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

    EVENTS = frozenset({"installed", "uninstalled", "home", "shortcut"})

    def __init__(
        self, store: Store, catalogue: Catalogue, clock: Clock, settings: Settings | None = None
    ) -> None:
        from bot.features import register_all

        self.store = store
        self.catalogue = catalogue
        self.clock = clock
        self.settings = settings or Settings()
        self.commands: list[Command] = []
        self.forms = FormRunner(store, self)
        self.thread_handlers: dict[str, ThreadHandler] = {}
        self.event_handlers: dict[str, EventHandler] = {}
        self._references: dict[str, Conversations] = {}
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

    def flow(self, flow: FormFlow[Any]) -> None:
        """Add a form flow."""
        self.forms.add(flow)

    def every(self, name: str, run: Callable[[Engine], object], every_s: float) -> None:
        """Repeat idempotent housekeeping (e.g. the enquiry promises sweep)."""
        self.periodic.append(Periodic(name, run, every_s))

    def thread(self, kind: str, handler: ThreadHandler) -> None:
        """Handle messages in threads under kmb's posts about `kind` (e.g. `enquiry`)."""
        self.thread_handlers[kind] = handler

    def on(self, kind: str, handler: EventHandler) -> None:
        """Handle an inbound of a kind that is not a chat turn (`installed`, `home`, …)."""
        self.event_handlers[kind] = handler

    def references(self, platform: str) -> Conversations:
        """A platform's stored conversation references (one instance per platform)."""
        found = self._references.get(platform)
        if found is None:
            found = self._references[platform] = Conversations(self.store, platform, self.workers)
        return found

    # --- the front door ----------------------------------------------------------------

    @staticmethod
    def named(inbound: Inbound) -> Inbound:
        """The inbound with the event id the core gives it: a personal install is one event
        however many times the platform reports it (one welcome per install)."""
        conv = inbound.conversation
        if inbound.kind == "installed" and conv.kind == "personal":
            return replace(inbound, event_id=install_key(conv.id))
        return inbound

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
        inbound = self.named(inbound)
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
        new = await self.receiver.receive(self.named(inbound), route)
        if new:
            for callback in self.on_inbound:
                callback()
        return new

    def process_sync(
        self, item_id: int, inbound: Inbound, route: Mapping[str, Any], notice: str = ""
    ) -> bool:
        """Run one inbox row as a turn: its effects, its replies (as outbox rows) and its done
        marker commit together. False if another worker had it, or it failed (left pending)."""
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
        handler = self.event_handlers.get(inbound.kind)
        if handler is not None:
            return handler(self, inbound)
        if inbound.kind in self.EVENTS:
            return []  # nothing registered for it (e.g. no home view in this build)
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
            return self.forms.submit_whole(turn, inbound.action, dict(inbound.value))
        text = " ".join((inbound.text or "").split())
        if inbound.kind == "button" and inbound.action:
            text = inbound.action
        # Platforms that show forms whole submit them whole; the others answer line by line.
        dialog = None if turn.can.whole_forms else self.forms.dialog(turn.person_id)
        if dialog is not None:
            return self.forms.answer(turn, dialog, text)
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

    # --- threads -------------------------------------------------------------------------

    def _thread(self, inbound: Inbound) -> list[Reply] | None:
        """A message in a thread under one of kmb's posts goes to that post's feature, unless
        it is a chat word said to kmb in a channel (`@kmb help` under a card is a command).

        The one place this is decided, for every platform: adapters only say what the
        platform said (the thread, whether kmb was @mentioned); the lookup runs once.
        """
        conv = inbound.conversation
        if inbound.kind != "message" or not conv.thread:
            return None
        if inbound.addressed and conv.kind != "personal" and self.is_chat_word(inbound.text):
            return None
        with self.store.session() as s:
            subject = subject_of_thread(self.store, s, conv)
        kind, _, ident = subject.partition(":")
        handler = self.thread_handlers.get(kind)
        if handler is None or not ident.isdigit():
            return None
        return handler(self.turn_for(inbound), int(ident), " ".join(inbound.text.split()))

    def is_chat_word(self, text: str) -> bool:
        """True if the text starts with one of kmb's chat words."""
        head = " ".join(text.lower().split()[:3])
        return any(head == c.words or head.startswith(c.words + " ") for c in self.commands)

    # --- forms (the runner keeps their state in a row) ------------------------------------

    @property
    def flows(self) -> dict[str, FormFlow[Any]]:
        """The registered form flows, by id."""
        return self.forms.flows

    def start_form(
        self,
        turn: Turn,
        flow_id: str,
        ctx: Context | Mapping[str, Any],
        prefill: Mapping[str, str] | None = None,
    ) -> list[Reply]:
        """Begin a form: whole where the platform shows forms whole, else its first question."""
        return self.forms.start(turn, flow_id, ctx, prefill)

    def submit_form(
        self,
        turn: Turn,
        flow_id: str,
        values: Mapping[str, str],
        ctx: Context | Mapping[str, Any],
    ) -> list[Reply]:
        """Validate a whole form (as a rich platform submits it) and commit it."""
        return self.forms.submit(turn, flow_id, values, ctx)

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

    # --- greeting ------------------------------------------------------------------------

    def greet(self, ref: PersonRef) -> list[Reply]:
        """What a person should see when they open kmb: messages waiting and things to do."""
        return [guard_reply(r) for r in greeting(self, ref)]

    def greet_pending(self, ref: PersonRef) -> list[Reply]:
        """Messages queued for a person since they last looked (console delivery)."""
        with self.store.session() as s:
            person_id = s.exec(
                select(Person.id).where(
                    Person.platform == ref.platform, Person.external_id == ref.external_id
                )
            ).first()
        if person_id is None:
            return []
        return [guard_reply(r) for r in take_for_person(self.store, person_id)]

    async def greeting(self, ref: PersonRef) -> list[Reply]:
        """`greet`, off the event loop."""
        return await self.off_loop(lambda: self.greet(ref))

    async def pending(self, ref: PersonRef) -> list[Reply]:
        """`greet_pending`, off the event loop."""
        return await self.off_loop(lambda: self.greet_pending(ref))

    async def off_loop(self, work: Callable[[], T]) -> T:
        """Database work for an adapter, on the turn threads (never on the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(self.workers, work)

    def roles_of(self, person: Person) -> frozenset[str]:
        """A person's stored roles plus any held for this session only."""
        extra = self.session_roles.get((person.platform, person.external_id), frozenset())
        return frozenset(person.roles.split(",")) | extra

    def person(self, ref: PersonRef) -> Person:
        """The stored person for a reference (created on first contact)."""
        with self.store.session() as s:
            return self.store.person(s, ref.platform, ref.external_id, ref.display_name)
