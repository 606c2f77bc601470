"""What every table holds about a person: one rule per table, for export and for erasure.

A subject-access export and an erasure walk the same registry, table by table, so they cannot
disagree. `tests/test_personal_data.py` checks the registry against the schema: a table without
a rule, or a column that can name a person (a foreign key to `person`, a person-ish name, a JSON
column) that its rule does not account for, fails the build — so a table added later has to say
how it is exported and erased before it can ship.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, delete, or_, update
from sqlmodel import Session, col, select

from bot.messages import reply_to_dict, say
from bot.store.models import (
    Absence,
    Answer,
    AuditEntry,
    CampaignAnswer,
    CampaignRun,
    ConversationReference,
    DeskLink,
    DeskSession,
    Dialog,
    Enquiry,
    EnquiryMessage,
    HandoffMail,
    InboxItem,
    Lesson,
    Membership,
    OutboxMessage,
    Person,
    Project,
    Prompt,
)

ERASED = "(deleted)"


@dataclass
class Subject:
    """One person and the ids of what is theirs, gathered once per export or erasure."""

    person_id: int
    platform: str
    external_id: str
    display_name: str
    named_prompts: list[int] = field(default_factory=list)
    anonymous_prompts: list[int] = field(default_factory=list)
    enquiries: list[int] = field(default_factory=list)  # theirs, as the requester
    texts: list[str] = field(default_factory=list)  # what they wrote that is erased with them
    conversations: list[str] = field(default_factory=list)  # ids of their private chats
    at: dt.datetime | None = None  # when the erasure runs (the store's clock)

    @property
    def prompts(self) -> list[int]:
        """Every prompt sent to them."""
        return self.named_prompts + self.anonymous_prompts

    @property
    def outbox_subjects(self) -> list[str]:
        """Outbox `subject`s that are about them: their enquiries and their prompts."""
        return [f"enquiry:{i}" for i in self.enquiries] + [f"prompt:{i}" for i in self.prompts]

    @property
    def names(self) -> list[str]:
        """How other rows may name them: display name and platform id (too short: skipped)."""
        return [n for n in {self.display_name, self.external_id} if len(n) >= 3]


def subject(s: Session, person_id: int) -> Subject | None:
    """Gather a person's ids (None when there is no such person)."""
    person = s.get(Person, person_id)
    if person is None:
        return None
    subj = Subject(person_id, person.platform, person.external_id, person.display_name)
    for p in s.exec(select(Prompt).where(Prompt.person_id == person_id)):
        assert p.id is not None
        (subj.anonymous_prompts if p.anonymous else subj.named_prompts).append(p.id)
    subj.enquiries = [
        i for i in s.exec(select(Enquiry.id).where(Enquiry.requester_id == person_id)) if i
    ]
    if subj.named_prompts:
        subj.texts += s.exec(
            select(Answer.text).where(col(Answer.prompt_id).in_(subj.named_prompts))
        ).all()
    if subj.enquiries:
        subj.texts += s.exec(
            select(Enquiry.question).where(col(Enquiry.id).in_(subj.enquiries))
        ).all()
    subj.texts = sorted({t for t in subj.texts if len(t) >= 12}, key=len, reverse=True)
    refs = s.exec(
        select(ConversationReference.data).where(ConversationReference.person_id == person_id)
    )
    subj.conversations = sorted({str(d.get("id")) for d in refs if len(str(d.get("id"))) >= 3})
    return subj


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    """How one table refers to people, what an export shows, and how erasure treats it."""

    table: str
    refers: tuple[str, ...]  # columns that can refer to a person (ids, names, JSON)
    erasure: str  # in words, for `docs/data-protection.md` and the tests' messages
    find: Callable[[Session, Subject], Rows] | None = None  # None: never about a person
    erase: Callable[[Session, Subject], None] | None = None
    key: str = ""  # the export's key (default: the table name)
    impersonal: tuple[str, ...] = ()  # JSON columns that hold no one's data, and why in docs


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _dump(rows: Iterable[Any]) -> Rows:
    """Rows as JSON-ready dicts, column by column (several times faster than model_dump)."""
    out: Rows = []
    names: list[str] | None = None
    for r in rows:
        if names is None:
            names = [c.name for c in r.__table__.columns]
        out.append({n: _plain(getattr(r, n)) for n in names})
    return out


