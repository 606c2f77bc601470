"""The engine: one front door, `handle(Inbound) -> [Reply]`, for every adapter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlmodel import select

from bot import inbox
from bot.chatwords import ChatWords
from bot.clock import Clock
from bot.config import Settings
from bot.content import Catalogue
from bot.conversations import Conversations, install_key, remember_conversation
from bot.directory import Directory, NoDirectory
from bot.features.finder import ToolFinder
from bot.features.greeting import greeting
from bot.forms import Context, FormFlow, FormRunner
from bot.inbox import Prepare, Receiver, Shaper
from bot.messages import Inbound, PersonRef, Reply, say
from bot.outbox import subject_of_thread, take_for_person
from bot.pii import guard_inbound, guard_reply, visible_notice
from bot.platforms import Platforms
from bot.store import Store
from bot.store.models import Person
from bot.transactions import Transactions
from bot.turn import Command, Turn
from bot.worktime import learn_timezone

log = logging.getLogger(__name__)
T = TypeVar("T")
ThreadHandler = Callable[[Turn, int, str], list[Reply]]
# What kmb does when told something that is not said to it: installed, removed, home opened…
EventHandler = Callable[["Engine", Inbound], list[Reply]]


def _prune_inbox(engine: Engine) -> int:
    return inbox.prune(engine.store)


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
    """The front door: routes each inbound (a chat word, a form, a thread reply, an install,
    the home view…) to the feature that handles it. Forms run in `bot.forms`, chat words in
    `bot.chatwords`, each turn's transaction in `bot.transactions`."""

    EVENTS = frozenset({"installed", "uninstalled", "home", "shortcut"})

    def __init__(
        self, store: Store, catalogue: Catalogue, clock: Clock, settings: Settings | None = None
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.clock = clock
        self.settings = settings or Settings()
        self.words = ChatWords()
        self.forms = FormRunner(store, self.words)
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
        self.transactions = Transactions(store, self._turn, self.shapers)
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
        self.every("inbox-prune", _prune_inbox, 3600.0)

    # --- registration ------------------------------------------------------------------

    def command(self, command: Command) -> None:
        """Add a chat word."""
        self.words.add(command)

    @property
    def commands(self) -> list[Command]:
        """The registered chat words, longest first."""
        return self.words.commands

    def route(self, turn: Turn, text: str) -> list[Reply]:
        """Run the command the text names (or answer that nothing does)."""
        return self.words.route(turn, text)

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
        """`handle`, on the calling thread, as one transaction (see `bot.transactions`)."""
        return self.transactions.handle(inbound, shape)

    def process_sync(
        self, item_id: int, inbound: Inbound, route: Mapping[str, Any], notice: str = ""
    ) -> bool:
        """Run one inbox row as a turn, as one transaction (see `bot.transactions`)."""
        return self.transactions.process(item_id, inbound, route, notice)

    def park_inbound(
        self, item_id: int, inbound: Inbound | None, route: Mapping[str, Any], error: str
    ) -> None:
        """Give up on an inbox row that keeps failing: mark it failed and tell the person."""
        self.transactions.park(item_id, inbound, route, error)

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

    async def receive(self, inbound: Inbound, route: Mapping[str, Any] | None = None) -> bool:
        """Save an inbound in the durable inbox before the platform is acknowledged; False if
        it was received before. The inbox workers run it (see `bot.inbox`)."""
        new = await self.receiver.receive(self.named(inbound), route)
        if new:
            for callback in self.on_inbound:
                callback()
        return new

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
        if inbound.addressed and conv.kind != "personal" and self.words.is_chat_word(inbound.text):
            return None
        with self.store.session() as s:
            subject = subject_of_thread(self.store, s, conv)
        kind, _, ident = subject.partition(":")
        handler = self.thread_handlers.get(kind)
        if handler is None or not ident.isdigit():
            return None
        return handler(self.turn_for(inbound), int(ident), " ".join(inbound.text.split()))

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
