"""`admin handoff` (turn a team's hand-off on or off in chat), `admin mail` (mail kmb held back),
and the hand-off's health for `kmb outbox` / `admin outbox`."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlmodel import col, func, select

from bot.content.models import Handoff
from bot.features.enquiries import library
from bot.handoff.imap import CURSOR
from bot.handoff.teams import handoff_of, set_handoff
from bot.messages import Reply, say
from bot.pii import guard
from bot.store import Store
from bot.store.models import Enquiry, HandoffMail, OutboxMessage
from bot.turn import Command, Turn

if TYPE_CHECKING:
    from bot.engine import Engine

USAGE = (
    "Usage: `admin handoff <team> email <queue address>`, "
    "`admin handoff <team> libanswers <site> <queue id> [queue address]` or "
    "`admin handoff <team> off`."
)


def _describe(h: Handoff | None) -> str:
    if h is None:
        return "its channel only"
    if h.kind == "email":
        return f"email to {h.address}"
    return f"LibAnswers queue {h.queue_id} at {h.site}" + (f" ({h.address})" if h.address else "")


def handoff(turn: Turn) -> list[Reply]:
    """`admin handoff TEAM email ADDRESS | libanswers SITE QUEUE_ID [ADDRESS] | off`."""
    words = turn.args.split()
    teams = {t.slug: t for t in library.library(turn.engine).teams}
    if not words:
        lines = [f"• {slug}: {_describe(handoff_of(turn.engine, slug))}" for slug in teams]
        return [
            say("Where each team's new enquiries go besides chat:\n" + "\n".join(lines), USAGE)
        ]
    slug = words[0].lower()
    if slug not in teams:
        return [say(f"There is no library team “{slug[:40]}”. Teams: {', '.join(teams)}.")]
    kind = words[1].lower() if len(words) > 1 else ""
    try:
        if kind == "off" and len(words) == 2:
            chosen = None
        elif kind == "email" and len(words) == 3:
            chosen = Handoff(kind="email", address=words[2])
        elif kind == "libanswers" and len(words) in (4, 5) and words[3].isdigit():
            address = words[4] if len(words) == 5 else ""
            chosen = Handoff(
                kind="libanswers", site=words[2], queue_id=int(words[3]), address=address
            )
        else:
            return [say(USAGE)]
    except ValidationError as exc:
        problem = "; ".join(str(e["msg"]) for e in exc.errors())
        return [say(f"That hand-off can't be used: {problem[:200]}.", USAGE)]
    set_handoff(turn.engine, slug, chosen, turn.person_id)
    missing = ""
    settings = turn.engine.settings
    if chosen is not None and chosen.kind == "email" and not settings.kmb_smtp_url:
        missing = " KMB_SMTP_URL is not set yet, so the mail waits in the outbox until it is."
    if (
        chosen is not None
        and chosen.kind == "libanswers"
        and not settings.kmb_libanswers_client_id
    ):
        missing = " KMB_LIBANSWERS_CLIENT_ID is not set yet, so tickets wait in the outbox."
    if chosen is not None and not (settings.kmb_mail_from and settings.kmb_imap_url):
        missing += (
            " KMB_MAIL_FROM and KMB_IMAP_URL are not both set, so the library's replies can't "
            "come back into chat yet."
        )
    return [say(f"New enquiries for {teams[slug].name}: {_describe(chosen)}.{missing}")]


def mail(turn: Turn) -> list[Reply]:
    """`admin mail`: mail kmb read but did not relay, with why; `admin mail dismiss ID`."""
    words = turn.args.split()
    store = turn.engine.store
    if words[:1] == ["dismiss"] and len(words) == 2 and words[1].isdigit():
        with store.session() as s:
            row = s.get(HandoffMail, int(words[1]))
            if row is None or row.status != "held":
                return [say(f"Mail {words[1]} isn't held, so there is nothing to dismiss.")]
            row.status, row.text = "dismissed", ""  # its Message-ID stays: read once
            store.audit(s, turn.person_id, "admin.mail.dismiss", {"mail": row.id})
        return [say(f"Mail {words[1]} dismissed.")]
    if words:
        return [say("Usage: `admin mail` or `admin mail dismiss <id>`.")]
    with store.session() as s:
        held = s.exec(
            select(HandoffMail)
            .where(HandoffMail.status == "held")
            .order_by(col(HandoffMail.id).desc())
            .limit(20)
        ).all()
        refs = {
            e.id: e.reference
            for e in s.exec(
                select(Enquiry).where(col(Enquiry.id).in_([m.enquiry_id for m in held]))
            ).all()
        }
    if not held:
        return [say("No mail is held: everything kmb read was relayed.", *mailbox_health(store))]
    lines = [
        f"#{m.id} {m.created_at:%d %b %H:%M} from {m.address} "
        f"({refs.get(m.enquiry_id, 'no enquiry')}): “{guard(m.subject).text[:80]}” — "
        f"held because {m.reason}"
        for m in held
    ]
    return [
        say(
            "Mail kmb read but did not relay (newest first). Deal with it in the mailbox, then "
            "`admin mail dismiss <id>`:\n" + "\n".join(lines),
            *mailbox_health(store),
        )
    ]


def queue_health(store: Store) -> list[str]:
    """One line per library queue that has had anything: waiting, parked, last delivered."""
    with store.session() as s:
        open_rows = s.exec(
            select(OutboxMessage.platform, OutboxMessage.conversation, OutboxMessage.status)
            .where(col(OutboxMessage.platform).in_(("email", "libanswers")))
            .where(OutboxMessage.status != "sent")
        ).all()
        last = s.exec(
            select(OutboxMessage.platform, OutboxMessage.conversation, OutboxMessage.sent_at)
            .where(col(OutboxMessage.platform).in_(("email", "libanswers")))
            .where(OutboxMessage.status == "sent")
            .order_by(col(OutboxMessage.sent_at).desc())
            .limit(200)
        ).all()
    queues: dict[tuple[str, str], Counter[str]] = {}
    for platform, conversation, status in open_rows:
        queues.setdefault((platform, str(conversation.get("id", ""))), Counter())[status] += 1
    sent_at: dict[tuple[str, str], Any] = {}
    for platform, conversation, when in last:
        sent_at.setdefault((platform, str(conversation.get("id", ""))), when)
        queues.setdefault((platform, str(conversation.get("id", ""))), Counter())
    lines = []
    for (platform, queue), counts in sorted(queues.items()):
        shown = queue.replace("@", " at ", 1) if platform == "libanswers" else queue
        parts = [f"{n} {status}" for status, n in sorted(counts.items())] or ["nothing waiting"]
        when = sent_at.get((platform, queue))
        took = f", last delivered {when:%d %b %H:%M}" if when else ", nothing delivered yet"
        lines.append(f"Queue {shown} ({platform}): {', '.join(parts)}{took}")
    return lines


def mailbox_health(store: Store) -> list[str]:
    """The mailbox's last poll: when, and what went wrong if it did."""
    state = store.get_setting(CURSOR)
    if not state or "checked_at" not in state:
        return []
    if state.get("ok"):
        last = state.get("last_uid", 0)
        return [f"Mailbox: read at {state['checked_at'][:19]} UTC, last UID {last}."]
    since = state.get("ok_at", "never")
    return [f"Mailbox: FAILING (last read OK: {str(since)[:19]}): {state.get('error', '')}"]


def report(store: Store) -> list[str]:
    """The hand-off's health for `kmb outbox`: each queue's waiting and parked rows and when it
    last took one, the mailbox, and held mail."""
    lines = [*queue_health(store), *mailbox_health(store)]
    with store.session() as s:
        held = s.exec(
            select(func.count()).select_from(HandoffMail).where(HandoffMail.status == "held")
        ).one()
    if held:
        lines.append(f"Mail held for an admin: {held} (see `admin mail`).")
    return lines


def register(engine: Engine) -> None:
    """Add `admin handoff` and `admin mail`."""
    engine.command(
        Command(
            "admin handoff",
            handoff,
            "hand a team's enquiries to its own queue (email or LibAnswers)",
            "admin handoff <team> email <address>|libanswers <site> <queue id>|off",
            role="admin",
        )
    )
    engine.command(
        Command(
            "admin mail",
            mail,
            "mail from the library's queue that kmb held back",
            "admin mail [dismiss ID]",
            role="admin",
        )
    )