def _in(column: Any, ids: list[int] | list[str]) -> Any:
    return col(column).in_(ids) if ids else False


# --- one function a table, where a plain delete or unlink is not enough --------------------


def _answers(s: Session, p: Subject) -> Rows:
    return _dump(s.exec(select(Answer).where(_in(Answer.prompt_id, p.prompts))))


def _erase_answers(s: Session, p: Subject) -> None:
    s.execute(delete(Answer).where(_in(Answer.prompt_id, p.named_prompts)))
    # Anonymous answers stay with the team, linked to no one.
    s.execute(
        update(Answer).where(_in(Answer.prompt_id, p.anonymous_prompts)).values(prompt_id=None)
    )


def _enquiries(s: Session, p: Subject) -> Rows:
    return _dump(s.exec(select(Enquiry).where(_in(Enquiry.id, p.enquiries))))


def _handled(s: Session, p: Subject) -> Rows:
    """Enquiries they handled as a librarian: the facts about their work, not the requester's."""
    rows = s.exec(select(Enquiry).where(Enquiry.assignee_id == p.person_id))
    keep = ("id", "reference", "status", "claimed_at", "closed_at", "minutes_spent", "read_level")
    return [{k: v for k, v in r.model_dump(mode="json").items() if k in keep} for r in rows]


def _erase_enquiries(s: Session, p: Subject) -> None:
    s.execute(delete(Enquiry).where(_in(Enquiry.id, p.enquiries)))
    s.execute(
        update(Enquiry).where(col(Enquiry.assignee_id) == p.person_id).values(assignee_id=None)
    )


def _messages(s: Session, p: Subject) -> Rows:
    """Every message on their enquiries (librarians' internal notes too), and what they wrote."""
    return _dump(
        s.exec(
            select(EnquiryMessage)
            .where(
                or_(
                    col(EnquiryMessage.author_id) == p.person_id,
                    _in(EnquiryMessage.enquiry_id, p.enquiries),
                )
            )
            .order_by(col(EnquiryMessage.id))
        )
    )


def _erase_messages(s: Session, p: Subject) -> None:
    s.execute(delete(EnquiryMessage).where(_in(EnquiryMessage.enquiry_id, p.enquiries)))
    # On other people's enquiries the history stays, without them ("Claimed by …" too).
    rows = s.exec(select(EnquiryMessage).where(EnquiryMessage.author_id == p.person_id)).all()
    for row in rows:
        row.author_id = None
        row.text = scrub_text(row.text, p)
        s.add(row)


def _projects(s: Session, p: Subject) -> Rows:
    mine = select(Membership.project_id).where(Membership.person_id == p.person_id)
    return _dump(
        s.exec(
            select(Project).where(
                or_(col(Project.lead_id) == p.person_id, col(Project.id).in_(mine))
            )
        )
    )


def _audit(s: Session, p: Subject) -> Rows:
    return _dump(
        s.exec(
            select(AuditEntry)
            .where(
                or_(
                    col(AuditEntry.actor_id) == p.person_id,
                    col(AuditEntry.subject_id) == p.person_id,
                )
            )
            .order_by(col(AuditEntry.id))
        )
    )


def _erase_audit(s: Session, p: Subject) -> None:
    # Who did what stays accountable in aggregate; the link to the erased person goes.
    for column in ("actor_id", "subject_id"):
        s.execute(
            update(AuditEntry)
            .where(getattr(AuditEntry, column) == p.person_id)
            .values({column: None})
        )


def _outbox_query(p: Subject) -> Any:
    about = [
        col(OutboxMessage.person_id) == p.person_id,
        _in(OutboxMessage.subject, p.outbox_subjects),
    ]
    for name in p.names:
        needle = json.dumps(name)[1:-1]  # as the JSON column stores it
        about.append(cast(OutboxMessage.payload, String).contains(needle, autoescape=True))
        about.append(cast(OutboxMessage.conversation, String).contains(needle, autoescape=True))
    return select(OutboxMessage).where(or_(*about)).order_by(col(OutboxMessage.id))


def _mentions(row: OutboxMessage, p: Subject) -> bool:
    blob = json.dumps([row.payload, row.conversation], ensure_ascii=False)
    return any(_word(n).search(blob) for n in p.names)


def _to_or_about(row: OutboxMessage, p: Subject) -> bool:
    return row.person_id == p.person_id or row.subject in p.outbox_subjects


def _outbox(s: Session, p: Subject) -> Rows:
    rows = s.exec(_outbox_query(p)).all()
    return _dump(r for r in rows if _to_or_about(r, p) or _mentions(r, p))


def _erase_outbox(s: Session, p: Subject) -> None:
    for row in s.exec(_outbox_query(p)).all():
        if _to_or_about(row, p):
            posted = row.kind == "post" and row.message_id and row.status == "sent"
            if posted and row.person_id != p.person_id and row.subject.startswith("enquiry:"):
                # The copy in the library's channel (or a librarian's chat) is replaced too.
                s.add(
                    OutboxMessage(
                        dedupe_key=f"erased:{row.id}",
                        kind="update",
                        platform=row.platform,
                        conversation=row.conversation,
                        payload=reply_to_dict(
                            say("This enquiry was deleted at the requester's request.")
                        ),
                        due_at=p.at or row.created_at,
                        created_at=p.at or row.created_at,
                        target_id=row.message_id,
                    )
                )
            s.delete(row)
        elif _mentions(row, p):  # a digest or a card about someone else's work names them
            row.payload = scrub_json(row.payload, p)
            row.conversation = scrub_json(row.conversation, p)
            s.add(row)


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")


def scrub_text(text: str, p: Subject) -> str:
    """Their name, platform id and erased writing, taken out of someone else's text."""
    for t in p.texts:
        text = text.replace(t, ERASED)
    for n in p.names:
        text = _word(n).sub(ERASED, text)
    return text


def scrub_json(value: Any, p: Subject) -> Any:
    """`scrub_text` over every string in a JSON value."""
    if isinstance(value, str):
        return scrub_text(value, p)
    if isinstance(value, list):
        return [scrub_json(v, p) for v in value]
    if isinstance(value, dict):
        return {k: scrub_json(v, p) for k, v in value.items()}
    return value


def _refs_query(p: Subject) -> Any:
    """References to them: linked by id, keyed by their platform id (a Teams member), or
    holding their name or one of their private chats' ids (a Teams conversation)."""
    ref = ConversationReference
    about = [
        col(ref.person_id) == p.person_id,
        col(ref.key).endswith(f":{p.external_id}"),
    ]
    for needle in [*p.names, *p.conversations]:
        about.append(cast(ref.data, String).contains(json.dumps(needle)[1:-1], autoescape=True))
    return select(ref).where(ref.platform == p.platform, or_(*about)).order_by(col(ref.id))


def _theirs(row: ConversationReference, p: Subject) -> bool:
    blob = json.dumps(row.data, ensure_ascii=False)
    return (
        row.person_id == p.person_id
        or row.key.endswith(f":{p.external_id}")
        or any(c in blob for c in p.conversations)
    )


def _refs(s: Session, p: Subject) -> Rows:
    rows = s.exec(_refs_query(p)).all()
    names = [_word(n) for n in p.names]
    return _dump(r for r in rows if _theirs(r, p) or any(n.search(str(r.data)) for n in names))


def _erase_refs(s: Session, p: Subject) -> None:
    for row in s.exec(_refs_query(p)).all():
        if _theirs(row, p):
            s.delete(row)
        else:  # a channel or group chat whose stored details name them
            row.data = scrub_json(row.data, p)
            s.add(row)


def _inbox_query(p: Subject) -> Any:
    """Inbound events that came from them or name them (the platform's raw payload)."""
    about = [
        cast(InboxItem.payload, String).contains(json.dumps(n)[1:-1], autoescape=True)
        for n in p.names
    ]
    return (
        select(InboxItem)
        .where(InboxItem.platform == p.platform, or_(*about) if about else False)
        .order_by(col(InboxItem.id))
    )


def _inbox_rows(s: Session, p: Subject) -> list[InboxItem]:
    names = [_word(n) for n in p.names]
    return [
        r
        for r in s.exec(_inbox_query(p)).all()
        if any(n.search(json.dumps(r.payload, ensure_ascii=False)) for n in names)
    ]


def _inbox(s: Session, p: Subject) -> Rows:
    return _dump(_inbox_rows(s, p))


def _erase_inbox(s: Session, p: Subject) -> None:
    for row in _inbox_rows(s, p):
        s.delete(row)


def _by(model: Any, column: str) -> tuple[Callable[..., Rows], Callable[..., None]]:
    """Rows whose `column` is the person: exported as they are, deleted on erasure."""
    c = getattr(model, column)

    def find(s: Session, p: Subject) -> Rows:
        return _dump(s.exec(select(model).where(c == p.person_id)))

    def erase(s: Session, p: Subject) -> None:
        s.execute(delete(model).where(c == p.person_id))

    return find, erase


def _unlinked(model: Any, column: str) -> tuple[Callable[..., Rows], Callable[..., None]]:
    """Rows whose `column` is the person: exported; on erasure the link is cut, the row stays."""
    c = getattr(model, column)

    def find(s: Session, p: Subject) -> Rows:
        return _dump(s.exec(select(model).where(c == p.person_id)))

    def erase(s: Session, p: Subject) -> None:
        s.execute(update(model).where(c == p.person_id).values({column: None}))

    return find, erase


def _campaign_runs(s: Session, p: Subject) -> Rows:
    return _unlinked(CampaignRun, "started_by")[0](s, p)


def _their_mail_query(p: Subject) -> Any:
    """Mail to and from a library's own queue about the enquiries they asked."""
    theirs = select(Enquiry.id).where(Enquiry.requester_id == p.person_id)
    return select(HandoffMail).where(col(HandoffMail.enquiry_id).in_(theirs))


def _mail(s: Session, p: Subject) -> Rows:
    return _dump(s.exec(_their_mail_query(p).order_by(col(HandoffMail.id))))


def _erase_mail(s: Session, p: Subject) -> None:
    theirs = select(Enquiry.id).where(Enquiry.requester_id == p.person_id)
    s.execute(delete(HandoffMail).where(col(HandoffMail.enquiry_id).in_(theirs)))


# Erasure runs in this order: copies (outbox) and dependants first, the person row last.
RULES: tuple[Rule, ...] = (
    Rule(
        "outbox",
        ("person_id", "subject", "conversation", "payload"),
        "deleted when sent to them or about their enquiries and prompts (a copy already posted "
        "in a channel is replaced by a notice); elsewhere their name and erased words are "
        "replaced by “(deleted)”",
        _outbox,
        _erase_outbox,
    ),
    Rule(
        "audit_log",
        ("actor_id", "subject_id"),
        "kept, with the link to them (as actor or subject) cut",
        _audit,
        _erase_audit,
        impersonal=("detail",),
    ),
    Rule(
        "answer",
        ("prompt_id",),
        "named answers deleted; anonymous answers kept, unlinked from the prompt",
        _answers,
        _erase_answers,
        key="answers",
    ),
    Rule("lesson", ("author_id",), "deleted", *_by(Lesson, "author_id"), key="lessons"),
    Rule(
        "enquiry_message",
        ("author_id", "text"),
        "deleted on their enquiries; on others' kept with the author link cut and their name "
        "replaced by “(deleted)”",
        _messages,
        _erase_messages,
        key="enquiry_messages",
    ),
    Rule(
        "handoff_mail",
        ("enquiry_id", "text", "subject", "address"),
        "mail about their enquiries (to and from the library's own queue) deleted",
        _mail,
        _erase_mail,
        key="library_queue_mail",
    ),
    Rule(
        "enquiry_handoff",
        (),
        "holds no personal data (the queue's address and ticket number); removed with the enquiry",
    ),
    Rule(
        "enquiry",
        ("requester_id", "assignee_id", "requester_role", "requester_team", "organisation"),
        "their enquiries deleted; enquiries they handled kept with the assignee link cut",
        _enquiries,
        _erase_enquiries,
        key="enquiries",
    ),
    Rule("prompt", ("person_id",), "deleted", *_by(Prompt, "person_id"), key="prompts"),
    Rule(
        "membership", ("person_id",), "deleted", *_by(Membership, "person_id"), key="memberships"
    ),
    Rule(
        "project",
        ("lead_id",),
        "kept (the team's), with the lead link cut",
        _projects,
        _unlinked(Project, "lead_id")[1],
        key="projects",
        impersonal=("channel",),
    ),
    Rule("dialog", ("person_id", "state"), "deleted", *_by(Dialog, "person_id"), key="drafts"),
    Rule(
        "conversation_reference",
        ("person_id", "key", "data"),
        "deleted when it is theirs (their private chat, their Teams member record); in a "
        "channel's or group chat's details their name is replaced by “(deleted)”",
        _refs,
        _erase_refs,
        key="conversation_references",
    ),
    Rule("absence", ("person_id",), "deleted", *_by(Absence, "person_id"), key="absences"),
    Rule(
        "campaign_answer",
        ("person_id",),
        "deleted",
        *_by(CampaignAnswer, "person_id"),
        key="campaign_answers",
    ),
    Rule(
        "campaign_run",
        ("started_by",),
        "kept (the channel's), with the link to who started it cut",
        _campaign_runs,
        _unlinked(CampaignRun, "started_by")[1],
        key="campaign_runs",
        impersonal=("conversation",),
    ),
    Rule(
        "inbox",
        ("key", "payload"),
        "events they sent, or that name them, deleted (handled ones hold no payload)",
        _inbox,
        _erase_inbox,
        key="inbound_events",
    ),
    Rule("desk_link", ("person_id",), "deleted", *_by(DeskLink, "person_id"), key="desk_links"),
    Rule(
        "desk_session",
        ("person_id",),
        "deleted",
        *_by(DeskSession, "person_id"),
        key="desk_sessions",
    ),
    Rule("occasion", (), "holds no personal data"),
    Rule("processed_event", (), "holds no personal data (platform event ids only)"),
    Rule("setting", (), "holds no personal data", impersonal=("value",)),
    Rule("lease", (), "holds no personal data"),
    Rule(
        "person",
        ("id", "external_id", "display_name", "profile"),
        "deleted",
        *_by(Person, "id"),
        key="person",
    ),
)
BY_TABLE = {r.table: r for r in RULES}


def export(s: Session, person_id: int) -> dict[str, Any] | None:
    """Every row about one person, by table (None when there is no such person)."""
    p = subject(s, person_id)
    if p is None:
        return None
    data: dict[str, Any] = {}
    for rule in reversed(RULES):  # the person first
        if rule.find is None:
            continue
        rows = rule.find(s, p)
        data[rule.key or rule.table] = rows[0] if rule.table == "person" else rows
        if rule.table == "enquiry":
            data["enquiries_handled"] = _handled(s, p)
    return data


def erase(s: Session, person_id: int, at: dt.datetime) -> dict[str, int] | None:
    """Erase one person in the caller's transaction: how many rows of each table were about
    them (deleted, unlinked or scrubbed); None when there is no such person."""
    p = subject(s, person_id)
    if p is None:
        return None
    p.at = at
    counts: dict[str, int] = {}
    for rule in RULES:
        if rule.erase is None or rule.find is None:
            continue
        found = len(rule.find(s, p))
        if rule.table == "enquiry":
            found += len(_handled(s, p))
        rule.erase(s, p)
        s.flush()
        if found:
            counts[rule.table] = found
    return counts
